import Glibc
import SvSystem
import SvtreeDaemon

Diagnostics.program = "svtree"
let options: SvtreeOptions
do {
    options = try SvtreeOptions.parse(Array(CommandLine.arguments.dropFirst()))
} catch {
    Diagnostics.error(error.description)
    exit(error.exitCode)
}
if options.help {
    print(SvtreeOptions.usage)
    print("Supervises every service directory in DIR (runit's layout); see doc/svtree.8.md.")
    exit(0)
}
// The notifier lives as long as the loop; without NOTIFY_SOCKET it sends nothing.
let notifier = options.notify ? SystemdNotifier() : nil
exit(SvtreeMain.run(directory: options.directory, observer: notifier))

import Glibc
import SvSystem
import SvtreeDaemon

let usage = "usage: svtree [--notify] DIR"
var directory: String?
var notify = false
for argument in CommandLine.arguments.dropFirst() {
    switch argument {
    case "-h", "--help":
        print(usage)
        print("Supervises every service directory in DIR (runit's layout); see doc/svtree.8.md.")
        exit(0)
    case "--notify":
        notify = true
    default:
        if argument.hasPrefix("-") || directory != nil {
            Diagnostics.error("unexpected argument \"\(argument)\"; \(usage)")
            exit(100)
        }
        directory = argument
    }
}
guard let directory else {
    Diagnostics.error(usage)
    exit(100)
}
// The notifier lives as long as the loop; without NOTIFY_SOCKET it sends nothing.
let notifier = notify ? SystemdNotifier() : nil
exit(SvtreeMain.run(directory: directory, observer: notifier))

import Glibc
import SvSystem
import SvlogDaemon

Diagnostics.program = "svlog"
if CommandLine.arguments.dropFirst().contains(where: { $0 == "-h" || $0 == "--help" }) {
    print(LogOptions.usage)
    print("svlogd-compatible logger: stdin lines to rotated log directories; see doc/svlog.8.md.")
    exit(0)
}
do {
    exit(SvlogMain.run(options: try LogOptions.parse(Array(CommandLine.arguments.dropFirst()))))
} catch {
    Diagnostics.error(error.description)
    exit(111)
}

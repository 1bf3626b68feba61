import Glibc
import SvtreeCore

let usage = "usage: svtree [--notify] DIR"
var directory: String?
for argument in CommandLine.arguments.dropFirst() {
    switch argument {
    case "-h", "--help":
        print(usage)
        print("Supervises every service directory in DIR (runit's layout); see README.md.")
        exit(0)
    case "--notify":
        // Accepted so units written for it start; the notifications themselves are not built in yet.
        Diagnostics.warn("--notify: systemd notification is not built in yet: ignored")
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
exit(SvtreeMain.run(directory: directory))

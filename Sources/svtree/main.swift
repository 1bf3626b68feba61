import Glibc
import SvtreeCore

let usage = "usage: svtree [--notify] DIR"
var arguments = Array(CommandLine.arguments.dropFirst())
var directory: String?
for argument in arguments {
    switch argument {
    case "-h", "--help":
        print(usage)
        print("Supervises every service directory in DIR (runit's layout); see README.md.")
        exit(0)
    case "--notify":
        break  // systemd notification: accepted; sent only when NOTIFY_SOCKET is set.
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

import Glibc
import SvtreeCore

exit(Snapwatch.main(arguments: Array(CommandLine.arguments.dropFirst())))

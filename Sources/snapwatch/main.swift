import Glibc
import SnapwatchDaemon

exit(Snapwatch.main(arguments: Array(CommandLine.arguments.dropFirst())))

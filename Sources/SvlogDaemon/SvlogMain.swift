import CSupport
import Glibc
import SvSystem

/// Process-wide set-up of a logger, then its loop.
public enum SvlogMain {
    public static func run(options: LogOptions) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        _ = sv_cloexec_from(3)
        do {
            return try Logger(options: options).run()
        } catch {
            Diagnostics.error("cannot start: \(error)")
            return 111
        }
    }
}

import CSupport
import Glibc
import SvSystem

/// Process-wide set-up of a logger, then its loop.
public enum SvlogMain {
    public static func run(options: LogOptions) -> Int32 {
        signal(SIGPIPE, SIG_IGN)
        _ = sv_cloexec_from(3)
        let logger: Logger
        do {
            logger = try Logger(options: options)
        } catch {
            Diagnostics.error(LogError.cannotStart("\(error)").description)
            return 111
        }
        return logger.run()
    }
}

import CSupport
import Glibc
import SvSystem

/// Process-wide set-up of a supervisor, then its loop.
public enum SvtreeMain {
    public static func run(directory: String, observer: SupervisorObserver? = nil) -> Int32 {
        Diagnostics.program = "svtree"
        signal(SIGPIPE, SIG_IGN)
        _ = sv_cloexec_from(3)
        if sv_raise_nofile_limit() < 0 {
            Diagnostics.warn("cannot raise RLIMIT_NOFILE (\(FileSystem.lastErrno)): the descriptor limit stays as it is")
        }
        if sv_set_child_subreaper() != 0 {
            Diagnostics.warn("cannot become a child subreaper (\(FileSystem.lastErrno)): double-forked processes escape")
        }
        // Paths are made absolute so that entries and markers are the same wherever svtree started.
        let absolute = FileSystem.realPath(directory) ?? directory
        do {
            let supervisor = try Supervisor(directory: absolute)
            supervisor.observer = observer
            return supervisor.run()
        } catch {
            let failure = SvtreeError.cannotStart("the event loop: \(error)")
            Diagnostics.error(failure.description)
            return failure.exitCode
        }
    }
}

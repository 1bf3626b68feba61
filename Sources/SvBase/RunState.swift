/// runsv's states and wanted states, as `supervise/status` stores them: the supervision
/// machine decides them, the status format writes them, svctl reads them.
public enum RunState: UInt8, Sendable { case down = 0, run = 1, finish = 2 }

/// What the supervisor was told to keep the service at (`exit`: stop and release it).
public enum WantedState: Sendable { case up, down, exit }

import Glibc
import SvBase
import SvSupervision
import SvSystem

/// What each epoll token of the supervisor's loop stands for, beyond the fixed ones (signals,
/// timer, the directory watch): a `supervise/control` FIFO, or a notification pipe.
struct LoopTokens {
    enum Owner {
        case control(FileSystem.Identity, EntryMachine.Role)
        case readiness(ReadinessPipe)
    }

    struct ReadinessPipe {
        var identity: FileSystem.Identity
        var role: EntryMachine.Role
        var pid: Int32
        var fd: Int32
    }

    private var owners: [UInt64: Owner] = [:]
    private var next: UInt64

    init(first: UInt64) { next = first }

    /// A token never used before in this process (a stale event cannot reach a new owner).
    mutating func allocate() -> UInt64 {
        defer { next += 1 }
        return next
    }

    subscript(token: UInt64) -> Owner? {
        get { owners[token] }
        set { owners[token] = newValue }
    }

    mutating func remove(_ token: UInt64) -> Owner? { owners.removeValue(forKey: token) }
}

/// The processes the supervisor started and is waiting for, and the exits reaped but not yet
/// handled: SIGCHLD reaps at once, the machines hear of it between actions.
struct ChildTable {
    enum Owner {
        case run(FileSystem.Identity, EntryMachine.Role)
        case finish(FileSystem.Identity, EntryMachine.Role)
        case control(FileSystem.Identity, EntryMachine.Role, ControlLetter)
    }

    private var owners: [Int32: Owner] = [:]
    private var exited: [(pid: Int32, status: Int32)] = []

    mutating func add(_ pid: Int32, _ owner: Owner) { owners[pid] = owner }

    /// Whether `pid` is one of ours (a run, finish or control script), not an adopted orphan.
    func owns(_ pid: Int32) -> Bool { owners[pid] != nil }

    /// Reaps every child that has exited; adopted orphans are reaped and forgotten.
    mutating func reap() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            if owners[pid] != nil { exited.append((pid, status)) }
        }
    }

    /// The next reaped exit, oldest first, with its owner.
    mutating func nextExit() -> (pid: Int32, owner: Owner, status: ExitStatus)? {
        while !exited.isEmpty {
            let (pid, raw) = exited.removeFirst()
            if let owner = owners.removeValue(forKey: pid) { return (pid, owner, ExitStatus(waitStatus: raw)) }
        }
        return nil
    }

    /// At exit, after the last sweep: nothing more will be handled.
    mutating func forgetExits() { exited.removeAll() }
}

/// Problems the supervisor says once, until they clear: a line per problem, not per scan.
struct ReportOnce<Key: Hashable> {
    private var said: Set<Key> = []

    /// Runs `report` unless `key` was said already.
    mutating func say(_ key: Key, _ report: () -> Void) {
        if said.insert(key).inserted { report() }
    }

    /// The problem is over; true if it had been said.
    @discardableResult
    mutating func clear(_ key: Key) -> Bool { said.remove(key) != nil }

    func contains(_ key: Key) -> Bool { said.contains(key) }

    mutating func clearAll() { said.removeAll() }
}

import Glibc
import SvBase

/// snapwatch's decisions, without a process or a file: snapshots found, hook runs ending,
/// timers and SIGTERM go in; what to run, save, signal and when to wake come out.
///
/// Delivery is at least once: an id leaves `pending` only when a hook run that got it exits 0.
/// An id first seen in a listing may have been a file still being written in place (rclone
/// writes snapshots that way), so a later close event for it delivers it again.
public struct SnapshotQueue: Sendable {
    public struct Settings: Sendable {
        public var hookTimeout: Int64
        public var retryInitial: Int64
        public var retryMaximum: Int64
        public var termGrace: Int64
        public var killGrace: Int64
        public var batchLimit: Int

        public init(hookTimeout: Int64 = 3600 * nanosPerSecond, retryInitial: Int64 = nanosPerSecond,
                    retryMaximum: Int64 = 300 * nanosPerSecond, termGrace: Int64 = 4 * nanosPerSecond,
                    killGrace: Int64 = 2 * nanosPerSecond, batchLimit: Int = 1000) {
            self.hookTimeout = hookTimeout
            self.retryInitial = retryInitial
            self.retryMaximum = retryMaximum
            self.termGrace = termGrace
            self.killGrace = killGrace
            self.batchLimit = batchLimit
        }
    }

    public enum Action: Sendable, Equatable {
        case runHook([String])
        /// Signal the running hook's process group.
        case signalHook(Int32)
        case saveState
        case exit(Int32)
    }

    public let settings: Settings
    public private(set) var delivered: Set<String>
    /// Delivered from a listing only: a close event re-delivers.
    private var unconfirmed: Set<String> = []
    public private(set) var pending: [String] = []
    private var pendingSet: Set<String> = []
    public private(set) var running: [String]?
    public private(set) var failures = 0
    private var retryAt: Int64?
    private var hookDeadline: Int64?
    private var killAt: Int64?
    public private(set) var stopping = false
    private var stopDeadline: Int64?

    public init(delivered: Set<String>, settings: Settings = .init()) {
        self.delivered = delivered
        self.settings = settings
    }

    /// The monotonic time the loop must wake at, if any (nil: sleep until an event).
    public var deadline: Int64? {
        [retryAt, hookDeadline, killAt, stopDeadline].compactMap { $0 }.min()
    }

    /// ids in the order found; `fromEvent` for close-write / moved-to, false for a listing.
    /// `writtenInPlace` (close-write) may complete a file a listing saw half-written; a rename
    /// (moved-to) puts a whole file in place, so it confirms without delivering again.
    public mutating func found(_ ids: [String], fromEvent: Bool, writtenInPlace: Bool = true, now: Int64) -> [Action] {
        for id in ids {
            let again = fromEvent && unconfirmed.remove(id) != nil && writtenInPlace
            // A close event for an id seen only in a listing (or running from one) is the
            // complete file: deliver it again; anything else already queued or done is skipped.
            if pendingSet.contains(id) { continue }
            if !again && (delivered.contains(id) || running?.contains(id) == true) { continue }
            if !fromEvent && !delivered.contains(id) { unconfirmed.insert(id) }
            pending.append(id)
            pendingSet.insert(id)
        }
        return startIfIdle(now: now)
    }

    /// A full listing: forget delivered ids whose file is gone (a forgotten snapshot never
    /// comes back: its id is the hash of its content), then queue the new ones.
    public mutating func listed(_ ids: [String], now: Int64) -> [Action] {
        let present = Set(ids)
        let before = delivered.count
        delivered.formIntersection(present)
        var actions = found(ids, fromEvent: false, now: now)
        if delivered.count != before { actions.append(.saveState) }
        return actions
    }

    public mutating func hookExited(_ status: ExitStatus, now: Int64) -> [Action] {
        guard let batch = running else { return [] }
        running = nil
        hookDeadline = nil
        killAt = nil
        var actions: [Action] = []
        if status == .exited(0) {
            failures = 0
            for id in batch { delivered.insert(id) }
            actions.append(.saveState)
        } else {
            failures += 1
            // Back in front, in order, ahead of anything found meanwhile.
            let retry = batch.filter { !pendingSet.contains($0) }
            pending = retry + pending
            pendingSet.formUnion(retry)
            retryAt = now + retryDelay
            actions.append(.saveState)
        }
        if stopping { return actions + [.exit(0)] }
        return actions + startIfIdle(now: now)
    }

    /// The loop's timer fired: retry, hook timeout, or the end of a grace period.
    public mutating func timer(now: Int64) -> [Action] {
        var actions: [Action] = []
        if let at = retryAt, now >= at {
            retryAt = nil
            actions += startIfIdle(now: now)
        }
        if running != nil {
            if let at = killAt, now >= at {
                killAt = nil
                actions.append(.signalHook(SIGKILL))
            } else if let at = [hookDeadline, stopDeadline].compactMap({ $0 }).min(), now >= at, killAt == nil {
                hookDeadline = nil
                stopDeadline = nil
                killAt = now + settings.killGrace
                actions.append(.signalHook(SIGTERM))
            }
        }
        return actions
    }

    /// SIGTERM: let a running hook finish within the grace, else end it; then exit 0.
    public mutating func terminate(now: Int64) -> [Action] {
        guard !stopping else { return [] }
        stopping = true
        retryAt = nil
        guard running != nil else { return [.saveState, .exit(0)] }
        stopDeadline = now + settings.termGrace
        return []
    }

    public var waiting: Int { pending.count + (running?.count ?? 0) }

    /// The wait before the next attempt after `failures` failed runs in a row.
    public var retryDelay: Int64 {
        failures == 0 ? 0 : min(settings.retryMaximum, settings.retryInitial << min(failures - 1, 30))
    }

    private mutating func startIfIdle(now: Int64) -> [Action] {
        guard running == nil, !stopping, retryAt == nil, !pending.isEmpty else { return [] }
        let batch = Array(pending.prefix(settings.batchLimit))
        pending.removeFirst(batch.count)
        pendingSet.subtract(batch)
        running = batch
        hookDeadline = now + settings.hookTimeout
        return [.runHook(batch)]
    }
}


import CSupport
import Glibc
import SvBase
import SystemPackage

/// epoll over a signalfd, one timerfd and any descriptors registered with a token.
///
/// Single-threaded; it blocks in `epoll_wait` with no timeout, so an idle loop never wakes.
public final class EventLoop {
    public static let signalToken: UInt64 = 1
    public static let timerToken: UInt64 = 2
    public static let firstFreeToken: UInt64 = 16

    private let epollFD: Int32
    private let signalFD: Int32
    private let timerFD: Int32
    private var armedDeadline: Int64 = 0

    /// Blocks `signals` for the process and delivers them through the loop instead.
    public init(signals: [Int32]) throws(Errno) {
        var mask = sigset_t()
        sigemptyset(&mask)
        for sig in signals {
            // An inherited SIG_IGN would discard the signal before signalfd could read it.
            signal(sig, SIG_DFL)
            sigaddset(&mask, sig)
        }
        guard sigprocmask(SIG_BLOCK, &mask, nil) == 0 else { throw FileSystem.lastErrno }
        epollFD = sv_epoll_create()
        guard epollFD >= 0 else { throw FileSystem.lastErrno }
        signalFD = sv_signalfd(&mask)
        guard signalFD >= 0 else { throw FileSystem.lastErrno }
        timerFD = sv_timerfd_create()
        guard timerFD >= 0 else { throw FileSystem.lastErrno }
        try add(signalFD, token: EventLoop.signalToken)
        try add(timerFD, token: EventLoop.timerToken)
    }

    /// Level-triggered: a pipe a blocked writer filled gives no edge, so edges are not used.
    public func add(_ fd: Int32, token: UInt64) throws(Errno) {
        guard sv_epoll_add(epollFD, fd, sv_epollin(), token) == 0 else { throw FileSystem.lastErrno }
    }

    /// Whether a registered descriptor is reported while readable (the default), or not at
    /// all for now.
    public enum Trigger: Sendable { case level, off }

    /// `.off` takes the descriptor out of the set: epoll reports a hang-up (EPOLLHUP) whatever
    /// the mask, so a mask of 0 on a pipe whose writers are gone woke the loop at once, forever.
    public func setTrigger(_ fd: Int32, token: UInt64, _ trigger: Trigger) {
        switch trigger {
        case .off: _ = sv_epoll_del(epollFD, fd)
        case .level:
            if sv_epoll_mod(epollFD, fd, sv_epollin(), token) != 0 { _ = sv_epoll_add(epollFD, fd, sv_epollin(), token) }
        }
    }

    public func remove(_ fd: Int32) {
        _ = sv_epoll_del(epollFD, fd)
    }

    /// Arms the timer at a monotonic deadline, or disarms it with nil; no syscall if unchanged.
    public func setDeadline(_ deadline: Int64?) {
        let wanted = deadline.map { max($0, 1) } ?? 0
        guard wanted != armedDeadline else { return }
        armedDeadline = wanted
        _ = sv_timerfd_set(timerFD, wanted)
    }

    /// Pending signals, read after the signal token fired.
    public func pendingSignals() -> [Int32] {
        // One read takes every pending signal (standard signals do not queue: one each at
        // most); a second read only when the first filled its buffer.
        var signals: [Int32] = []
        withUnsafeTemporaryAllocation(of: Int32.self, capacity: 8) { batch in
            while true {
                let n = Int(sv_signalfd_read(signalFD, batch.baseAddress!, Int32(batch.count)))
                guard n > 0 else { return }
                signals.append(contentsOf: batch.prefix(n))
                if n < batch.count { return }
            }
        }
        return signals
    }

    public func acknowledgeTimer() {
        sv_timerfd_drain(timerFD)
        armedDeadline = 0
    }

    /// Waits for readiness; returns the tokens that fired.
    public func wait() -> [UInt64] { waitEvents().map(\.token) }

    /// Waits for readiness; returns the tokens that fired and whether the peer hung up.
    public func waitEvents() -> [(token: UInt64, hangUp: Bool)] {
        var tokens = [UInt64](repeating: 0, count: 64)
        var events = [UInt32](repeating: 0, count: 64)
        do {
            let n = try SystemCall.retrying { sv_epoll_wait(epollFD, &tokens, &events, 64, -1) }
            return (0..<Int(n)).map { (tokens[$0], events[$0] & sv_epollhup() != 0) }
        } catch {
            // The loop's own descriptor is broken: going round again would spin forever.
            // Exiting lets the supervisor above (or systemd) start a fresh process.
            Diagnostics.error("epoll_wait: \(error): the event loop cannot go on")
            exit(111)
        }
    }

    public static var now: Int64 { sv_monotonic_ns() }
    public static var wallNow: WallTime { WallTime(unixNanos: sv_realtime_ns()) }

    /// The wall-clock time of an instant `monotonic` of this clock's (in the past, usually).
    public static func wallTime(ofMonotonic monotonic: Int64) -> WallTime { wallNow - (now - monotonic) }
}

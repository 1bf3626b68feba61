import CSupport
import Glibc
import SvBase
import SystemPackage

/// One timer on the wall clock for a supervisor's jobs, armed at the earliest due time. It
/// also fires when the clock is set (an NTP step, settimeofday: TFD_TIMER_CANCEL_ON_SET), so
/// due times are looked at again instead of firing an hour late.
public final class WallClockTimer {
    public let fd: Int32
    private var armed: WallTime?

    public init() throws(Errno) {
        fd = try SystemCall.retrying { sv_timerfd_create_realtime() }
    }

    /// Arms at `time`, or disarms with nil; no system call when nothing changes.
    public func arm(_ time: WallTime?) {
        guard time != armed else { return }
        armed = time
        _ = sv_timerfd_set_realtime(fd, time.map { max($0.unixNanos, 1) } ?? 0)
    }

    /// After the descriptor fired: true when the clock was set rather than the time reached.
    public func acknowledge() -> Bool {
        armed = nil
        return sv_timerfd_read(fd) == ECANCELED
    }

    deinit { close(fd) }
}

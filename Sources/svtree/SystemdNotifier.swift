import CSystemd
import Glibc
import SvtreeCore

/// sd_notify for a Type=notify unit: READY, STATUS, RELOADING with MONOTONIC_USEC, STOPPING,
/// and WATCHDOG pings at half the unit's WatchdogSec. Without NOTIFY_SOCKET nothing is sent.
final class SystemdNotifier: SupervisorObserver {
    private var lastStatus = ""
    let watchdogInterval: Int64?

    init() {
        var usec: UInt64 = 0
        watchdogInterval = sd_watchdog_enabled(0, &usec) > 0 && usec > 0 ? Int64(usec) * 1000 / 2 : nil
    }

    private func send(_ message: String) {
        _ = sd_notify(0, message)
    }

    func ready() { send("READY=1") }

    func status(_ summary: String) {
        guard summary != lastStatus else { return }
        lastStatus = summary
        send("STATUS=" + summary)
    }

    func reloading() {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let usec = Int64(now.tv_sec) * 1_000_000 + Int64(now.tv_nsec) / 1000
        send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    func stopping() { send("STOPPING=1") }

    func watchdog() { send("WATCHDOG=1") }
}

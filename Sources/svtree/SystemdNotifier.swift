import CSystemd
import Glibc
import SvSystem
import SvtreeDaemon

/// sd_notify for a Type=notify unit: READY, STATUS, RELOADING with MONOTONIC_USEC, STOPPING,
/// and WATCHDOG pings at half the unit's WatchdogSec. Without NOTIFY_SOCKET nothing is sent.
final class SystemdNotifier: SupervisorObserver {
    private let notify: svtree_sd_notify_fn
    private var lastStatus = ""
    let watchdogInterval: Int64?

    /// nil, with one warning, when libsystemd cannot be loaded.
    init?() {
        guard let library = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL),
              let notifySymbol = dlsym(library, "sd_notify"),
              let watchdogSymbol = dlsym(library, "sd_watchdog_enabled") else {
            Diagnostics.warn("--notify: cannot load libsystemd.so.0: systemd is told nothing")
            return nil
        }
        notify = unsafeBitCast(notifySymbol, to: svtree_sd_notify_fn.self)
        let watchdogEnabled = unsafeBitCast(watchdogSymbol, to: svtree_sd_watchdog_enabled_fn.self)
        var usec: UInt64 = 0
        watchdogInterval = watchdogEnabled(0, &usec) > 0 && usec > 0 ? Int64(usec) * 1000 / 2 : nil
    }

    private func send(_ message: String) {
        _ = notify(0, message)
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

/// Who wants to hear how the tree is doing: systemd, through `svtree --notify`.
/// The core stays free of libsystemd; the program plugs it in.
public protocol SupervisorObserver: AnyObject {
    /// Every entry found by the first scan has been started (and again after a reload).
    func ready()
    /// A one-line summary; called whenever it may have changed (the observer drops repeats).
    func status(_ summary: String)
    /// SIGHUP: a reload begins; `ready()` follows when it is done.
    func reloading()
    /// Teardown begins.
    func stopping()
    /// How often `watchdog()` must be called, if at all.
    var watchdogInterval: Int64? { get }
    func watchdog()
}

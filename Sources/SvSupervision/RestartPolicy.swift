import SvBase

/// When a service that exits is started again.
///
/// The first restart is immediate; a service that keeps dying young waits longer each
/// time (doubling from 100 ms, capped at 30 s). A run that lasted `healthyRun` resets the count.
public enum RestartPolicy {
    public static let healthyRun: Int64 = 10 * nanosPerSecond
    public static let firstDelay: Int64 = 100 * nanosPerMilli
    public static let maximumDelay: Int64 = 30 * nanosPerSecond

    /// The delay before the next start, after `quickDeaths` deaths in a row of a young service.
    public static func delay(afterQuickDeaths quickDeaths: Int) -> Int64 {
        guard quickDeaths >= 2 else { return 0 }
        let doublings = min(quickDeaths - 2, 20)
        return min(maximumDelay, firstDelay << Int64(doublings))
    }
}

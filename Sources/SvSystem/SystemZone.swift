import Glibc
import SvBase

/// The process's time zone (TZ, else /etc/localtime), as glibc reads it: where svtree's
/// jobs find local time. glibc caches the zone; svtree reads it once at start and on SIGHUP.
public struct SystemZone: TimeZoneRules {
    public init() {}

    public func offset(at unix: Int64) -> Int64 {
        var time = time_t(unix)
        var fields = tm()
        guard localtime_r(&time, &fields) != nil else { return 0 }
        return Int64(fields.tm_gmtoff)
    }
}

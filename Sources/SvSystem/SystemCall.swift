import Glibc
import SystemPackage

/// The one way the system layer makes a call that fails with -1 and errno: an interrupted
/// call (EINTR) is made again, any other failure is thrown as swift-system's `Errno`.
public enum SystemCall {
    @inlinable
    public static func retrying<Value: FixedWidthInteger>(_ call: () -> Value) throws(Errno) -> Value {
        while true {
            let result = call()
            if result != -1 { return result }
            if errno != EINTR { throw Errno(rawValue: errno) }
        }
    }

    /// The same for a call whose result is only success (0) or failure.
    @inlinable
    public static func check(_ call: () -> Int32) throws(Errno) {
        _ = try retrying(call)
    }
}

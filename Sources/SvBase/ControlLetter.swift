import Glibc

/// runit's control letters, the bytes `sv` writes to `supervise/control`: one type for the
/// machine that obeys them, the loader that finds `control/<letter>` scripts, and svctl.
public enum ControlLetter: UInt8, CaseIterable, Sendable, Hashable {
    case up = 0x75          // u
    case down = 0x64        // d
    case once = 0x6f        // o
    case exit = 0x78        // x
    case term = 0x74        // t
    case kill = 0x6b        // k
    case pause = 0x70       // p
    case cont = 0x63        // c
    case hangup = 0x68      // h
    case alarm = 0x61       // a
    case interrupt = 0x69   // i
    case quit = 0x71        // q
    case user1 = 0x31       // 1
    case user2 = 0x32       // 2

    /// The letter as written: `u`, `d`, ... (also the name of its `control/` script).
    public var character: Character { Character(UnicodeScalar(rawValue)) }

    /// The signal of the letters that only signal the running process (h a i q 1 2).
    public var plainSignal: Int32? {
        switch self {
        case .hangup: return SIGHUP
        case .alarm: return SIGALRM
        case .interrupt: return SIGINT
        case .quit: return SIGQUIT
        case .user1: return SIGUSR1
        case .user2: return SIGUSR2
        default: return nil
        }
    }
}

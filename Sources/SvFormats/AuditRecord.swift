import SvBase

/// A client's `audit-status`, written by `svctl audit` (atomically, at the end of a run) and
/// read by it at the next run (which slots each backend has had hashed) and by `svctl status`:
///
///     at UNIX_SECONDS
///     day N                      the day number the run audited (Unix days unless told)
///     cycle N                    days in a cycle: a file is hashed when its name mod N = day mod N
///     backend LOCATION           one block per backend, the primary first
///     error TEXT                 the backend could not be listed (unreachable, unknown remote)
///     files N / bytes N          what the backend holds of the primary's files, their size
///     missing N / corrupt N / unexpected N
///     hashed N / read_bytes N    this run's reading
///     first_day N                the first day this backend was audited with this cycle
///     slots D|- ...              per slot, the last day it was hashed on this backend
///     full_cycle_at UNIX_SECONDS the last run after which every slot was fresh
///     problem TEXT               the first problems, by name
public struct AuditRecord: Sendable, Equatable {
    public static let fileName = "audit-status"
    /// How many problems a backend's block names; the run's output names them all.
    public static let problemsKept = 10

    public struct Backend: Sendable, Equatable {
        public var location: String
        public var error: String?
        public var files = 0
        public var bytes: Int64 = 0
        public var missing = 0
        public var corrupt = 0
        public var unexpected = 0
        public var hashed = 0
        public var readBytes: Int64 = 0
        public var firstDay: Int64
        /// Index = slot; the last day that slot was hashed here.
        public var slotDays: [Int64?]
        public var fullCycleAt: Int64?
        public var problems: [String] = []

        public init(location: String, firstDay: Int64, cycle: Int) {
            self.location = location
            self.firstDay = firstDay
            self.slotDays = Array(repeating: nil, count: cycle)
        }

        public var problemCount: Int { missing + corrupt + unexpected + (error == nil ? 0 : 1) }

        /// Slots hashed within the last `cycle` days up to `day`: the cycle's coverage.
        public func coveredSlots(day: Int64) -> Int {
            slotDays.filter { $0.map { $0 > day - Int64(slotDays.count) } ?? false }.count
        }
    }

    public var at: Int64
    public var day: Int64
    public var cycle: Int
    public var backends: [Backend]

    public init(at: Int64, day: Int64, cycle: Int, backends: [Backend] = []) {
        self.at = at
        self.day = day
        self.cycle = cycle
        self.backends = backends
    }

    public var text: String {
        var text = "at \(at)\nday \(day)\ncycle \(cycle)\n"
        for backend in backends {
            text += "backend \(backend.location)\n"
            if let error = backend.error { text += "error \(error.onOneLine)\n" }
            text += "files \(backend.files)\nbytes \(backend.bytes)\nmissing \(backend.missing)\n"
            text += "corrupt \(backend.corrupt)\nunexpected \(backend.unexpected)\nhashed \(backend.hashed)\n"
            text += "read_bytes \(backend.readBytes)\nfirst_day \(backend.firstDay)\n"
            text += "slots " + backend.slotDays.map { $0.map(String.init) ?? "-" }.joined(separator: " ") + "\n"
            if let full = backend.fullCycleAt { text += "full_cycle_at \(full)\n" }
            for problem in backend.problems.prefix(Self.problemsKept) { text += "problem \(problem.onOneLine)\n" }
        }
        return text
    }

    /// nil when the text has no `at`, `day` and `cycle` (not an audit-status file).
    public init?(parsing text: String) {
        var at: Int64?, day: Int64?, cycle: Int?
        var backends: [Backend] = []
        for line in text.split(separator: "\n") {
            let key = line.prefix { $0 != " " }
            let value = String(line.dropFirst(key.count + 1))
            let number = Int64(value)
            if key == "backend" {
                backends.append(Backend(location: value, firstDay: day ?? 0, cycle: 0))
                continue
            }
            guard !backends.isEmpty else {
                switch key {
                case "at": at = number
                case "day": day = number
                case "cycle": cycle = number.map(Int.init)
                default: break
                }
                continue
            }
            let last = backends.count - 1
            switch key {
            case "error": backends[last].error = value
            case "files": backends[last].files = Int(number ?? 0)
            case "bytes": backends[last].bytes = number ?? 0
            case "missing": backends[last].missing = Int(number ?? 0)
            case "corrupt": backends[last].corrupt = Int(number ?? 0)
            case "unexpected": backends[last].unexpected = Int(number ?? 0)
            case "hashed": backends[last].hashed = Int(number ?? 0)
            case "read_bytes": backends[last].readBytes = number ?? 0
            case "first_day": backends[last].firstDay = number ?? 0
            case "slots": backends[last].slotDays = value.split(separator: " ").map { Int64($0) }
            case "full_cycle_at": backends[last].fullCycleAt = number
            case "problem": backends[last].problems.append(value)
            default: break
            }
        }
        guard let at, let day, let cycle, cycle > 0 else { return nil }
        self.init(at: at, day: day, cycle: cycle, backends: backends)
    }

}

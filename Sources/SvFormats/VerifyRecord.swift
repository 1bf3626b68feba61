import SvBase

/// A client's `verify-status`, written by `svctl verify` at the end of each run and read by it
/// (the next data subset) and by `svctl status`:
///
///     at UNIX_SECONDS
///     subset K N                 restic check --read-data-subset K/N this run
///     check ok | check failed TEXT | check skipped TEXT
///     snapshot ID                the snapshot the restore test used
///     backend LOCATION           one block per backend the restore ran on, the primary first
///     restored FILES BYTES       files restored and compared with the snapshot's listing
///     error TEXT                 what went wrong there (absent: every file matched)
public struct VerifyRecord: Sendable, Equatable {
    public static let fileName = "verify-status"

    public struct Backend: Sendable, Equatable {
        public var location: String
        public var files = 0
        public var bytes: Int64 = 0
        public var error: String?

        public init(location: String) { self.location = location }
    }

    public enum Check: Sendable, Equatable {
        case ok
        case failed(String)
        case skipped(String)
    }

    public var at: Int64
    public var subset: Int
    public var subsets: Int
    public var check: Check
    public var snapshot: String?
    public var backends: [Backend] = []

    public init(at: Int64, subset: Int, subsets: Int, check: Check) {
        self.at = at
        self.subset = subset
        self.subsets = subsets
        self.check = check
    }

    public var failed: Bool {
        if case .failed = check { return true }
        return backends.contains { $0.error != nil }
    }

    public var text: String {
        var text = "at \(at)\nsubset \(subset) \(subsets)\n"
        switch check {
        case .ok: text += "check ok\n"
        case .failed(let why): text += "check failed \(why.onOneLine)\n"
        case .skipped(let why): text += "check skipped \(why.onOneLine)\n"
        }
        if let snapshot { text += "snapshot \(snapshot)\n" }
        for backend in backends {
            text += "backend \(backend.location)\nrestored \(backend.files) \(backend.bytes)\n"
            if let error = backend.error { text += "error \(error.onOneLine)\n" }
        }
        return text
    }

    public init?(parsing text: String) {
        var at: Int64?, subset = 0, subsets = 0, check = Check.skipped("not recorded"), snapshot: String?
        var backends: [Backend] = []
        for line in text.split(separator: "\n") {
            let key = line.prefix { $0 != " " }
            let value = String(line.dropFirst(key.count + 1))
            let words = value.split(separator: " ")
            switch key {
            case "at": at = Int64(value)
            case "subset" where words.count == 2: subset = Int(words[0]) ?? 0; subsets = Int(words[1]) ?? 0
            case "check":
                let why = String(value.drop { $0 != " " }.dropFirst())
                check = words.first == "ok" ? .ok : words.first == "failed" ? .failed(why) : .skipped(why)
            case "snapshot": snapshot = value
            case "backend": backends.append(Backend(location: value))
            case "restored" where words.count == 2 && !backends.isEmpty:
                backends[backends.count - 1].files = Int(words[0]) ?? 0
                backends[backends.count - 1].bytes = Int64(words[1]) ?? 0
            case "error" where !backends.isEmpty: backends[backends.count - 1].error = value
            default: break
            }
        }
        guard let at else { return nil }
        self.init(at: at, subset: subset, subsets: subsets, check: check)
        self.snapshot = snapshot
        self.backends = backends
    }

}

/// `svctl alert`: one notification per change of a client's health, reminders only when
/// asked, and no flapping spam. Pure: the state and the healths seen now in, the
/// notifications to send out; a notification's client is marked announced only once its
/// hook succeeded (`announced(_:)`), so a failed one is sent again at the next call.
///
/// Flapping: a client whose health changed more than `flapChanges` times within
/// `flapWindow` is announced once as `flapping`, then stays quiet until it has held one
/// health for a whole `flapWindow`; then its health is announced as a change from flapping.
public struct AlertPolicy: Sendable, Equatable {
    public static let flapChanges = 3
    public static let flapWindow: Int64 = 3600
    public static let flapping = "flapping"

    /// Per client, in the state file: what was last announced and what has been seen.
    public struct ClientState: Sendable, Equatable {
        /// The health last announced by a hook that succeeded (`flapping` too); nil: never.
        public var announced: String?
        /// When it was announced (Unix seconds).
        public var announcedAt: Int64 = 0
        /// The health seen at the last call, and since when it has held.
        public var seen: String
        public var seenSince: Int64
        /// When the seen health changed, within the flapping window (Unix seconds).
        public var changes: [Int64] = []

        public init(announced: String? = nil, announcedAt: Int64 = 0, seen: String, seenSince: Int64, changes: [Int64] = []) {
            self.announced = announced
            self.announcedAt = announcedAt
            self.seen = seen
            self.seenSince = seenSince
            self.changes = changes
        }
    }

    public struct Notification: Sendable, Equatable {
        public var client: String
        public var old: String
        public var new: String
        public var problems: [String]
        /// The all-clear of a client no longer shown: once sent, the client is forgotten.
        public var farewell = false
    }

    public var clients: [String: ClientState] = [:]
    /// Reminders: a health other than ok announced this long ago is announced again.
    public var repeatSeconds: Int64?

    public init(clients: [String: ClientState] = [:], repeatSeconds: Int64? = nil) {
        self.clients = clients
        self.repeatSeconds = repeatSeconds
    }

    /// Records what is seen now and returns what to send. Clients no longer shown are forgotten.
    public mutating func observe(_ healths: [(client: String, health: String, problems: [String])], now: Int64) -> [Notification] {
        var out: [Notification] = []
        var next: [String: ClientState] = [:]
        for (client, health, problems) in healths {
            var state = clients[client] ?? ClientState(seen: health, seenSince: now)
            if state.seen != health {
                state.seen = health
                state.seenSince = now
                state.changes.append(now)
            }
            state.changes.removeAll { $0 <= now - Self.flapWindow }
            next[client] = state
            if let notification = decide(client, state, problems: problems, now: now) { out.append(notification) }
        }
        // A client no longer shown (disabled, removed) whose last word was not ok gets its
        // all-clear, so that no mail or ping stays at critical; then it is forgotten.
        for (client, state) in clients where next[client] == nil {
            guard let announced = state.announced, announced != "ok" else { continue }
            next[client] = state
            out.append(Notification(client: client, old: announced, new: "ok", problems: ["no longer enabled"], farewell: true))
        }
        clients = next
        return out
    }

    private func decide(_ client: String, _ state: ClientState, problems: [String], now: Int64) -> Notification? {
        let announced = state.announced
        func notify(_ new: String) -> Notification {
            Notification(client: client, old: announced ?? "none", new: new, problems: problems)
        }
        if announced == Self.flapping {
            // Quiet until one health has held for the whole window.
            return now - state.seenSince >= Self.flapWindow ? notify(state.seen) : nil
        }
        if state.changes.count > Self.flapChanges { return notify(Self.flapping) }
        // A client first seen healthy is no news.
        if announced == nil { return state.seen == "ok" ? nil : notify(state.seen) }
        if announced != state.seen { return notify(state.seen) }
        if let repeatSeconds, state.seen != "ok", now - state.announcedAt >= repeatSeconds { return notify(state.seen) }
        return nil
    }

    /// The hook for `notification` exited 0: it counts as announced (a client no longer
    /// shown is forgotten once its all-clear went out).
    public mutating func announced(_ notification: Notification, now: Int64) {
        if notification.farewell {
            clients[notification.client] = nil
            return
        }
        clients[notification.client]?.announced = notification.new
        clients[notification.client]?.announcedAt = now
    }

    /// A client first seen healthy is recorded as announced ok, silently.
    public mutating func settleQuiet(now: Int64) {
        for (client, state) in clients where state.announced == nil && state.seen == "ok" {
            clients[client]?.announced = "ok"
            clients[client]?.announcedAt = now
        }
    }

    // MARK: - the state file

    /// One line per client: `CLIENT ANNOUNCED ANNOUNCED_AT SEEN SEEN_SINCE CHANGE,CHANGE,...`
    /// (`-` for none). Written atomically by svctl alert.
    public var text: String {
        clients.keys.sorted().map { client in
            let s = clients[client]!
            let changes = s.changes.isEmpty ? "-" : s.changes.map(String.init).joined(separator: ",")
            return "\(client) \(s.announced ?? "-") \(s.announcedAt) \(s.seen) \(s.seenSince) \(changes)\n"
        }.joined()
    }

    /// Parses `text`; malformed lines are skipped (the client then counts as never seen).
    public init(parsing text: String, repeatSeconds: Int64? = nil) {
        self.init(repeatSeconds: repeatSeconds)
        for line in text.split(separator: "\n") {
            let w = line.split(separator: " ").map(String.init)
            guard w.count == 6, let announcedAt = Int64(w[2]), let seenSince = Int64(w[4]) else { continue }
            let changes = w[5] == "-" ? [] : w[5].split(separator: ",").compactMap { Int64($0) }
            clients[w[0]] = ClientState(announced: w[1] == "-" ? nil : w[1], announcedAt: announcedAt,
                                        seen: w[3], seenSince: seenSince, changes: changes)
        }
    }
}

import Glibc
import SvSystem

/// Storage ports: one per client, recorded in `clients/NAME/port`, unique among clients and
/// free on the host when chosen.
public enum ClientPorts {
    public static let firstPort = 18001

    public static func port(ofClient directory: String) -> Int? {
        FileSystem.readLine(directory + "/port").flatMap { Int($0) }
    }

    /// Ports recorded by every defined client, with the client's name.
    public static func used(_ layout: TreeLayout) -> [Int: String] {
        var used: [Int: String] = [:]
        for name in layout.definedClients {
            if let port = port(ofClient: layout.definition(name)) { used[port] = name }
        }
        return used
    }

    /// Whether nothing listens on (or holds) `address:port` now.
    public static func isFree(_ port: Int, address: String) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, address, &sin.sin_addr) == 1 else { return false }
        return withUnsafePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    /// The given port after checks, or the lowest free one from `firstPort`.
    public static func choose(_ requested: Int?, layout: TreeLayout, address: String) throws(SvctlError) -> Int {
        let used = used(layout)
        if let port = requested {
            guard port > 0 && port < 65536 else { throw SvctlError.failed("bad port \(port): 1 to 65535") }
            if let owner = used[port] { throw SvctlError.failed("port \(port) is already used by client \(owner)") }
            guard isFree(port, address: address) else {
                throw SvctlError.failed("port \(port) is busy on \(address): another program listens there")
            }
            return port
        }
        var port = firstPort
        while port < 65536 {
            if used[port] == nil && isFree(port, address: address) { return port }
            port += 1
        }
        throw SvctlError.failed("no free port from \(firstPort) on \(address)")
    }
}

/// `svctl add`: a new client directory from the templates, with a generated password.
public struct ClientAdd: Sendable {
    public var layout: TreeLayout
    public var templates: String
    public var storage: String
    public var address: String
    public var replicas: [String]
    /// Lines of the client's `limits` file (svtree writes them into its cgroup); none: no file.
    public var limits: [String] = []
    /// Run as root: the client gets a system user of its own (false: the tree's user).
    public var makeUser = true

    public static let storageTemplates = ["rclone", "minio"]
    /// Jobs every client gets: the keyless daily audit, the keyed weekly verify and forget
    /// (down until `svctl key` stores the password).
    public static let assuranceJobs = ["audit", "verify", "forget"]

    public init(layout: TreeLayout, templates: String, storage: String = "rclone", address: String = "127.0.0.1",
                replicas: [String] = []) {
        self.layout = layout
        self.templates = templates
        self.storage = storage
        self.address = address
        self.replicas = replicas
    }

    /// Builds `clients/.NAME.adding` and renames it into place, so no half-made client is
    /// ever seen; returns the lines to print (the password appears there and nowhere else).
    public func add(_ name: String, port requested: Int?) throws(SvctlError) -> [String] {
        try Names.check(name)
        guard Self.storageTemplates.contains(storage) else {
            throw SvctlError.failed("unknown template \(Names.quoted(storage)): one of \(Self.storageTemplates.joined(separator: ", "))")
        }
        let definition = layout.definition(name)
        if (try? FileSystem.info(definition, followLinks: false)) != nil {
            throw SvctlError.failed("client \(name) already exists: \(definition)")
        }
        for part in ["client", "storage-" + storage, "snapwatch"] where !FileSystem.exists(templates + "/" + part) {
            throw SvctlError.failed("template \(templates)/\(part) missing (--templates or SVTREE_TEMPLATES names the directory)")
        }
        guard let info = try? FileSystem.info(layout.clients), info.kind == .directory else {
            throw SvctlError.failed("clients directory \(layout.clients) does not exist (--clients or SVTREE_CLIENTS names it)")
        }
        let port = try ClientPorts.choose(requested, layout: layout, address: address)
        let isolated = makeUser && geteuid() == 0
        if isolated { try openTreeForClientUsers() }
        let password = try Secrets.password()
        let values = ["CLIENT": name, "PORT": String(port), "ADDRESS": address, "DATA": layout.data,
                      "CLIENTS": layout.clients, "REPOSITORY": layout.repository(name)]
        let building = layout.clients + "/.\(name).adding-\(getpid())"
        var madeUser: String?
        var userLine: String?
        do throws(SvctlError) {
            try DirectoryTree.copy(templates + "/client", to: building, values: values)
            try? FileSystem.makeDirectory(building + "/services")
            try DirectoryTree.copy(templates + "/storage-" + storage, to: building + "/services/storage", values: values)
            try DirectoryTree.copy(templates + "/snapwatch", to: building + "/services/snapwatch", values: values)
            // The assurance jobs; templates installed before jobs existed have none.
            // minio keeps objects in its own on-disk format, not restic's files: no job could read it.
            let jobs = storage == "minio" ? [] : Self.assuranceJobs.filter { FileSystem.exists(templates + "/" + $0) }
            for job in jobs {
                try DirectoryTree.copy(templates + "/" + job, to: building + "/services/" + job, values: values)
            }
            for directory in [building, building + "/services/storage", building + "/services/snapwatch"]
                + jobs.map({ building + "/services/" + $0 })
            where FileSystem.exists(directory + "/log") {
                try? FileSystem.makeDirectory(directory + "/log/main", mode: 0o750)
            }
            try write(building + "/port", "\(port)\n", mode: 0o644)
            if !limits.isEmpty {
                try write(building + "/limits", "# cgroup v2 limits of this client (svtree(8), Limits)\n"
                    + limits.map { $0 + "\n" }.joined(), mode: 0o644)
            }
            if !replicas.isEmpty {
                let listed = (try? FileSystem.readBytes(building + "/services/snapwatch/replicas")).map { String(decoding: $0, as: UTF8.self) } ?? ""
                unlink(building + "/services/snapwatch/replicas")
                try write(building + "/services/snapwatch/replicas", listed + replicas.map { $0 + "\n" }.joined(), mode: 0o644)
            }
            try storeCredentials(name: name, password: password, storageDirectory: building + "/services/storage")
            try? FileSystem.makeDirectory(layout.data, mode: 0o750)
            if isolated {
                let (account, made) = try ClientUser.make(forClient: name, home: definition)
                if made { madeUser = account.name }
                try giveToClientUser(building, account: account, repository: layout.repository(name))
                userLine = "runs as its own user \(account.name) (uid \(account.user), its user file): \(layout.repository(name)) mode 0700, secrets 0600, both its own"
            } else if geteuid() == 0 {
                // The client runs as the tree's user, the owner of enabled/ (who may enable it;
                // the svtree user under systemd), which its user file says; root's tree: root.
                let treeUser = DirectoryTree.owner(layout.enabled)?.0 ?? 0
                if treeUser != 0, let account = UserAccount.withID(treeUser) {
                    try openTreeForClientUsers()
                    try giveToClientUser(building, account: account, repository: layout.repository(name))
                    userLine = "no user of its own (--no-user): it runs as \(account.name), the owner of \(layout.enabled) (its user file)"
                } else {
                    userLine = "no user of its own (--no-user): it runs as root, as the tree does (\(layout.enabled) is root's)"
                }
            } else {
                userLine = "not run as root: no user of its own for \(name); it runs as uid \(geteuid()), as the tree does"
            }
            guard rename(building, definition) == 0 else {
                throw SvctlError.failed("cannot rename \(building) to \(definition): \(FileSystem.lastErrno)")
            }
        } catch {
            try? DirectoryTree.remove(building)
            if madeUser != nil { _ = try? ClientUser.remove(ofClient: name) }
            throw error
        }
        return (userLine.map { [$0] } ?? []) + [
            "added \(name): \(definition) (storage: \(storage) on \(address):\(port), repository \(layout.repository(name)))",
            "user \(name), password (shown only now, stored \(storage == "rclone" ? "hashed in services/storage/htpasswd" : "in services/storage/minio.env"), mode 0600):",
            "  \(password)",
            "for the backup client:",
            "  export RESTIC_REPOSITORY=\(repositoryURL(name: name, password: password, port: port))",
        ] + (storage == "minio" ? ["  export AWS_ACCESS_KEY_ID=\(name) AWS_SECRET_ACCESS_KEY=\(password)"] : [])
            + (storage == "minio" ? ["no audit, verify or forget job: minio's on-disk format is not restic's files"] : [])
            + ["enable it: svctl enable \(name)"]
    }

    /// clients/ and data/ searchable by others (o+x, not listable), so that each client's user
    /// reaches its own directories; refused when a directory above them blocks the way.
    func openTreeForClientUsers() throws(SvctlError) {
        try? FileSystem.makeDirectory(layout.data, mode: 0o750)
        for directory in [layout.clients, layout.data] {
            var st = stat()
            if stat(directory, &st) == 0 && st.st_mode & S_IXOTH == 0 { chmod(directory, (st.st_mode & 0o7777) | S_IXOTH) }
            if let blocked = ClientUser.unreachableAncestor(of: directory + "/x") {
                throw .failed("\(blocked) is not searchable by other users, so the client's user could not reach \(directory): chmod o+x \(blocked), or --no-user")
            }
        }
    }

    /// The layout of a client that runs as another user than the root svtree: `clients/NAME`
    /// root's, with its policy (run, user, port, limits, quota, alert-ages, retention, log/),
    /// group the client's and sticky (1770), so the client's processes can add their records
    /// there but cannot remove or replace what is not theirs; `services/` and `log/main/`
    /// (where its own svtree and loggers write) and its repository (0700) the client's.
    func giveToClientUser(_ directory: String, account: ClientUser.Account, repository: String?) throws(SvctlError) {
        DirectoryTree.changeOwner(directory, user: 0, group: account.group)
        // Its own svtree writes services/ (supervise/, state, records); its logger log/main.
        // log/ itself is root's: the root svtree keeps log/supervise there and runs log/run.
        for part in ["services", "log/main"] where FileSystem.exists(directory + "/" + part) {
            DirectoryTree.changeOwner(directory + "/" + part, user: account.user, group: account.group)
        }
        try write(directory + "/" + UserFile.name, account.name + "\n", mode: 0o644)
        lchown(directory + "/" + UserFile.name, 0, account.group)
        chmod(directory, 0o1770)
        guard let repository else { return }
        if (try? FileSystem.info(repository, followLinks: false)) == nil {
            guard mkdir(repository, 0o700) == 0 else { throw .failed("cannot create \(repository): \(FileSystem.lastErrno)") }
        }
        // A repository kept from an earlier client of this name becomes this user's.
        DirectoryTree.changeOwner(repository, user: account.user, group: account.group)
        chmod(repository, 0o700)
    }

    func repositoryURL(name: String, password: String, port: Int) -> String {
        storage == "minio" ? "s3:http://\(address):\(port)/\(name)"
            : "rest:http://\(name):\(password)@\(address):\(port)/\(name)/"
    }

    func storeCredentials(name: String, password: String, storageDirectory: String) throws(SvctlError) {
        if storage == "minio" {
            try write(storageDirectory + "/minio.env", "MINIO_ROOT_USER=\(name)\nMINIO_ROOT_PASSWORD=\(password)\n", mode: 0o600)
            return
        }
        let file = storageDirectory + "/htpasswd"
        // htpasswd reads the password from stdin (-i): it never appears in an argument list.
        let status = try Subprocess.run(["htpasswd", "-B", "-i", "-c", file, name], input: password + "\n")
        guard status == 0 else { throw SvctlError.failed("htpasswd failed for \(file) (wait status \(status))") }
        guard chmod(file, 0o600) == 0 else { throw SvctlError.failed("cannot chmod \(file): \(FileSystem.lastErrno)") }
    }

    func write(_ path: String, _ text: String, mode: mode_t) throws(SvctlError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SvctlError.failed("cannot create \(path): \(FileSystem.lastErrno)") }
        defer { close(fd) }
        do {
            try FileSystem.writeAll(fd, Array(text.utf8))
        } catch {
            throw SvctlError.failed("cannot write \(path): \(error)")
        }
    }
}

/// Generated credentials.
public enum Secrets {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    /// 32 letters and digits from the kernel's random source (about 190 bits), URL-safe.
    public static func password(length: Int = 32) throws(SvctlError) -> String {
        var result: [UInt8] = []
        while result.count < length {
            guard let bytes = try? FileSystem.readBytes("/dev/urandom", limit: 64), bytes.count >= 64 else {
                throw SvctlError.failed("cannot read /dev/urandom: \(FileSystem.lastErrno)")
            }
            // 62 letters: drop bytes >= 248 so every letter is equally likely.
            for byte in bytes where byte < 248 && result.count < length { result.append(alphabet[Int(byte) % 62]) }
        }
        return String(decoding: result, as: UTF8.self)
    }
}

import Glibc
import SvSystem
import SvctlKit
import Testing

/// svctl metrics, check and alert on a running tree, read by the real peers: Debian's
/// node_exporter (textfile collector only, on a loopback port), promtool, a fake sendmail,
/// a loopback HTTP server for the ping hook.
@Suite(.serialized, .timeLimit(.minutes(10))) struct MonitoringIntegrationTests {
    static let nodeExporter = "/usr/bin/prometheus-node-exporter"
    static let promtool = "/usr/bin/promtool"

    /// good: both services up; stopped: its storage down by svctl; old: a backup 30 h old.
    static func tree(_ name: String) throws -> TreeFixture {
        let tree = try SvctlTreeTests.tree(name)
        for client in ["good", "stopped", "old"] {
            tree.client(client)
            tree.symlink(tree.root + "/clients/\(client)", "enabled/\(client)")
        }
        let now = Int(time(nil))
        tree.write("clients/old/services/snapwatch/backup-status",
                   "watching_since \(now - 200_000)\nlast_snapshot \(String(repeating: "a", count: 64)) \(now - 108_000)\n"
                   + "last_hook \(now - 108_000)000 900 code 0\nlast_success \(now - 108_000)\nwaiting 0\n")
        tree.write("clients/old/services/snapwatch/replicas", "/srv/replica\n")
        try tree.startSvtree("enabled", environment: SvctlTreeTests.environment(tree))
        try tree.waitFor("every client's services and loggers up") {
            ["good", "stopped", "old"].allSatisfy { c in
                ["storage", "storage/log", "snapwatch", "snapwatch/log"].allSatisfy { tree.isRunning("clients/\(c)/services/\($0)") }
            }
        }
        let (down, output) = SvctlTreeTests.svctl(tree, "down", "stopped/storage", "-w", "10")
        #expect(down == 0, "\(output)")
        return tree
    }

    static func freePort() -> Int {
        var port = 19100 + Int(getpid() % 500)
        while !ClientPorts.isFree(port, address: "127.0.0.1") { port += 1 }
        return port
    }

    @Test func nodeExporterServesTheSeriesAndPromtoolFindsNothing() throws {
        let tree = try Self.tree("metrics-node")
        tree.makeDirectories(tree.root + "/textfile")
        let (code, output) = SvctlTreeTests.svctl(tree, "metrics", "--textfile", tree.root + "/textfile")
        #expect(code == 0 && output.isEmpty, "\(output)")
        let (lint, lintOutput) = tree.run("/bin/sh", ["-c", "\(Self.promtool) check metrics < \(tree.root)/textfile/svtree.prom"])
        #expect(lint == 0 && lintOutput.isEmpty, "promtool: \(lintOutput)")

        let port = Self.freePort()
        try tree.start([Self.nodeExporter, "--web.listen-address=127.0.0.1:\(port)", "--collector.disable-defaults",
                        "--collector.textfile", "--collector.textfile.directory=\(tree.root)/textfile"],
                       stdoutFile: "node.out", stderrFile: "node.err")
        var scrape = ""
        try tree.waitFor("node_exporter to answer") {
            let (status, body) = tree.run("/usr/bin/curl", ["-s", "--max-time", "2", "http://127.0.0.1:\(port)/metrics"])
            scrape = body
            return status == 0 && body.contains("svtree_client_health")
        }
        #expect(scrape.contains("node_textfile_scrape_error 0"), "\(scrape.prefix(2000))")
        for expected in [
            "svtree_client_health{client=\"good\"} 0", "svtree_client_health{client=\"stopped\"} 2",
            "svtree_client_health{client=\"old\"} 2",
            "svtree_service_up{client=\"stopped\",service=\"storage\"} 0",
            "svtree_service_up{client=\"good\",service=\"storage\"} 1",
            "svtree_service_restarts_total{client=\"good\",service=\"storage\"} 0",
            "svtree_replication_targets{client=\"old\"} 1",
        ] {
            #expect(scrape.contains(expected + "\n"), "\(expected) not in the scrape")
        }
        #expect(scrape.contains("svtree_backup_last_snapshot_timestamp_seconds{client=\"old\"} "))
        // A client removed from the tree takes its series with it.
        tree.remove("enabled/old")
        _ = SvctlTreeTests.svctl(tree, "metrics", "--textfile", tree.root + "/textfile")
        #expect(!tree.read("textfile/svtree.prom").contains("client=\"old\""))
    }

    @Test func readersNeverSeeAPartialTextfile() throws {
        let tree = try Self.tree("metrics-atomic")
        tree.makeDirectories(tree.root + "/textfile")
        let environment = SvctlTreeTests.environment(tree)
        let writer = try tree.start(["/bin/sh", "-c", "while :; do svctl metrics --textfile \(tree.root)/textfile || exit 1; done"],
                                    stdoutFile: "writer.out", stderrFile: "writer.err", environment: environment)
        let path = tree.root + "/textfile/svtree.prom"
        try tree.waitFor("the first textfile") { FileSystem.exists(path) }
        let first = tree.read("textfile/svtree.prom")
        #expect(first.hasSuffix("\n") && first.contains("svtree_client_health"))
        // A rewrite is a new inode (numbers are reused: with its change time).
        var versions: Set<[Int]> = []
        var partial = 0
        for _ in 0..<10_000 {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { partial += 1; continue }
            var info = stat()
            fstat(fd, &info)
            versions.insert([Int(info.st_ino), info.st_ctim.tv_sec, info.st_ctim.tv_nsec])
            var bytes: [UInt8] = []
            var buffer = [UInt8](repeating: 0, count: 65536)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                bytes += buffer[0..<n]
            }
            close(fd)
            if String(decoding: bytes, as: UTF8.self) != first { partial += 1 }
            usleep(300)  // spreads the reads over a few hundred rewrites (one takes milliseconds)
        }
        kill(writer, SIGKILL)
        #expect(partial == 0, "\(partial) of 10000 reads saw another file than the whole one")
        #expect(versions.count > 10, "the file was rewritten only \(versions.count) times during the reads")
    }

    @Test func checkLinesAndExitCodes() throws {
        let tree = try Self.tree("check")
        var (code, line) = SvctlTreeTests.svctl(tree, "check")
        #expect(code == 2 && line.hasPrefix("SVTREE CRITICAL - "), "\(line)")
        #expect(line.contains("stopped: storage: down (normally up)") && line.contains("old: backup: last snapshot 1d06h old"), "\(line)")
        #expect(line.lines().count == 1 && line.contains(" | 'clients_ok'=1;;;0;3 "), "\(line)")
        (code, line) = SvctlTreeTests.svctl(tree, "check", "good")
        #expect(code == 0 && line.hasPrefix("SVTREE OK - 1 client ok | "), "\(line)")
        tree.write("clients/old/alert-ages", "warning 24h\ncritical 48h\n")
        (code, line) = SvctlTreeTests.svctl(tree, "check", "old")
        #expect(code == 1 && line.hasPrefix("SVTREE WARNING - old: backup: last snapshot"), "\(line)")
        #expect(line.contains("'oldest_snapshot_age'=108") && line.contains("s;86400;172800;0;"), "\(line)")
        (code, line) = SvctlTreeTests.svctl(tree, "check", "nosuch")
        #expect(code == 3 && line.hasPrefix("SVTREE UNKNOWN - nosuch: no such client"), "\(line)")
        (code, line) = tree.run(TreeFixture.buildDirectory + "/svctl", ["check", "--root", tree.root + "/missing"])
        #expect(code == 3 && line.hasPrefix("SVTREE UNKNOWN - cannot read the enabled directory"), "\(line)")
    }

    @Test func alertsMailOncePerChangeAndPing() throws {
        let tree = try Self.tree("alert")
        // A sendmail that keeps each message, one file per call.
        tree.write("bin/sendmail", "#!/bin/sh\n[ \"$1\" = -t ] || exit 64\ncat > \(tree.root)/mail.$$\n", executable: true)
        var environment = SvctlTreeTests.environment(tree)
        environment["PATH"] = tree.root + "/bin:" + environment["PATH"]!
        let mail = SvctlTreeTests.repository + "/service-templates/alert/mail admin@example.org"
        func alert(_ hook: String) -> (Int32, String) {
            tree.run(TreeFixture.buildDirectory + "/svctl", ["alert", "--hook", hook, "--state", tree.root + "/alert-state"],
                     environment: environment)
        }
        func mails() -> [String] {
            ((try? FileSystem.list(tree.root)) ?? []).filter { $0.hasPrefix("mail.") }.sorted().map { tree.read($0) }
        }
        var (code, output) = alert(mail)
        #expect(code == 0, "\(output)")
        #expect(output.lines().sorted() == ["old: none -> critical: sent", "stopped: none -> critical: sent"], "\(output)")
        let sent = mails()
        #expect(sent.count == 2)
        let stopped = sent.first { $0.contains("Subject: svtree stopped: none -> critical\n") } ?? ""
        #expect(stopped.hasPrefix("To: admin@example.org\n") && stopped.contains("storage: down (normally up)"), "\(sent)")
        (code, output) = alert(mail)
        #expect(code == 0 && output.isEmpty && mails().count == 2, "no change, no mail: \(output)")
        let (up, upOutput) = SvctlTreeTests.svctl(tree, "up", "stopped/storage", "-w", "10")
        #expect(up == 0, "\(upOutput)")
        (code, output) = alert(mail)
        #expect(output == "stopped: critical -> ok: sent\n" && mails().count == 3, "\(output)")

        // A state that cannot be written: refused before any hook runs.
        let (broken, brokenOutput) = tree.run(TreeFixture.buildDirectory + "/svctl",
            ["alert", "--hook", "touch \(tree.root)/hook-ran", "--state", tree.root + "/no/such/dir/state"], environment: environment)
        #expect(broken == 1 && brokenOutput.contains("cannot"), "\(brokenOutput)")
        #expect(!FileSystem.exists(tree.root + "/hook-ran"))

        // A failing hook: exit 1, said, and the change is sent again by the next call.
        _ = SvctlTreeTests.svctl(tree, "down", "good/storage", "-w", "10")
        (code, output) = alert("false")
        #expect(code == 1 && output.contains("good: ok -> critical: hook failed"), "\(output)")

        // The ping hook against a loopback HTTP server that records what it gets.
        let port = Self.freePort()
        tree.write("server.py", """
            import http.server, sys
            class H(http.server.BaseHTTPRequestHandler):
                def do_POST(self):
                    body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    open(sys.argv[2], "a").write(self.path + " " + body.decode().replace("\\n", "|") + "\\n")
                    self.send_response(200); self.end_headers(); self.wfile.write(b"OK")
                def log_message(self, *args): pass
            http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
            """)
        try tree.start(["/usr/bin/python3", tree.root + "/server.py", String(port), tree.root + "/pings"],
                       stdoutFile: "server.out", stderrFile: "server.err")
        try tree.waitFor("the HTTP server") { !ClientPorts.isFree(port, address: "127.0.0.1") }
        (code, output) = alert(SvctlTreeTests.repository + "/service-templates/alert/http-ping http://127.0.0.1:\(port)/ping")
        #expect(code == 0 && output == "good: ok -> critical: sent\n", "\(output)")
        #expect(tree.read("pings") == "/ping/fail storage: down (normally up)|\n", "\(tree.read("pings"))")
    }
}

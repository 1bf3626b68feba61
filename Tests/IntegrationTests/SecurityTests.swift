import Glibc
import SvSystem
import Testing

/// Permissions as runit's and no wider; no shell string built from data.
@Suite(.timeLimit(.minutes(10))) struct SecurityTests {
    static func mode(_ path: String) -> (kind: mode_t, permissions: mode_t)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT, st.st_mode & 0o7777)
    }

    /// svtree's supervise/ next to one made by Debian's runsv in the same run, file by file.
    @Test func superviseModesMatchRunsv() throws {
        let tree = try TreeFixture("modes")
        tree.service("svtree-dir/svc", logger: nil)
        tree.service("runsv-svc", logger: nil)
        try tree.startSvtree("svtree-dir")
        let pid = try tree.start(["/usr/bin/runsv", tree.root + "/runsv-svc"], stdoutFile: "runsv.out", stderrFile: "runsv.err")
        defer {
            _ = tree.run("/usr/bin/sv", ["exit", tree.root + "/runsv-svc"])
            _ = try? tree.waitExit(pid)
        }
        // stat is the last file written after a change: wait for it on both sides.
        try tree.waitFor("both supervised") {
            tree.isRunning("svtree-dir/svc") && tree.isRunning("runsv-svc")
                && tree.read("svtree-dir/svc/supervise/stat") == "run\n" && tree.read("runsv-svc/supervise/stat") == "run\n"
        }
        for file in ["", "/control", "/ok", "/lock", "/status", "/stat", "/pid"] {
            let ours = Self.mode(tree.root + "/svtree-dir/svc/supervise" + file)
            let runits = Self.mode(tree.root + "/runsv-svc/supervise" + file)
            #expect(ours != nil && ours?.kind == runits?.kind && ours?.permissions == runits?.permissions,
                    "supervise\(file): svtree \(String(ours?.permissions ?? 0, radix: 8)), runsv \(String(runits?.permissions ?? 0, radix: 8))")
        }
        // svtree's own file is no wider than status.
        #expect(Self.mode(tree.root + "/svtree-dir/svc/supervise/svtree")?.permissions == 0o644)
    }

    /// The replication hook with a repository path full of shell syntax: copied, nothing run.
    @Test func hookTakesDataAsArgumentsNotAsShell() throws {
        let tree = try TreeFixture("hook-shell")
        let repository = tree.root + "/repo $(touch PWNED) `touch PWNED2`; touch PWNED3"
        tree.makeDirectories(repository + "/snapshots")
        tree.makeDirectories(repository + "/data/ab")
        tree.write("repo $(touch PWNED) `touch PWNED2`; touch PWNED3/config", "config")
        let id = String(repeating: "ab", count: 32)
        tree.write("repo $(touch PWNED) `touch PWNED2`; touch PWNED3/snapshots/\(id)", "{}")
        tree.write("repo $(touch PWNED) `touch PWNED2`; touch PWNED3/data/ab/\(id)", "pack")
        let service = tree.root + "/snapwatch"
        tree.makeDirectories(service)
        let templates = FileSystem.parentDirectory(FileSystem.parentDirectory(FileSystem.parentDirectory(#filePath)))
            + "/service-templates/snapwatch/replicate"
        tree.run("/bin/cp", [templates, service + "/replicate"])
        tree.write("snapwatch/replicas", "# a comment\n\(tree.root)/replica $(touch PWNED4)\n")
        let (code, output) = tree.run("/bin/sh", ["-c", "cd \"$0\" && SNAPWATCH_REPO=\"$1\" ./replicate \"$2\"",
                                                   service, repository, id + "; touch PWNED5"])
        #expect(code == 0, "\(output)")
        #expect(FileSystem.exists(tree.root + "/replica $(touch PWNED4)/snapshots/\(id)"), "\(output)")
        for n in ["", "2", "3", "4", "5"] {
            #expect(!FileSystem.exists(tree.root + "/PWNED\(n)") && !FileSystem.exists(service + "/PWNED\(n)"))
        }
    }
}

import Glibc
import SvBase
import SvSystem
import SvctlKit
import Testing

/// `svctl status` on fixture `supervise/` files written by real svtree and Debian's runsv
/// (Fixtures/make-fixtures.sh), compared byte for byte with Golden/. The golden files are made
/// by Fixtures/update-golden.sh with the svctl binary, never by this test: it only compares.
/// Each test reads a copy of the fixtures in which the supervisors that were running when the
/// files were copied (Fixtures/tree/supervisors) hold their `ok` FIFO, as a running one does,
/// so that svctl's own check tells the dead supervisor from the live ones.
@Suite(.timeLimit(.minutes(10))) struct StatusGoldenTests {
    static let fixtures = FileSystem.parentDirectory(#filePath) + "/Fixtures/tree"
    static let golden = FileSystem.parentDirectory(#filePath) + "/Golden"
    /// The Unix second at which the fixtures were copied: the clock of every test here.
    static let now = WallTime(unixSeconds: Int64(FileSystem.readLine(fixtures + "/now") ?? "") ?? 0)

    /// A private copy of the fixture tree with the `ok` FIFOs of live supervisors held open.
    final class Copy {
        let root: String
        private var held: [Int32] = []

        init() throws {
            var template = Array("/tmp/svctl-golden-XXXXXX".utf8CString)
            guard let made = mkdtemp(&template) else { throw CopyError(description: "mkdtemp failed") }
            root = String(cString: made)
            try Copy.copy(StatusGoldenTests.fixtures, root)
            let list = String(decoding: (try? FileSystem.readBytes(root + "/supervisors")) ?? [], as: UTF8.self)
            for line in list.split(separator: "\n") {
                let words = line.split(separator: " ").map(String.init)
                guard words.count == 2, words[0] == "live" || words[0] == "dead" else {
                    throw CopyError(description: "supervisors: bad line \(line)")
                }
                let ok = root + "/" + words[1] + "/ok"
                do { try FileSystem.makeFIFO(ok) } catch { throw CopyError(description: "\(ok): \(error)") }
                if words[0] == "live" {
                    let fd = open(ok, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
                    guard fd >= 0 else { throw CopyError(description: "cannot hold \(ok)") }
                    held.append(fd)
                }
            }
            if held.isEmpty { throw CopyError(description: "no live supervisor in \(StatusGoldenTests.fixtures)/supervisors") }
        }

        deinit {
            held.forEach { close($0) }
            Copy.remove(root)
        }

        var layout: TreeLayout {
            TreeLayout(enabled: root + "/enabled", clients: root + "/clients", data: root + "/data") { _ in nil }
        }

        func reports(_ names: [String]) -> [ClientReport] {
            names.map { ClientReport.read($0, layout: layout, now: StatusGoldenTests.now) }
        }

        static func copy(_ from: String, _ to: String) throws {
            guard let names = try? FileSystem.list(from) else { throw CopyError(description: "cannot list \(from)") }
            try? FileSystem.makeDirectory(to)
            for name in names {
                let source = from + "/" + name, target = to + "/" + name
                guard let info = try? FileSystem.info(source, followLinks: false) else {
                    throw CopyError(description: "cannot stat \(source)")
                }
                switch info.kind {
                case .directory: try copy(source, target)
                case .symlink:
                    guard let link = FileSystem.readLink(source), symlink(link, target) == 0 else {
                        throw CopyError(description: "cannot copy the link \(source)")
                    }
                case .file:
                    guard let bytes = try? FileSystem.readBytes(source),
                          (try? FileSystem.writeAtomically(target, bytes, mode: mode_t(info.mode & 0o7777))) != nil else {
                        throw CopyError(description: "cannot copy \(source)")
                    }
                default: throw CopyError(description: "\(source): not a file, directory or link")
                }
            }
        }

        static func remove(_ path: String) {
            if let info = try? FileSystem.info(path, followLinks: false), info.kind == .directory,
               let names = try? FileSystem.list(path) {
                for name in names { remove(path + "/" + name) }
                rmdir(path)
            } else {
                unlink(path)
            }
        }
    }

    struct CopyError: Error, CustomStringConvertible { var description: String }

    /// The output with the copy's path written `$TREE`, as update-golden.sh writes it.
    func compare(_ output: String, _ file: String, _ copy: Copy) {
        let portable = output.replacingAll(copy.root, with: "$TREE")
        let expected = String(decoding: (try? FileSystem.readBytes(Self.golden + "/" + file)) ?? [], as: UTF8.self)
        #expect(!expected.isEmpty, "no golden \(file): run Fixtures/update-golden.sh")
        #expect(portable == expected, "golden \(file) differs; output was:\n\(portable)")
    }

    @Test func theClockIsTheFixtures() {
        #expect(Self.now.unixSeconds > 1_700_000_000, "Fixtures/tree/now: \(FileSystem.readLine(Self.fixtures + "/now") ?? "missing")")
    }

    @Test func summaryOfEveryEnabledClient() throws {
        let copy = try Copy()
        let reports = copy.reports(copy.layout.enabledClients)
        #expect(reports.map(\.name) == ["alice", "bob", "carol", "dave", "frank"])
        compare(StatusView.summaryLines(reports, now: Self.now), "summary.txt", copy)
        #expect(StatusView.overall(reports) == .critical)
    }

    @Test func detailOfEachClient() throws {
        let copy = try Copy()
        let reports = copy.reports(["alice", "bob", "carol", "dave", "erin", "frank", "zoe"])
        compare(StatusView.detail(reports, now: Self.now), "detail.txt", copy)
        #expect(reports.map(\.health) == [.critical, .ok, .warning, .critical, .ok, .critical, .unknown])
    }

    @Test func jsonDocument() throws {
        let copy = try Copy()
        compare(StatusJSON.document(copy.reports(["alice", "bob", "carol", "frank"]), now: Self.now).text() + "\n",
                "status.json", copy)
    }

    @Test func runsvWrittenFilesAreRead() throws {
        let copy = try Copy()
        let bob = copy.reports(["bob"])[0]
        #expect(bob.health == .ok, "\(bob.problems)")
        #expect(bob.mode == nil)
        let storage = bob.services.first { $0.name == "storage" }
        #expect(storage?.status?.state == .run)
        #expect(storage?.writtenBySvtree == false)
        let snapwatch = bob.services.first { $0.name == "snapwatch" }
        #expect(snapwatch?.normallyUp == false)
        #expect(snapwatch?.status?.state == .down)
        #expect(bob.supervisor?.status?.state == .run)
        #expect(bob.supervisor?.supervisor == .running)
    }

    /// The OOM kills of a client's cgroup come from what its parent svtree keeps in the
    /// client's `supervise/svtree` (the count and the time of the last), not from the cgroup.
    @Test func oomKillsAreReadFromTheParentsRecord() throws {
        let copy = try Copy()
        let record = copy.root + "/clients/alice/supervise/svtree"
        let text = String(decoding: try FileSystem.readBytes(record), as: UTF8.self)
        let lastKill = Self.now.unixNanos - 3600 * 1_000_000_000
        try FileSystem.writeAtomically(record, Array((text + "oom_kills 2\nlast_oom_kill_ns \(lastKill)\n").utf8))
        let alice = copy.reports(["alice"])[0]
        #expect(alice.oomKills == 2)
        #expect(alice.problems.contains { $0.hasPrefix("OOM kill in the client's cgroup 1h00m ago (2 since it started)") }, "\(alice.problems)")
        #expect(copy.reports(["bob"])[0].oomKills == nil)
    }

    /// A client that runsv runs is labelled so, not "svtree".
    @Test func theClientsSupervisorIsNamedForWhatRunsIt() throws {
        let copy = try Copy()
        let text = StatusView.detail(copy.reports(["alice", "bob"]), now: Self.now)
        #expect(text.contains("bob: ok\n  client     enabled, runsv up "), "\(text)")
        #expect(text.contains("alice: critical\n  client     enabled, svtree up "), "\(text)")
    }

    @Test func crashLoopIsCriticalWithDelayShown() throws {
        let copy = try Copy()
        let alice = copy.reports(["alice"])[0]
        let snapwatch = alice.services.first { $0.name == "snapwatch" }
        #expect((snapwatch?.quickDeaths ?? 0) > 0)
        #expect((snapwatch?.restartDelayMs ?? 0) > 0)
        #expect(snapwatch?.lastExit == .exited(3))
        #expect(alice.problems.contains("snapwatch: down (normally up)"))
        #expect(alice.mode == "cgroup")
    }

    /// Readiness by notification-fd both ways: alice's storage wrote it, carol's never did.
    @Test func readinessTrueAndFalse() throws {
        let copy = try Copy()
        let (alice, carol) = (copy.reports(["alice"])[0], copy.reports(["carol"])[0])
        #expect(alice.services.first { $0.name == "storage" }?.ready == true)
        #expect(carol.services.first { $0.name == "storage" }?.ready == false)
        #expect(carol.services.first { $0.name == "snapwatch" }?.ready == nil)
        #expect(carol.problems.contains("storage: up but not ready (nothing written to notification-fd 3 yet)"), "\(carol.problems)")
        #expect(!alice.problems.contains { $0.hasPrefix("storage:") }, "\(alice.problems)")
    }

    /// frank's supervisors were SIGKILLed: their files say run, nothing holds their FIFOs.
    @Test func aDeadSupervisorIsCritical() throws {
        let copy = try Copy()
        let frank = copy.reports(["frank"])[0]
        #expect(frank.health == .critical)
        #expect(frank.supervisor?.supervisor == .notRunning)
        #expect(frank.supervisor?.status?.state == .run, "the files still say run")
        #expect(frank.services.allSatisfy { $0.supervisor == .notRunning }, "\(frank.services.map(\.supervisor))")
        #expect(frank.problems.contains("client: no supervisor running"), "\(frank.problems)")
        #expect(frank.mode == "session")
    }
}

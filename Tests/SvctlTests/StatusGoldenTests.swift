import Glibc
import SvctlKit
import SvtreeCore
import Testing

/// `svctl status` on fixture `supervise/` files written by real svtree and Debian's runsv
/// (Fixtures/make-fixtures.sh), compared byte for byte with Golden/. The test only compares:
/// it never writes a golden file.
@Suite(.timeLimit(.minutes(1))) struct StatusGoldenTests {
    static let fixtures = FileSystem.parentDirectory(#filePath) + "/Fixtures/tree"
    static let golden = FileSystem.parentDirectory(#filePath) + "/Golden"
    /// 2026-11-18 05:46:40 UTC: fixed, so ages in the output never change.
    static let now: Int64 = 1_795_330_000 * 1_000_000_000

    static var layout: TreeLayout {
        TreeLayout(enabled: fixtures + "/enabled", clients: fixtures + "/clients", data: fixtures + "/data") { _ in nil }
    }

    static func reports(_ names: [String]) -> [ClientReport] {
        names.map { ClientReport.read($0, layout: layout, now: now, checkSupervisors: false) }
    }

    func compare(_ output: String, _ file: String) {
        let portable = output.replacingAll(Self.fixtures, with: "$TREE")
        let path = Self.golden + "/" + file
        let expected = String(decoding: FileSystem.readBytes(path) ?? [], as: UTF8.self)
        #expect(!expected.isEmpty, "no golden \(file)")
        #expect(portable == expected, "golden \(file) differs; output was:\n\(portable)")
    }

    @Test func summaryOfEveryEnabledClient() {
        let reports = Self.reports(Self.layout.enabledClients)
        #expect(reports.map(\.name) == ["alice", "bob", "carol", "dave"])
        compare(StatusView.summaryLines(reports, now: Self.now), "summary.txt")
        #expect(StatusView.overall(reports) == .critical)
    }

    @Test func detailOfEachClient() {
        let reports = Self.reports(["alice", "bob", "carol", "dave", "erin", "zoe"])
        compare(StatusView.detail(reports, now: Self.now), "detail.txt")
        #expect(reports.map(\.health) == [.critical, .ok, .warning, .critical, .ok, .unknown])
    }

    @Test func jsonDocument() {
        let reports = Self.reports(["alice", "bob", "carol"])
        compare(StatusJSON.document(reports, now: Self.now).text() + "\n", "status.json")
    }

    @Test func runsvWrittenFilesAreRead() {
        let bob = Self.reports(["bob"])[0]
        #expect(bob.health == .ok, "\(bob.problems)")
        #expect(bob.mode == nil)
        let storage = bob.services.first { $0.name == "storage" }
        #expect(storage?.status?.state == .run)
        #expect(storage?.writtenBySvtree == false)
        let snapwatch = bob.services.first { $0.name == "snapwatch" }
        #expect(snapwatch?.normallyUp == false)
        #expect(snapwatch?.status?.state == .down)
        #expect(bob.supervisor?.status?.state == .run)
    }

    @Test func crashLoopIsCriticalWithDelayShown() {
        let alice = Self.reports(["alice"])[0]
        let snapwatch = alice.services.first { $0.name == "snapwatch" }
        #expect((snapwatch?.quickDeaths ?? 0) > 0)
        #expect((snapwatch?.restartDelayMs ?? 0) > 0)
        #expect(snapwatch?.lastExit == .exited(3))
        #expect(alice.problems.contains("snapwatch: down (normally up)"))
        #expect(alice.mode == "cgroup")
    }
}

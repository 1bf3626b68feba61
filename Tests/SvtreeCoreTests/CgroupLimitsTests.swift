import Glibc
@testable import SvSystem
@testable import SvtreeDaemon
import Testing

/// The `limits` file against a stand-in cgroup directory (plain files where the kernel has
/// its own), so that keys, values and the controllers enabled can be read back on any host.
@Suite struct CgroupLimitsTests {
    @Test func parseKeepsKnownKeysAndSaysTheRest() {
        let (settings, problems) = CgroupLimits.parse("""
            # a client's bounds
            memory.max 512M
            pids.max   256
            cpu.weight 50
            memory.oom.group 1
            nonsense
            """)
        #expect(settings.map { "\($0.key)=\($0.value)" } == ["memory.max=512M", "pids.max=256", "cpu.weight=50"])
        #expect(problems.count == 2)
        #expect(problems[0].hasPrefix("memory.oom.group: not a known cgroup v2 limit ("))
        #expect(problems[1] == "\"nonsense\": not a \"key value\" line")
    }

    func standIn(controllers: String) -> (parent: String, cgroup: String) {
        var template = Array("/tmp/svtree-limits-XXXXXX".utf8CString)
        let parent = String(cString: mkdtemp(&template)!)
        let cgroup = parent + "/entry-1-2"
        mkdir(cgroup, 0o755)
        for (path, text) in [(parent + "/cgroup.controllers", controllers + "\n"), (parent + "/cgroup.subtree_control", "\n"),
                             (cgroup + "/memory.max", "max\n"), (cgroup + "/pids.max", "max\n"), (cgroup + "/cpu.weight", "100\n")] {
            try? FileSystem.writeAtomically(path, Array(text.utf8))
        }
        return (parent, cgroup)
    }

    func read(_ path: String) -> String {
        String(decoding: (try? FileSystem.readBytes(path)) ?? [], as: UTF8.self)
    }

    @Test func valuesAreWrittenAfterTheirControllersAreEnabled() {
        let (parent, cgroup) = standIn(controllers: "cpu memory pids")
        defer { _ = TreeRemoval.remove(parent) }
        let problems = CgroupLimits.apply([("memory.max", "512M"), ("pids.max", "256"), ("cpu.weight", "50")],
                                          cgroup: cgroup, parent: parent)
        #expect(problems.isEmpty, "\(problems)")
        #expect(read(parent + "/cgroup.subtree_control").hasPrefix("+cpu +memory +pids"))
        #expect(read(cgroup + "/memory.max").hasPrefix("512M"))
        #expect(read(cgroup + "/pids.max").hasPrefix("256"))
        #expect(read(cgroup + "/cpu.weight").hasPrefix("50"))
    }

    /// This machine's case: a hybrid host whose cgroup v2 has only hugetlb.
    @Test func aMissingControllerIsNamedAndTheOthersStillApply() {
        let (parent, cgroup) = standIn(controllers: "hugetlb pids")
        defer { _ = TreeRemoval.remove(parent) }
        let problems = CgroupLimits.apply([("memory.max", "512M"), ("pids.max", "64"), ("io.weight", "50")],
                                          cgroup: cgroup, parent: parent)
        #expect(problems.count == 2)
        #expect(problems[0] == "memory.max: the memory controller is not available here (\(parent)/cgroup.controllers: hugetlb pids)")
        #expect(problems[1].hasPrefix("io.weight: the io controller is not available here"))
        #expect(read(cgroup + "/memory.max") == "max\n")
        #expect(read(cgroup + "/pids.max").hasPrefix("64"))
    }
}

/// rm -r for the stand-ins.
enum TreeRemoval {
    static func remove(_ path: String) -> Bool {
        if let names = try? FileSystem.list(path) {
            for name in names { _ = remove(path + "/" + name) }
            return rmdir(path) == 0
        }
        return unlink(path) == 0
    }
}

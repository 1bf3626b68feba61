import Glibc
@testable import SvSystem
import Testing

/// The unit and its companions, checked by systemd's own tools as `make install` renders them.
@Suite(.timeLimit(.minutes(10))) struct SystemdUnitTests {
    static let source = FileSystem.parentDirectory(FileSystem.parentDirectory(FileSystem.parentDirectory(#filePath)))

    @Test func unitVerifiesWithoutWarnings() throws {
        let tree = try TreeFixture("unit")
        // PREFIX/bin/svtree as make install would place it.
        tree.makeDirectories(tree.root + "/prefix/bin")
        Glibc.symlink(TreeFixture.svtreeBinary, tree.root + "/prefix/bin/svtree")
        let template = String(decoding: (try? FileSystem.readBytes(Self.source + "/systemd/svtree.service.in")) ?? [], as: UTF8.self)
        #expect(!template.isEmpty)
        var unit = ""
        var rest = Substring(template)
        while let marker = rest.firstIndex(of: "@"), rest[marker...].hasPrefix("@PREFIX@") {
            unit += rest[..<marker] + tree.root + "/prefix"
            rest = rest[rest.index(marker, offsetBy: 8)...]
        }
        unit += rest
        tree.write("svtree.service", unit)
        let (code, output) = tree.run("/usr/bin/systemd-analyze", ["verify", tree.root + "/svtree.service"])
        #expect(code == 0, "\(output)")
        #expect(output.isEmpty, "systemd-analyze verify said: \(output)")
        for key in ["Type=notify", "KillMode=mixed", "Delegate=yes", "WatchdogSec=", "TimeoutStopSec=",
                    "Restart=on-failure", "CapabilityBoundingSet=CAP_SETUID CAP_SETGID CAP_CHOWN CAP_DAC_OVERRIDE CAP_KILL",
                    "ExecReload=/bin/kill -HUP $MAINPID", "--notify"] {
            #expect(unit.contains(key), "\(key)")
        }
        // Root, so that it may run each client as the client's user.
        #expect(!unit.contains("User="), "the root svtree runs as root")
    }

    /// The metrics and alert timers with their services, as make install renders them.
    @Test func monitoringTimersVerifyWithoutWarnings() throws {
        let tree = try TreeFixture("timers")
        tree.makeDirectories(tree.root + "/prefix/bin")
        Glibc.symlink(TreeFixture.buildDirectory + "/svctl", tree.root + "/prefix/bin/svctl")
        var units: [String] = []
        for name in ["svtree-metrics", "svtree-alert"] {
            let template = String(decoding: (try? FileSystem.readBytes(Self.source + "/systemd/\(name).service.in")) ?? [], as: UTF8.self)
            let timer = String(decoding: (try? FileSystem.readBytes(Self.source + "/systemd/\(name).timer")) ?? [], as: UTF8.self)
            #expect(!template.isEmpty && !timer.isEmpty, "\(name)")
            tree.write("\(name).service", template.split(separator: "@PREFIX@", omittingEmptySubsequences: false)
                .joined(separator: tree.root + "/prefix"))
            tree.write("\(name).timer", timer)
            units += [tree.root + "/\(name).service", tree.root + "/\(name).timer"]
        }
        let (code, output) = tree.run("/usr/bin/systemd-analyze", ["verify"] + units)
        #expect(code == 0 && output.isEmpty, "systemd-analyze verify said: \(output)")
        #expect(tree.read("svtree-metrics.timer").contains("OnUnitActiveSec=1min"))
        #expect(tree.read("svtree-alert.timer").contains("OnUnitActiveSec=5min"))
    }

    @Test func sysusersAndTmpfilesParse() throws {
        let tree = try TreeFixture("sysusers")
        tree.makeDirectories(tree.root + "/etc")
        let (code, output) = tree.run("/usr/bin/systemd-sysusers",
                                      ["--dry-run", "--root=" + tree.root, Self.source + "/systemd/sysusers.d-svtree.conf"])
        #expect(code == 0 && output.contains("Creating user 'svtree'"), "\(output)")
        let tmpfiles = String(decoding: (try? FileSystem.readBytes(Self.source + "/systemd/tmpfiles.d-svtree.conf")) ?? [], as: UTF8.self)
        for path in ["/srv/svtree/enabled", "/srv/svtree/clients"] { #expect(tmpfiles.contains(path)) }
    }
}

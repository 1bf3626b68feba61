import Glibc
import SvSystem
@testable import SvtreeDaemon
import Testing

/// Who an entry runs as: the owner of its directory, never root, only when svtree may switch.
@Suite struct ServiceUserTests {
    @Test(arguments: [
        // (directory owner, svtree's uid, may switch, expected)
        (uid_t(994), uid_t(0), true, ServiceUser.Choice.switchTo(994)),
        (994, 0, false, .cannot(994)),
        (994, 994, true, .own),             // its own directories
        (0, 998, true, .own),               // a root-owned directory never makes it root
        (0, 0, true, .own),
        (65534, 998, true, .switchTo(65534)), // the svtree user with CAP_SETUID
        (65534, 998, false, .cannot(65534)),
    ])
    func choice(owner: uid_t, own: uid_t, maySwitch: Bool, expected: ServiceUser.Choice) {
        #expect(ServiceUser.choice(directoryOwner: owner, own: own, maySwitch: maySwitch) == expected)
    }

    @Test func theEnvironmentNamesTheUser() {
        let account = ServiceUser.Account(identity: .init(user: 994, group: 993), name: "svtree-alice", home: "/srv/svtree/clients/alice")
        let environment = ServiceUser.environment(["PATH=/bin", "HOME=/root", "USER=root", "USERX=kept", "SVTREE_SERVICE=/x"], for: account)
        #expect(environment == ["PATH=/bin", "USERX=kept", "SVTREE_SERVICE=/x",
                                "HOME=/srv/svtree/clients/alice", "LOGNAME=svtree-alice", "USER=svtree-alice"])
    }
}

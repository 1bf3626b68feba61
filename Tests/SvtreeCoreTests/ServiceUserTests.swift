import Glibc
import SvSystem
@testable import SvtreeDaemon
import Testing

/// When an entry's `user` file is followed: only where the entry's user cannot have written it.
@Suite struct ServiceUserTests {
    @Test(arguments: [
        // (file owner, file mode, directory owner, directory mode, svtree's uid, trusted)
        (uid_t(0), mode_t(0o644), uid_t(0), mode_t(0o755), uid_t(0), true),
        (998, 0o644, 998, 0o1770, 998, true),    // svtree's user; the client's sticky group directory
        (0, 0o644, 998, 0o1770, 998, true),
        (994, 0o644, 998, 0o1770, 998, false),   // written by the client itself
        (0, 0o664, 0, 0o755, 0, false),          // group-writable file
        (0, 0o644, 994, 0o755, 0, false),        // in a directory the client owns: it could replace it
        (0, 0o644, 0, 0o777, 0, false),          // a world-writable directory without the sticky bit
        (0, 0o644, 0, 0o1777, 0, true),
    ])
    func trust(fileOwner: uid_t, fileMode: mode_t, directoryOwner: uid_t, directoryMode: mode_t, own: uid_t, trusted: Bool) {
        let why = PolicyFile.untrusted(fileOwner: fileOwner, fileMode: fileMode, directoryOwner: directoryOwner,
                                       directoryMode: directoryMode, trusting: [0, own])
        #expect((why == nil) == trusted, "\(why ?? "trusted")")
    }

    @Test func theEnvironmentNamesTheUser() {
        let account = UserAccount(name: "svtree-alice", user: 994, group: 993, home: "/srv/svtree/clients/alice")
        let environment = ServiceUser.environment(["PATH=/bin", "HOME=/root", "USER=root", "USERX=kept", "SVTREE_SERVICE=/x"], for: account)
        #expect(environment == ["PATH=/bin", "USERX=kept", "SVTREE_SERVICE=/x",
                                "HOME=/srv/svtree/clients/alice", "LOGNAME=svtree-alice", "USER=svtree-alice"])
    }
}

import CSupport
import Glibc
@testable import SvSystem
import Testing

/// `svtree --notify` talking to a stand-in for systemd: a datagram socket as NOTIFY_SOCKET.
@Suite(.serialized, .timeLimit(.minutes(10))) struct NotifyTests {
    /// A bound AF_UNIX datagram socket and what arrives on it, each message with the time the
    /// kernel queued it (SO_TIMESTAMPNS): when svtree sent it, not when the test looked.
    final class NotifySocket {
        let fd: Int32
        let path: String
        private(set) var messages: [(at: Int64, text: String)] = []
        /// SO_TIMESTAMPNS (SO_TIMESTAMPNS_OLD on x86_64 and arm64), also the cmsg type.
        static let timestampOption: Int32 = 35

        init(path: String) {
            self.path = path
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in path.utf8.enumerated() where i < raw.count - 1 { raw[i] = byte }
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            var on: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, Self.timestampOption, &on, socklen_t(MemoryLayout<Int32>.size))
        }

        deinit { close(fd) }

        /// Everything received so far, one message per datagram.
        func receive() -> [String] {
            var buffer = [UInt8](repeating: 0, count: 4096)
            var control = [UInt8](repeating: 0, count: 256)
            while true {
                var stamp: Int64?
                let n = buffer.withUnsafeMutableBytes { data in
                    control.withUnsafeMutableBytes { ancillary -> Int in
                        var vector = iovec(iov_base: data.baseAddress, iov_len: data.count)
                        return withUnsafeMutablePointer(to: &vector) { vectorPointer -> Int in
                            var header = msghdr()
                            header.msg_iov = vectorPointer
                            header.msg_iovlen = 1
                            header.msg_control = ancillary.baseAddress
                            header.msg_controllen = ancillary.count
                            let n = recvmsg(fd, &header, 0)
                            var offset = 0
                            let headerSize = MemoryLayout<cmsghdr>.size
                            while n > 0, offset + headerSize <= Int(header.msg_controllen) {
                                let item = ancillary.loadUnaligned(fromByteOffset: offset, as: cmsghdr.self)
                                if item.cmsg_level == SOL_SOCKET, item.cmsg_type == Self.timestampOption {
                                    let time = ancillary.loadUnaligned(fromByteOffset: offset + headerSize, as: timespec.self)
                                    stamp = Int64(time.tv_sec) * 1_000_000_000 + Int64(time.tv_nsec)
                                }
                                guard item.cmsg_len > 0 else { break }
                                offset += (Int(item.cmsg_len) + 7) & ~7
                            }
                            return n
                        }
                    }
                }
                if n <= 0 { break }
                if stamp == nil { Issue.record("no SO_TIMESTAMPNS on a notify message") }
                messages.append((stamp ?? 0, String(decoding: buffer[0..<n], as: UTF8.self)))
            }
            return messages.map(\.text)
        }
    }

    @Test func readyStatusReloadingStopping() throws {
        let tree = try TreeFixture("notify")
        tree.service("dir/one", logger: nil)
        tree.service("dir/two", logger: nil)
        let socket = NotifySocket(path: tree.root + "/notify.sock")
        let root = try tree.startSvtree("dir", options: ["--notify"], environment: ["NOTIFY_SOCKET": socket.path])
        try tree.waitFor("READY=1 and a status with both up") {
            let got = socket.receive()
            return got.contains("READY=1") && got.contains { $0.hasPrefix("STATUS=2 entries: 2 up, 0 down, 0 restarting;") }
        }
        // READY comes once the first scan has started every entry: after a STATUS saying so,
        // and no STATUS before it says less.
        let texts = socket.messages.map(\.text)
        let first = try #require(texts.firstIndex(of: "READY=1"))
        let before = texts[..<first].filter { $0.hasPrefix("STATUS=") }
        #expect(before.last?.hasPrefix("STATUS=2 entries: 2 up, 0 down, 0 restarting;") == true, "before READY: \(texts[..<first])")
        #expect(tree.isRunning("dir/one") && tree.isRunning("dir/two"))
        _ = tree.run("/usr/bin/sv", ["down", tree.root + "/dir/two"])
        try tree.waitFor("the status following a service down") {
            socket.receive().contains { $0.hasPrefix("STATUS=2 entries: 1 up, 1 down, 0 restarting;") }
        }
        kill(root, SIGHUP)
        try tree.waitFor("RELOADING=1 with MONOTONIC_USEC, then READY=1") {
            let got = socket.receive()
            guard let reload = got.lastIndex(where: { $0.hasPrefix("RELOADING=1\nMONOTONIC_USEC=") }) else { return false }
            return got[(reload + 1)...].contains("READY=1")
        }
        let reload = socket.messages.last { $0.text.hasPrefix("RELOADING=1") }!.text
        let usec = Int64(reload.split(separator: "=").last ?? "") ?? 0
        #expect(abs(usec - EventLoop.now / 1000) < 10_000_000, "MONOTONIC_USEC \(usec) is CLOCK_MONOTONIC")
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
        #expect(socket.receive().contains("STOPPING=1"))
    }

    @Test func watchdogPingsAtHalfTheInterval() throws {
        let tree = try TreeFixture("watchdog")
        tree.makeDirectories(tree.root + "/dir")
        let socket = NotifySocket(path: tree.root + "/notify.sock")
        // WatchdogSec=0.4 s: pings every 0.2 s, from the event loop.
        try tree.startSvtree("dir", options: ["--notify"],
                             environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "400000"])
        try tree.waitFor("five pings", seconds: 5) { socket.receive().filter { $0 == "WATCHDOG=1" }.count >= 5 }
        let pings = socket.messages.filter { $0.text == "WATCHDOG=1" }.map(\.at)
        // Times the kernel stamped on arrival: a test thread descheduled by a loaded machine
        // does not move them. svtree's own lateness can: the typical gap must be half the
        // interval, none may be shorter (no double pings), none so late that systemd would act.
        let gaps = zip(pings, pings.dropFirst()).map { Double($1 - $0) / 1e6 }
        let median = gaps.sorted()[gaps.count / 2]
        #expect(median > 170 && median < 260, "gaps in ms: \(gaps)")
        #expect(gaps.allSatisfy { $0 > 150 && $0 < 1000 }, "gaps in ms: \(gaps)")
    }

    @Test func withoutNotifySocketNothingChanges() throws {
        let tree = try TreeFixture("nonotify")
        tree.service("dir/one", logger: nil)
        let root = try tree.startSvtree("dir", options: ["--notify"])
        try tree.waitFor("one up") { tree.isRunning("dir/one") }
        kill(root, SIGTERM)
        #expect(try tree.waitExit(root) == 0)
        #expect(tree.read("svtree.err").isEmpty)
    }
}

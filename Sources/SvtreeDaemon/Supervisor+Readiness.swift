import CSupport
import Glibc
import SvSupervision
import SvSystem

/// s6's readiness protocol: a service with `notification-fd` gets the write end of a pipe as
/// that descriptor and writes a newline to it once it is ready. svtree reads the other end in
/// its loop (no polling, unlike runit's `./check`) and records the time in `supervise/svtree`.
extension Supervisor {
    /// A pipe for a run about to start, or nil when the service does not ask for one (or no
    /// descriptor is left: the service then runs without readiness, which is said).
    func openReadinessPipe(_ entry: Entry, _ role: EntryMachine.Role) -> (read: Int32, write: Int32, target: Int32)? {
        guard let target = entry.machine.machine(role)?.settings.notificationFD else { return nil }
        var fds: [Int32] = [-1, -1]
        guard sv_pipe_cloexec(&fds) == 0 else {
            Diagnostics.warn("\(directory)/\(entry.label(role)): no pipe for notification-fd (\(FileSystem.lastErrno)):"
                + " starting it without readiness")
            return nil
        }
        var write = fds[1]
        if write == target {
            // posix_spawn's dup2 onto itself would keep close-on-exec: use another number.
            write = fcntl(fds[1], F_DUPFD_CLOEXEC, target + 1)
            close(fds[1])
            if write < 0 {
                close(fds[0])
                Diagnostics.warn("\(directory)/\(entry.label(role)): no descriptor for notification-fd"
                    + " (\(FileSystem.lastErrno)): starting it without readiness")
                return nil
            }
        }
        let flags = fcntl(fds[0], F_GETFL)
        _ = fcntl(fds[0], F_SETFL, flags | O_NONBLOCK)  // the read end only: the service's end blocks as usual
        return (fds[0], write, target)
    }

    func watchReadiness(_ fd: Int32, pid: Int32, _ entry: Entry, _ role: EntryMachine.Role) {
        let token = tokens.allocate()
        do {
            try loop.add(fd, token: token)
        } catch {
            close(fd)
            return
        }
        tokens[token] = .readiness(LoopTokens.ReadinessPipe(identity: entry.identity, role: role, pid: pid, fd: fd))
        entry.readinessTokens[role] = token
    }

    /// The service wrote to its notification pipe, or closed it: a newline means ready;
    /// EOF without one means it never will be in this run.
    func handleReadiness(token: UInt64) {
        guard case .readiness(let pipe) = tokens[token] else { return }
        var buffer = [UInt8](repeating: 0, count: 512)
        while true {
            let got: Int
            do {
                got = try SystemCall.retrying { read(pipe.fd, &buffer, buffer.count) }
            } catch {
                if error == .resourceTemporarilyUnavailable { return }  // all read: wait for more
                got = 0
            }
            if got > 0 {
                guard buffer[0..<got].contains(UInt8(ascii: "\n")) else { continue }
                stopWatchingReadiness(token: token)
                if let entry = entries[pipe.identity] {
                    perform(entry.machine.handle(.ready(pid: pipe.pid), for: pipe.role, now: EventLoop.now), on: entry)
                }
                return
            }
            stopWatchingReadiness(token: token)
            return
        }
    }

    /// The run ended or the entry went away: its pipe has nothing more to say.
    func stopWatchingReadiness(_ entry: Entry, _ role: EntryMachine.Role) {
        if let token = entry.readinessTokens[role] { stopWatchingReadiness(token: token) }
    }

    private func stopWatchingReadiness(token: UInt64) {
        guard case .readiness(let pipe) = tokens[token] else { return }
        _ = tokens.remove(token)
        loop.remove(pipe.fd)
        close(pipe.fd)
        if let entry = entries[pipe.identity], entry.readinessTokens[pipe.role] == token {
            entry.readinessTokens[pipe.role] = nil
        }
    }
}

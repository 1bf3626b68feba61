import Glibc
import SvSystem
import SystemPackage

/// `svctl key`: the repository password the keyed jobs (verify, forget) need, kept in the
/// client's directory as `repository-password`, mode 0600, owned by the user the client runs
/// as (its `user` file), who runs those jobs. restic reads it with `--password-file`: it is never in an argument list, an
/// environment, or a log. Storing it brings the keyed jobs up; removing it puts them down.
public enum RepositoryKey {
    /// The jobs that need the key, as `svctl add` makes them.
    public static let keyedJobs = ["verify", "forget"]

    public static func store(clientDirectory: String, label: String, from source: String) throws(SvctlError) -> [String] {
        let bytes: [UInt8]
        do throws(Errno) {
            bytes = try FileSystem.readBytes(source, limit: 65536)
        } catch {
            throw SvctlError.failed("cannot read the password file \(source): \(error)")
        }
        let password = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).first ?? []
        guard !password.isEmpty else { throw SvctlError.failed("the password file \(source) is empty (its first line is the password)") }
        let path = clientDirectory + "/" + Verify.passwordFileName
        unlink(path + ".new")
        do throws(Errno) {
            try FileSystem.writeAtomically(path, Array(password) + [UInt8(ascii: "\n")], mode: 0o600)
        } catch {
            throw SvctlError.failed("cannot write \(path): \(error)")
        }
        chmod(path, 0o600)
        ClientFiles.giveToClient(path, clientDirectory: clientDirectory)
        var lines = ["\(label): repository password stored in \(path) (mode 0600)"]
        for job in jobs(clientDirectory) {
            try ClientFiles.acting(as: ClientFiles.owner(ofServiceDirectory: job)) { () throws(SvctlError) in _ = unlink(job + "/down") }
            lines.append(tell(.up, job: job, label: label))
        }
        return lines
    }

    public static func remove(clientDirectory: String, label: String) throws(SvctlError) -> [String] {
        let path = clientDirectory + "/" + Verify.passwordFileName
        var lines: [String] = []
        if unlink(path) == 0 {
            lines.append("\(label): repository password removed")
        } else if FileSystem.lastErrno == .noSuchFileOrDirectory {
            lines.append("\(label): no repository password was stored")
        } else {
            throw SvctlError.failed("cannot remove \(path): \(FileSystem.lastErrno)")
        }
        for job in jobs(clientDirectory) {
            try ClientFiles.acting(as: ClientFiles.owner(ofServiceDirectory: job)) { () throws(SvctlError) in
                let fd = open(job + "/down", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
                if fd >= 0 { close(fd) }
            }
            lines.append(tell(.down, job: job, label: label))
        }
        return lines
    }

    private static func jobs(_ clientDirectory: String) -> [String] {
        keyedJobs.map { clientDirectory + "/services/" + $0 }.filter { FileSystem.exists($0 + "/run") }
    }

    /// Sends the letter when a supervisor runs the job; the `down` file rules otherwise.
    private static func tell(_ command: Command, job: String, label: String) -> String {
        let name = label + "/" + (job.split(separator: "/").last.map(String.init) ?? job)
        let state = command == .up ? "up" : "down"
        do throws(SvctlError) {
            try Control.send(command, to: job, label: name)
            return "\(name): \(state)" + (command == .up ? " (its schedule runs)" : "")
        } catch {
            return "\(name): \(state) when the client is enabled"
        }
    }
}

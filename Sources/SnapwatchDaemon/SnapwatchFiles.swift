import SvBase
import SvSystem
import SystemPackage

/// snapwatch's two files: `state` (what was delivered, fsynced) and `backup-status` (what
/// svctl reads). A write that fails (ENOSPC, EIO, a read-only remount) is tried again on a
/// timer, 250 ms doubling to 4 s, until it succeeds: one line when it starts failing, one
/// when it works again. Watching and delivering go on meanwhile.
extension Snapwatch {
    func saveState() {
        do {
            try FileSystem.writeDurably(options.stateFile, Array(record.stateText(delivered: queue.delivered).utf8))
            stateUnsaved = false
        } catch {
            stateUnsaved = true
            failed("state \(options.stateFile)", error, consequence: "delivered snapshots may be delivered again")
        }
        writeStatus()
    }

    func writeStatus() {
        guard let path = options.statusFile else { return settle() }
        record.waiting = queue.waiting
        record.failures = queue.failures
        let text = record.statusText()
        guard text != writtenStatus else { return settle() }
        do {
            try FileSystem.writeAtomically(path, Array(text.utf8))
            writtenStatus = text
        } catch {
            failed("status \(path)", error, consequence: "svctl shows the last one written")
            return
        }
        settle()
    }

    /// The timer for a retry fired: write what is still unwritten.
    func retryFiles() {
        filesRetryAt = nil
        if stateUnsaved { saveState() } else { writeStatus() }
    }

    private func failed(_ what: String, _ error: Errno, consequence: String) {
        if !filesFailing { Diagnostics.error("cannot write \(what): \(error) (\(consequence); trying again until it can)") }
        filesFailing = true
        guard filesRetryAt == nil else { return }
        filesRetryDelay = filesRetryDelay == 0 ? 250 * nanosPerMilli : min(4 * nanosPerSecond, filesRetryDelay * 2)
        filesRetryAt = EventLoop.now + filesRetryDelay
    }

    /// Everything written: say so once after a failure.
    private func settle() {
        guard filesFailing, !stateUnsaved, options.statusFile == nil || writtenStatus == record.statusText() else { return }
        filesFailing = false
        filesRetryDelay = 0
        filesRetryAt = nil
        Diagnostics.info("state and status written again")
    }
}

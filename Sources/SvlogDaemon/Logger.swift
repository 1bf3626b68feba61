import CSupport
import Glibc
import SvBase
import SvSystem
import SystemPackage

/// svlog's event loop: stdin lines to log directories, svlogd's way, losing none.
///
/// Input is peeked, formatted per directory, written, and only then consumed (see `LogInput`).
/// A write that fails (a full disk) pauses reading and is retried every 3 s; the service
/// blocks on its full pipe meanwhile, as with svlogd, but nothing read is ever dropped.
public final class Logger {
    let options: LogOptions
    let loop: EventLoop
    let input: LogInput
    var directories: [LogDirectory]
    /// Line splitting and selection: the pure part (see `LineChunker`).
    var chunker: LineChunker
    var exiting = false
    var pausedUntil: Int64?
    /// A paused write is due again: process even without new input.
    var retryDue = false
    /// A partial line waits in the pipe for its rest (so that a line is matched whole, and one
    /// written by a killed logger is never split across files); past 2 s the piece is written.
    var partialWaitUntil: Int64?
    /// Whether the last `process` let any input go: the line waiting now is a new one.
    var consumedSome = false
    static let partialWaitLimit: Int64 = 2 * nanosPerSecond
    /// After TERM, how long the line in progress may wait for its newline (the same 2 s as a
    /// partial line); then what there is is written with a newline, and svlog exits.
    var exitDeadline: Int64?
    /// How stdin is watched now; nil when it cannot be (a regular file: always readable).
    var inputTrigger: EventLoop.Trigger?
    var rotateAllPending = false
    var reopenPending = false
    /// Per directory, how much of the unconsumed input it has written or holds in `pending`:
    /// a retry after a failed write skips that much, so nothing is written twice.
    var writtenUpTo: [Int]
    static let inputToken: UInt64 = 3
    static let retryPeriod: Int64 = 3 * nanosPerSecond

    public init(options: LogOptions) throws {
        self.options = options
        loop = try EventLoop(signals: [SIGHUP, SIGALRM, SIGTERM, SIGCHLD, SIGIO])
        input = LogInput(minimumBuffer: options.bufferSize)
        directories = options.directories.map { LogDirectory(path: $0, verbose: options.verbose) }
        for directory in directories { directory.inputIdentity = input.identity }
        writtenUpTo = Array(repeating: 0, count: directories.count)
        chunker = LineChunker(rules: directories.map(\.rules), lineLength: options.lineLength)
        // Level-triggered: a pipe that is never emptied gets no edge when a blocked writer fills it.
        do {
            try loop.add(0, token: Logger.inputToken)
            inputTrigger = .level
            if input.isPipe {
                // SIGIO on every write into the pipe, even one that blocks on a full pipe (epoll
                // gives no edge then): what wakes the loop while a partial line waits.
                _ = fcntl(0, F_SETOWN, getpid())
                _ = fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_ASYNC)
            }
        } catch {
            // A regular file as stdin: epoll refuses it (EPERM), and reads never block:
            // `process` reads it to its end in one go.
            guard error == .notPermitted else { throw error }
        }
    }

    /// Opens every directory; false when none can be used.
    func openDirectories() -> Bool {
        for directory in directories {
            directory.close()
            do { try directory.open() } catch { Diagnostics.error(error.description) }
        }
        // Called between lines only: the new rules apply from the next line on.
        chunker = LineChunker(rules: directories.map(\.rules), lineLength: options.lineLength)
        return directories.contains { $0.isOpen }
    }

    public func run() -> Int32 {
        guard openDirectories() else {
            Diagnostics.error("no usable log directory: exiting")
            return 111
        }
        resumeMidLine()
        process(partialDue: false)
        watchInput()
        while true {
            if finished() { return 0 }
            loop.setDeadline(nextDeadline())
            for event in loop.waitEvents() {
                switch event.token {
                case EventLoop.signalToken: handleSignals()
                case EventLoop.timerToken: loop.acknowledgeTimer()
                case Logger.inputToken where event.hangUp: input.writersHungUp()
                default: break
                }
            }
            rotateByAge()
            let partialDue = (partialWaitUntil.map { EventLoop.now >= $0 } ?? false) || exitWaitOver
            if partialDue { partialWaitUntil = nil }
            process(partialDue: partialDue)
            // A HUP or ALRM read while processing is acted on now, not at the next wakeup.
            if !chunker.midLine && pausedUntil == nil { betweenLines() }
            watchInput()
        }
    }

    /// Directories whose `current` a killed predecessor left inside a line: the pipe's head
    /// says whether the line goes on, or whether its bytes are still there to write again
    /// (MidLineResumption); all such directories go the same way, as one write fed them all.
    private func resumeMidLine() {
        let cut = directories.indices.filter { directories[$0].isOpen && directories[$0].crashLeftMidLine }
        guard !cut.isEmpty else { return }
        _ = input.peek()
        let head = input.buffer[0..<input.count]
        let stampLength = LogStamp.text(options.stamp, unixNanos: 0).count
        let decisions = cut.map { i in
            let tail = directories[i].currentTail(limit: input.buffer.count)
            return MidLineResumption.decide(tail: tail[...], fromStart: tail.count == directories[i].size,
                                            headerLength: stampLength + directories[i].prefix.count, input: head)
        }
        if decisions.allSatisfy({ $0 != .continueLine }) {
            for (i, decision) in zip(cut, decisions) { directories[i].resume(decision) }
        } else {
            for i in cut { directories[i].resume(.continueLine) }
            chunker.continueLine(in: directories.map { $0.isOpen && $0.crashLeftMidLine })
        }
    }

    /// Unconsumed input keeps a pipe readable, so a level-triggered loop would wake at once,
    /// forever: while a write error pauses, stdin is not watched; while a partial line waits
    /// for its rest, only SIGIO (new data written) wakes the loop, and a timer ends the wait.
    private func watchInput() {
        let wanted: EventLoop.Trigger
        if pausedUntil != nil {
            wanted = .off
            partialWaitUntil = nil
        } else if input.count > 0 && !input.atEOF {
            wanted = input.isPipe ? .off : .level
            if partialWaitUntil == nil || consumedSome { partialWaitUntil = EventLoop.now + Logger.partialWaitLimit }
        } else {
            wanted = .level
            partialWaitUntil = nil
        }
        guard let current = inputTrigger, current != wanted else { return }
        loop.setTrigger(0, token: Logger.inputToken, wanted)
        inputTrigger = wanted
    }

    /// Exit once the input ended or TERM came, the line in progress is complete, and processors are done.
    private func finished() -> Bool {
        if (input.atEOF || exitWaitOver) && chunker.lineInProgress && input.count == 0 {
            // The input ended (or TERM's wait did) inside a line already partly written: end it.
            for (i, directory) in directories.enumerated() where chunker.midLine && directory.isOpen && chunker.selected[i] {
                directory.pending.append(UInt8(ascii: "\n"))
                try? directory.flush()
            }
            chunker.endLine()
        }
        // Paused with TERM: what is unwritten is still in the pipe for the next logger.
        let pausedPipe = pausedUntil != nil && exiting && input.isPipe
        guard (exiting || input.atEOF) && !chunker.midLine && (!chunker.mayStartOneLine || pausedPipe)
                && (pausedUntil == nil || pausedPipe) else {
            return false
        }
        guard !input.atEOF || input.count == 0 || exiting else { return false }
        for directory in directories {
            try? directory.flush()
            while let pid = directory.processorPid {
                var status: Int32 = 0
                if waitpid(pid, &status, 0) == pid { directory.processorExited(status: status) } else { break }
            }
            directory.close()
        }
        return true
    }

    /// TERM's wait for the newline of the line in progress is over.
    private var exitWaitOver: Bool { exitDeadline.map { EventLoop.now >= $0 } ?? false }

    private func nextDeadline() -> Int64? {
        var deadline = [pausedUntil, partialWaitUntil, exitDeadline].compactMap { $0 }.min()
        for directory in directories {
            if let due = directory.ageDeadline { deadline = min(deadline ?? due, due) }
        }
        return deadline
    }

    private func handleSignals() {
        for sig in loop.pendingSignals() {
            switch sig {
            case SIGTERM:
                guard !exiting else { break }
                exiting = true
                chunker.terminate(inputPending: input.count > 0)
                if chunker.lineInProgress { exitDeadline = EventLoop.now + Logger.partialWaitLimit }
            case SIGALRM: rotateAllPending = true
            case SIGHUP: reopenPending = true
            case SIGCHLD: reapProcessors()
            case SIGIO: break  // new input: the loop processes after every wakeup
            default: break
            }
        }
    }

    private func reapProcessors() {
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid <= 0 { return }
            for directory in directories where directory.processorPid == pid {
                directory.processorExited(status: status)
                if directory.rotationPending { try? directory.rotate() }
            }
        }
    }

    private func rotateByAge() {
        let now = EventLoop.now
        for directory in directories where !chunker.midLine {
            if let due = directory.ageDeadline, due <= now { try? directory.rotate() }
        }
    }

    /// Things done between lines: reopen on HUP, rotate on ALRM.
    private func betweenLines() {
        if reopenPending {
            reopenPending = false
            if !openDirectories() { Diagnostics.error("no usable log directory after HUP") }
        }
        if rotateAllPending {
            rotateAllPending = false
            for directory in directories where directory.isOpen { try? directory.rotate() }
        }
    }

    // MARK: - lines

    /// Processes everything available, chunk by chunk, until input waits or writing pauses.
    /// `partialDue`: a partial line has waited its 2 s for the rest: write the piece it has.
    private func process(partialDue: Bool) {
        consumedSome = false
        if let until = pausedUntil {
            guard EventLoop.now >= until else { return }
            pausedUntil = nil
            retryDue = true
        }
        if !chunker.midLine { betweenLines() }
        // What a failed write left in a directory's buffer goes first.
        for directory in directories where directory.isOpen && !directory.pending.isEmpty {
            do {
                try directory.flush()
            } catch {
                if error == .noSpace && directory.makeRoom() { continue }
                _ = pause(directory, error)
                return
            }
        }
        while true {
            handleSignals()  // a TERM that came while busy stops at the next line's end
            let grew = input.peek()
            guard input.count > 0, grew || input.atEOF || retryDue || partialDue else { return }
            retryDue = false
            guard let consumed = processChunk(writePartial: partialDue) else { return }  // paused on a write error
            input.consume(consumed)
            if consumed > 0 { consumedSome = true }
            for i in writtenUpTo.indices { writtenUpTo[i] = 0 }
            if !chunker.midLine { betweenLines() }
            // Only a partial line waits: wait for more. A regular file (never watched) needs no
            // wait: the next read brings the rest or its end.
            let regularFile = inputTrigger == nil
            if consumed == 0 && (!regularFile || input.atEOF) { return }
        }
    }

    /// Formats and writes the complete lines at the head of the input (or a piece of an
    /// over-long line, or with `writePartial` of one that waited long enough); returns how
    /// many input bytes are now in every log, nil when paused.
    private func processChunk(writePartial: Bool) -> Int? {
        let stamp = LogStamp.text(options.stamp, unixNanos: EventLoop.wallNow.unixNanos)
        let total = input.count
        // A pipe is full by pages, not bytes: a partial line left in it must not hold more than
        // half of it, or the writer could block before the newline comes.
        let limits = LineChunker.Limits(atEOF: input.atEOF, writePartial: writePartial, exiting: exiting,
                                        pieceSize: max(4096, input.fullAt / 2))
        // Worked on a copy, kept once the chunk is written: a paused write retries from here.
        var chunker = self.chunker
        let end = input.buffer.withUnsafeMutableBufferPointer { raw -> Int? in
            let bytes = UnsafeMutableBufferPointer(rebasing: raw[0..<total])
            if options.replacement != nil { replaceUnprintable(bytes) }
            let view = UnsafeBufferPointer(bytes)
            var end = 0
            if takesWholeLines(chunker, view) {
                guard let whole = writeWholeLines(view, stamp: stamp) else { return nil }
                end = whole
            }
            while let line = chunker.next(view, from: end, limits) {
                add(line, of: view, chunker, stamp: stamp)
                end = line.end
                if line.complete, !rotateIfFull(inputEnd: end) { return nil }
            }
            for (i, directory) in directories.enumerated() where directory.isOpen {
                if !write(directory, i, inputEnd: end) { return nil }
            }
            return end
        }
        if end != nil { self.chunker = chunker }
        return end
    }

    /// Whether every line goes to every directory as it is, after its stamp and prefix: no
    /// rules, no line begun (TERM's rule of one more line is the line-by-line path's), and no
    /// retry inside a line (a piece written before a pause: the rest goes without a stamp).
    private func takesWholeLines(_ chunker: LineChunker, _ input: UnsafeBufferPointer<UInt8>) -> Bool {
        !chunker.hasRules && !chunker.midLine && !exiting
            && writtenUpTo.allSatisfy { $0 == 0 || input[$0 - 1] == UInt8(ascii: "\n") }
    }

    /// The whole lines at the head of `input`, directory by directory: each one's output in
    /// one pass (straight from the input when it has neither stamp nor prefix), rotated after
    /// the line svlogd's rule rotates after, as `rotateIfFull` does line by line. Returns
    /// where the whole lines end, nil when paused; what follows (a partial line) is the
    /// line-by-line path's.
    private func writeWholeLines(_ input: UnsafeBufferPointer<UInt8>, stamp: [UInt8]) -> Int? {
        guard let base = input.baseAddress, case let last = sv_last_newline(base, input.count), last >= 0 else { return 0 }
        let whole = last + 1
        let bytes = UnsafeRawBufferPointer(input)
        for (i, directory) in directories.enumerated() where directory.isOpen {
            let header = directory.prefix.isEmpty ? stamp : stamp + directory.prefix
            // What a retry finds below `writtenUpTo` is in this directory's log already; a
            // retry also finds a rotation still due (its write or its rename failed), done
            // before anything more is written, as `rotateIfFull` does line by line.
            var from = writtenUpTo[i]
            while true {
                if directory.wantsRotation(lineLength: options.lineLength) {
                    do { try directory.rotate() } catch {
                        _ = pause(directory, error)
                        return nil
                    }
                }
                guard from < whole else { break }
                let room = directory.roomBeforeRotation(lineLength: options.lineLength)
                let cut: Int
                if header.isEmpty {
                    cut = Self.lineEnd(in: bytes, from: from, reaching: room, before: whole)
                    writtenUpTo[i] = cut
                    do {
                        try directory.writeThrough(UnsafeRawBufferPointer(rebasing: bytes[from..<cut]))
                    } catch {
                        // The rest is in the directory's `pending` now, retried as any output.
                        if !write(directory, i, inputEnd: cut) { return nil }
                    }
                } else {
                    let (taken, failure) = header.withUnsafeBytes {
                        directory.writeLines(UnsafeRawBufferPointer(rebasing: bytes[from..<whole]), header: $0, room: room)
                    }
                    cut = from + taken
                    writtenUpTo[i] = cut
                    if failure != nil, !write(directory, i, inputEnd: cut) { return nil }
                }
                from = cut
            }
        }
        return whole
    }

    /// The end of the line in `bytes` that reaches `room` bytes past `from` (nil: `end`); the
    /// bytes end with a newline at `end`.
    private static func lineEnd(in bytes: UnsafeRawBufferPointer, from: Int, reaching room: Int?, before end: Int) -> Int {
        guard let room, case let searchFrom = from + max(room, 1) - 1, searchFrom < end,
              let newline = UnsafeRawBufferPointer(rebasing: bytes[..<end]).newline(from: searchFrom) else { return end }
        return newline + 1
    }

    /// Appends one line (or piece) to the output of every directory that selects it; a retry
    /// after a failed write skips what a directory already has (or holds in `pending`).
    private func add(_ line: LineChunker.Line, of input: UnsafeBufferPointer<UInt8>, _ chunker: LineChunker,
                     stamp: [UInt8]) {
        // By index, the directories unretained: the array holds them for the logger's life, and
        // a retain and a release per directory per line were an eighth of svlog's time.
        for i in directories.indices where line.end > writtenUpTo[i] {
            let directory = unsafe unsafeBitCast(directories[i], to: Unmanaged<LogDirectory>.self)
            guard directory._withUnsafeGuaranteedRef({ $0.isOpen }) else { continue }
            // A retry inside the line (a piece of it written before a pause, its stamp with
            // it): only the rest, as the line going on.
            var line = line
            if writtenUpTo[i] > line.start {
                line.start = writtenUpTo[i]
                line.contentEnd = max(line.contentEnd, line.start)
                line.starting = false
            }
            writtenUpTo[i] = line.end
            directory._withUnsafeGuaranteedRef { directory in
                if let copy = chunker.stderrCopy(line, of: input, directory: i, stamp: stamp, prefix: directory.prefix) {
                    try? FileSystem.writeAll(2, copy)
                }
                chunker.format(line, of: input, directory: i, stamp: stamp, prefix: directory.prefix, into: &directory.pending)
            }
        }
    }

    /// Size rotation at a line's end, as svlogd does it; false when a write failed.
    private func rotateIfFull(inputEnd: Int) -> Bool {
        for (i, directory) in directories.enumerated() where directory.isOpen {
            guard directory.wantsRotation(lineLength: options.lineLength) else { continue }
            if !write(directory, i, inputEnd: inputEnd) { return false }
            do { try directory.rotate() } catch { return pause(directory, error) }
        }
        return true
    }

    private func write(_ directory: LogDirectory, _ index: Int, inputEnd: Int) -> Bool {
        while true {
            do {
                try directory.flush()
                return true
            } catch {
                if error == .noSpace && directory.makeRoom() { continue }
                return pause(directory, error)
            }
        }
    }

    /// Keeps the unwritten output in the directory's buffer and retries in 3 s.
    private func pause(_ directory: LogDirectory, _ error: Errno) -> Bool {
        directory.reportPause(error)
        pausedUntil = EventLoop.now + Logger.retryPeriod
        return false
    }

    private func replaceUnprintable(_ bytes: UnsafeMutableBufferPointer<UInt8>) {
        guard let replacement = options.replacement else { return }
        for i in bytes.indices {
            let c = bytes[i]
            if c == UInt8(ascii: "\n") { continue }
            if c < 32 || c > 126 || options.replaceSet.contains(c) { bytes[i] = replacement }
        }
    }
}

import SvBase
import SvFormats
import SvSupervision
import SvSystem

/// A job's schedule at run time: what its timetable says, what `last-run` remembers, and
/// the due time the wall-clock timer is armed for.
struct JobState {
    var timetable: JobTimetable
    var record: JobRecord
    /// When this svtree first saw the job: an `every` job never run starts one offset after.
    let since: WallTime
    var nextDue: WallTime?
    /// Monotonic start of the run in progress, for its duration.
    var runStartedAt: Int64?
}

/// Jobs: services with a `schedule`, started at their due times by one wall-clock timer.
extension Supervisor {
    static let zone = SystemZone()

    /// A new job entry: its last run from `last-run`, and its first due time (catch-up
    /// included: a due time missed while nothing ran is due now).
    func setUpJob(_ entry: Entry) {
        guard let timetable = entry.definition.job else { return }
        let path = entry.definition.path + "/" + JobRecord.fileName
        let record = (try? FileSystem.readBytes(path, limit: 4096)).map { JobRecord(parsing: String(decoding: $0, as: UTF8.self)) }
        let now = EventLoop.wallNow
        var job = JobState(timetable: timetable, record: record ?? JobRecord(), since: now)
        job.nextDue = timetable.due(lastStart: job.record.lastStart, now: now, since: now, zone: Self.zone)
        entry.job = job
        if jobTimer == nil {
            do {
                let timer = try WallClockTimer()
                try loop.add(timer.fd, token: Supervisor.jobTimerToken)
                jobTimer = timer
            } catch {
                Diagnostics.error("\(directory)/\(entry.definition.name): no timer for jobs (\(error)): jobs do not run")
            }
        }
    }

    /// The earliest due time of the jobs that are not suspended, or nothing.
    func armJobTimer() {
        guard let jobTimer else { return }
        let due = entries.values.compactMap { $0.machine.main.suspended ? nil : $0.job?.nextDue }.min()
        jobTimer.arm(due)
    }

    /// The timer fired: start what is due; a set clock moves every due time.
    func handleJobTimer() {
        guard let jobTimer else { return }
        let clockSet = jobTimer.acknowledge()
        let now = EventLoop.wallNow
        for entry in Array(entries.values) {
            guard var job = entry.job else { continue }
            if clockSet {
                job.nextDue = job.timetable.due(lastStart: job.record.lastStart, now: now, since: job.since, zone: Self.zone)
                entry.job = job
            }
            guard let due = job.nextDue, due <= now else { continue }
            // Moved on first: a start (below, through perform) sets it from the start time.
            job.nextDue = job.timetable.due(afterSkipped: due, zone: Self.zone)
            entry.job = job
            perform(entry.machine.handle(.due, for: .main, now: EventLoop.now), on: entry)
            dirtyStatus.insert(StatusKey(identity: entry.identity, role: .main))
        }
    }

    /// A job's run started (by its due time or by `o`): `last-run` records it at once, so a
    /// restart of svtree does not run it again for the same due time.
    func jobStarted(_ entry: Entry) {
        guard var job = entry.job else { return }
        let now = EventLoop.wallNow
        job.record.lastStart = now
        job.runStartedAt = EventLoop.now
        job.nextDue = job.timetable.due(lastStart: now, now: now, since: job.since, zone: Self.zone)
        entry.job = job
        writeJobRecord(entry, job.record)
    }

    /// A job's run ended: its duration and exit in `last-run`.
    func jobEnded(_ entry: Entry, _ status: ExitStatus) {
        guard var job = entry.job, let started = job.runStartedAt, let start = job.record.lastStart else { return }
        job.record.lastEnded = JobRecord.Ended(start: start, durationMs: (EventLoop.now - started) / nanosPerMilli, exit: status)
        job.runStartedAt = nil
        entry.job = job
        writeJobRecord(entry, job.record)
    }

    /// `u` on a suspended job: the schedule goes on from now (what fell due while it was
    /// suspended does not run).
    func jobResumed(_ entry: Entry, wasSuspended: Bool) {
        guard wasSuspended, !entry.machine.main.suspended, var job = entry.job else { return }
        job.nextDue = job.timetable.due(afterSkipped: EventLoop.wallNow, zone: Self.zone)
        entry.job = job
    }

    /// SIGHUP re-read the schedule: due times follow the one now in the file.
    func jobReloaded(_ entry: Entry) {
        guard var job = entry.job, let timetable = entry.definition.job, timetable != job.timetable else { return }
        let now = EventLoop.wallNow
        job.timetable = timetable
        job.nextDue = timetable.due(lastStart: job.record.lastStart, now: now, since: job.since, zone: Self.zone)
        entry.job = job
        dirtyStatus.insert(StatusKey(identity: entry.identity, role: .main))
    }

    private func writeJobRecord(_ entry: Entry, _ record: JobRecord) {
        let path = entry.definition.path + "/" + JobRecord.fileName
        do {
            try FileSystem.writeDurably(path, Array(record.text.utf8))
        } catch {
            Diagnostics.warn("\(path): cannot write (\(error)): a restart may run the job again for the same due time")
        }
    }
}

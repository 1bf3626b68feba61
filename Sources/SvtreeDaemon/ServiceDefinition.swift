import Glibc
import SvBase
import SvSupervision
import SvSystem
import SystemPackage

/// One entry of a supervised directory, checked: a directory (or a link to one) with an
/// executable `run`, and optionally `log/run`, `finish`, `down`, timeouts and control scripts.
public struct ServiceDefinition: Sendable {
    public var name: String
    /// The physical path of the service directory (links resolved).
    public var path: String
    public var identity: FileSystem.Identity
    public var main: ServiceSettings
    public var log: ServiceSettings?
    public var mainDown: Bool
    public var logDown: Bool
    /// A job's schedule and spread offset (the directory has `schedule`); nil for a service.
    public var job: JobTimetable?

    public var logPath: String { path + "/log" }

    /// Why an entry cannot be started, and which directories to watch for a fix.
    public struct Problem: Sendable, Equatable, Error {
        public var message: String
        public var watch: [String]
        /// Out of descriptors: no change to a file fixes it (and watching our own attempts
        /// would loop); retried on a timer instead.
        public var exhausted = false
    }

    /// The identity of an entry without checking its contents: a running entry is not re-checked.
    public static func identity(of entryPath: String) -> FileSystem.Identity? {
        guard let info = try? FileSystem.info(entryPath), info.kind == .directory else { return nil }
        return info.identity
    }

    public static func load(directory: String, name: String) throws(Problem) -> ServiceDefinition {
        let entryPath = directory + "/" + name
        let label = "\(directory)/\(name)"
        guard let linkInfo = try? FileSystem.info(entryPath, followLinks: false) else {
            throw Problem(message: "", watch: [])  // removed while scanning: nothing to say
        }
        let info: FileSystem.Info
        switch Result(catching: { () throws(Errno) in try FileSystem.info(entryPath) }) {
        case .success(let found):
            info = found
        case .failure(let error):
            let target = FileSystem.readLink(entryPath) ?? "?"
            let absolute = target.hasPrefix("/") ? target : directory + "/" + target
            let what = linkInfo.kind != .symlink ? "cannot stat"
                : error == .tooManySymbolicLinkLevels ? "symlink loop through \(target)" : "dangling symlink to \(target)"
            throw Problem(message: "\(label): \(what) (\(error))", watch: [FileSystem.parentDirectory(absolute)])
        }
        guard info.kind == .directory else {
            throw Problem(message: "\(label): not a directory", watch: [])
        }
        guard let path = FileSystem.realPath(entryPath) else {
            let error = FileSystem.lastErrno
            // Gone between the two looks: removed while scanning, nothing to say.
            let message = error == .noSuchFileOrDirectory ? "" : "\(label): cannot resolve its path (\(error))"
            throw Problem(message: message, watch: [])
        }
        if let message = checkRunnable(path, label: label) {
            throw Problem(message: message, watch: [path])
        }
        var definition = ServiceDefinition(name: name, path: path, identity: info.identity,
                                           main: settings(of: path, label: label), log: nil,
                                           mainDown: FileSystem.exists(path + "/down"),
                                           logDown: FileSystem.exists(path + "/log/down"))
        if let job = try jobTimetable(path, label: label) {
            definition.job = job
            definition.main.isJob = true
            definition.main.timeoutRun = milliseconds(path + "/timeout-run", label: label).map { $0 * nanosPerMilli }
        }
        if let logInfo = try? FileSystem.info(path + "/log"), logInfo.kind == .directory {
            if let message = checkRunnable(path + "/log", label: label + "/log") {
                throw Problem(message: message, watch: [path, path + "/log"])
            }
            definition.log = settings(of: path + "/log", label: label + "/log")
        }
        return definition
    }

    /// Re-reads the settings files (SIGHUP).
    /// A job's schedule is re-read too; a schedule broken since keeps the one it had (said once).
    public mutating func reloadSettings() {
        main = ServiceDefinition.settings(of: path, label: name)
        if log != nil { log = ServiceDefinition.settings(of: logPath, label: name + "/log") }
        guard job != nil else { return }
        do {
            if let reloaded = try ServiceDefinition.jobTimetable(path, label: name) { job = reloaded }
        } catch {
            Diagnostics.warn(error.message + " (keeping the schedule it had)")
        }
        main.isJob = true
        main.timeoutRun = ServiceDefinition.milliseconds(path + "/timeout-run", label: name).map { $0 * nanosPerMilli }
    }

    static func checkRunnable(_ path: String, label: String) -> String? {
        switch Result(catching: { () throws(Errno) in try FileSystem.info(path + "/run") }) {
        case .failure(let error) where error == .noSuchFileOrDirectory:
            return "\(label): no run file: not starting it until it appears"
        case .failure(let error):
            return "\(label): cannot look at run (\(error)) as uid \(geteuid())"
        case .success(let run) where run.kind == .directory:
            return "\(label): run is a directory, not a program"
        case .success(let run):
            if !FileSystem.isExecutableFile(path + "/run") {
                // Execute bits set, yet refused: it is this user that may not run it.
                if run.mode & 0o111 != 0 {
                    return "\(label): run may not be executed by uid \(geteuid()) (\(FileSystem.lastErrno)): "
                        + "not starting it until that changes"
                }
                return "\(label): run is not executable (chmod +x it): not starting it until it is"
            }
            return nil
        }
    }

    /// `warn`: where a bad value's line goes (at each start, said once per text).
    static func settings(of path: String, label: String,
                         warn: (String) -> Void = { Diagnostics.warn($0) }) -> ServiceSettings {
        var settings = ServiceSettings()
        if let ms = milliseconds(path + "/timeout-kill", label: label, warn: warn) { settings.timeoutKill = ms * nanosPerMilli }
        if let ms = milliseconds(path + "/timeout-finish", label: label, warn: warn) { settings.timeoutFinish = ms * nanosPerMilli }
        if let text = FileSystem.readLine(path + "/down-signal") {
            if let sig = SignalName.parse(text) {
                settings.downSignal = sig
            } else {
                warn("\(label)/down-signal: unknown signal \"\(text)\": using TERM")
            }
        }
        if let text = FileSystem.readLine(path + "/notification-fd") {
            if let fd = Int32(text), notificationDescriptors.contains(fd) {
                settings.notificationFD = fd
            } else {
                warn("\(label)/notification-fd: not a descriptor number from 3 to 1023: \"\(text)\":"
                    + " readiness not tracked")
            }
        }
        (settings.hasFinish, settings.controlScripts) = scripts(of: path)
        return settings
    }

    /// Whether `finish` and which `control/X` are executable: a few stats, done at each use.
    static func scripts(of path: String) -> (hasFinish: Bool, control: Set<ControlLetter>) {
        var control: Set<ControlLetter> = []
        for letter in ControlLetter.allCases
        where FileSystem.isExecutableFile(path + "/control/" + String(letter.character)) {
            control.insert(letter)
        }
        return (FileSystem.isExecutableFile(path + "/finish"), control)
    }

    /// A job's `schedule` and `schedule-spread`, nil without a `schedule`; a bad one is a
    /// problem: the job does not run until the file is fixed (its directory is watched).
    static func jobTimetable(_ path: String, label: String) throws(Problem) -> JobTimetable? {
        let file = path + "/schedule"
        guard let info = try? FileSystem.info(file) else { return nil }
        func problem(_ what: String) -> Problem {
            Problem(message: "\(label)/\(what): not running the job until it is fixed", watch: [path])
        }
        guard info.kind == .file else { throw problem("schedule is not a file") }
        guard let bytes = try? FileSystem.readBytes(file, limit: 4097) else { throw problem("schedule cannot be read") }
        guard bytes.count <= 4096 else { throw problem("schedule is larger than 4 kB") }
        let schedule: Schedule
        do {
            schedule = try Schedule.parse(String(decoding: bytes, as: UTF8.self))
        } catch {
            throw problem("schedule \(error)")
        }
        var spread: Int64 = 0
        if let text = FileSystem.readLine(path + "/schedule-spread") {
            do {
                spread = try ScheduleDuration.parse(text)
            } catch {
                throw problem("schedule-spread \(error)")
            }
            guard spread <= 366 * 86_400 * nanosPerSecond else { throw problem("schedule-spread is longer than a year") }
        }
        return JobTimetable(schedule: schedule, offset: Spread.offset(path: path, window: spread))
    }

    /// 0-2 are the run's stdio; s6 refuses them too.
    static let notificationDescriptors: ClosedRange<Int32> = 3...1023

    static func milliseconds(_ file: String, label: String,
                             warn: (String) -> Void = { Diagnostics.warn($0) }) -> Int64? {
        guard let text = FileSystem.readLine(file) else { return nil }
        guard let value = Int64(text), value >= 0, value < 1 << 40 else {
            warn("\(file): not a number of milliseconds: \"\(text)\": using the default")
            return nil
        }
        return value
    }
}

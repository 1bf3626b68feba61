import CSupport
import Glibc
import SvBase
import SvSupervision
import SvSystem
import SystemPackage

extension Supervisor {
    /// Brings the set of running entries in line with the directory: starts new ones,
    /// tears down removed ones, reports broken ones once and watches them for a fix. Runs
    /// only from `drainActions`, so the actions it asks for are pushed, performed after it.
    func scanDirectory() {
        // A watch is added after the look that asked for it: look again until no watch is new.
        var looks = 1
        while scanOnce() && looks < 4 { looks += 1 }
        // Out of descriptors: try again after 1 s, doubling to 30 s, until it passes.
        if reports.contains(.exhausted) || problems.values.contains(where: \.exhausted) {
            exhaustionRetryDelay = exhaustionRetryDelay == 0 ? nanosPerSecond : min(2 * exhaustionRetryDelay, 30 * nanosPerSecond)
            let at = EventLoop.now + exhaustionRetryDelay
            fallbackRescanAt = min(fallbackRescanAt ?? at, at)
        } else {
            exhaustionRetryDelay = 0
        }
    }

    /// One look at the directory; true if it added a watch.
    private func scanOnce() -> Bool {
        if watcher == nil { fallbackRescanAt = EventLoop.now + Supervisor.fallbackRescanPeriod }
        var present: [FileSystem.Identity: String] = [:]
        var watchPaths: Set<String> = []
        switch Result(catching: { () throws(Errno) in try FileSystem.list(directory) }) {
        case .failure(let error) where error == .tooManyOpenFiles || error == .tooManyOpenFilesInSystem
            || error == .noMemory:
            // A resource ran out, the directory is still there: keep every entry as it is and
            // look again later (stopping them would free descriptors and start a flip-flop).
            reports.say(.exhausted) {
                Diagnostics.error("\(directory): cannot read the directory (\(error)): the descriptor limit "
                    + "(raise LimitNOFILE or ulimit -n); entries kept, retrying")
            }
            return false
        case .failure(let error):
            reports.say(.directoryUnreadable) {
                Diagnostics.error("\(directory): cannot read the directory (\(error)): stopping its entries")
            }
            watchPaths.insert(FileSystem.parentDirectory(directory))
            problems.removeAll()
        case .success(let names):
            let wasUnreadable = reports.clear(.directoryUnreadable)
            if reports.clear(.exhausted) || wasUnreadable { Diagnostics.info("\(directory): readable again") }
            watchPaths.insert(directory)
            for name in names.sorted() where !name.hasPrefix(".") {
                scanEntry(name, present: &present, watchPaths: &watchPaths)
            }
            let names = Set(names)
            problems = problems.filter { names.contains($0.key) }
        }
        dormant = dormant.filter { present[$0] != nil }
        let now = EventLoop.now
        for (identity, entry) in entries where present[identity] == nil {
            perform(entry.machine.teardown(now: now), on: entry)
        }
        guard let (failures, added) = watcher?.watch(exactly: watchPaths) else { return false }
        for (path, error) in failures {
            reports.say(.unwatchable(path)) {
                Diagnostics.warn("\(path): cannot watch for changes (\(error)); send SIGHUP after fixing it")
            }
        }
        return added
    }

    private func scanEntry(_ name: String, present: inout [FileSystem.Identity: String],
                           watchPaths: inout Set<String>) {
        let entryPath = directory + "/" + name
        if let identity = ServiceDefinition.identity(of: entryPath),
           entries[identity] != nil || dormant.contains(identity) || present[identity] != nil {
            problems[name] = nil
            present[identity] = present[identity] ?? name
            return
        }
        do throws(ServiceDefinition.Problem) {
            let definition = try ServiceDefinition.load(directory: directory, name: name)
            if let problem = start(definition) { throw problem }
            problems[name] = nil
            present[definition.identity] = name
        } catch let problem {
            if problems[name]?.message != problem.message && !problem.message.isEmpty {
                Diagnostics.warn(problem.message)
            }
            problems[name] = problem
            watchPaths.formUnion(problem.watch)
        }
    }

    static let logPipeSize: Int32 = 256 << 10

    /// Opens the entry's `supervise/` directories and log pipe and starts it; a problem otherwise.
    func start(_ definition: ServiceDefinition) -> ServiceDefinition.Problem? {
        endPredecessor(definition)
        var directories: [EntryMachine.Role: SuperviseDirectory] = [:]
        do {
            directories[.main] = try SuperviseDirectory(serviceDirectory: definition.path)
            if definition.log != nil {
                directories[.log] = try SuperviseDirectory(serviceDirectory: definition.logPath)
            }
        } catch {
            for directory in directories.values { directory.close() }
            if case .io(_, let errno) = error, errno == .tooManyOpenFiles || errno == .tooManyOpenFilesInSystem {
                return ServiceDefinition.Problem(
                    message: "\(directory)/\(definition.name): \(error.briefDescription): the descriptor limit "
                        + "(raise LimitNOFILE or ulimit -n); retrying", watch: [], exhausted: true)
            }
            // A `supervise` symlink into a directory not made yet (a tmpfs at boot): watch the
            // nearest part of its target that exists, so the entry starts when the rest appears.
            let targets = [definition.path, definition.logPath].compactMap { service -> String? in
                FileSystem.readLink(service + "/supervise").map { $0.hasPrefix("/") ? $0 : service + "/" + $0 }
            }
            return ServiceDefinition.Problem(
                message: "\(directory)/\(definition.name): \(error.briefDescription)",
                watch: [definition.path, definition.path + "/supervise", definition.logPath + "/supervise"]
                    + targets.map(FileSystem.nearestExistingAncestor))
        }
        var pipe: (Int32, Int32)?
        if definition.log != nil {
            var fds: [Int32] = [-1, -1]
            guard sv_pipe_cloexec(&fds) == 0 else {
                let error = FileSystem.lastErrno
                for directory in directories.values { directory.close() }
                return ServiceDefinition.Problem(
                    message: "\(directory)/\(definition.name): cannot create the log pipe (\(error)); retrying",
                    watch: [], exhausted: true)
            }
            // 256 kB, not the 64 kB default: a logger takes four times as much per read
            // (cat | svlog on tmpfs: 372 -> 564 MB/s). Pages come only as lines wait in it;
            // refused (the pipe-user-pages limits), the default stays.
            _ = sv_set_pipe_size(fds[1], Self.logPipeSize)
            pipe = (fds[0], fds[1])
        }
        let entry = Entry(definition: definition, supervise: directories, pipe: pipe)
        for (role, supervise) in directories {
            let token = tokens.allocate()
            do {
                try loop.add(supervise.controlFD, token: token)
            } catch {
                Diagnostics.warn("\(supervise.path)/control: cannot watch (\(error)): control letters are ignored")
                continue
            }
            tokens[token] = .control(definition.identity, role)
            entry.controlTokens.append(token)
        }
        entries[definition.identity] = entry
        setUpJob(entry)
        perform(entry.machine.begin(mainDown: definition.mainDown, logDown: definition.logDown, now: EventLoop.now),
                on: entry)
        return nil
    }
}

import Glibc
@testable import SvSupervision
import Testing

@Suite(.timeLimit(.minutes(10))) struct EntryMachineTests {
    private func started() -> EntryMachine {
        var entry = EntryMachine(main: ServiceSettings(), log: ServiceSettings())
        let actions = entry.begin(mainDown: false, logDown: false, now: 0)
        // The logger starts first, so the service's first line has a reader.
        #expect(actions.first == .unit(.log, .spawnRun))
        #expect(actions.contains(.unit(.main, .spawnRun)))
        _ = entry.handle(.spawned(pid: 10), for: .log, now: 0)
        _ = entry.handle(.spawned(pid: 20), for: .main, now: 0)
        return entry
    }

    @Test func teardownStopsServiceThenClosesPipeThenWaitsForLogger() {
        var entry = started()
        let first = entry.teardown(now: 0)
        #expect(first.contains(.unit(.main, .signal(pid: 20, SIGTERM, .group))))
        #expect(!first.contains(.closeLogPipe))
        #expect(entry.teardown(now: 0).isEmpty)
        // The logger dying meanwhile is restarted: it must drain what the service still writes.
        #expect(entry.handle(.exited(pid: 10, status: .signaled(SIGKILL)), for: .log, now: 1)
            .contains(.unit(.log, .spawnRun)))
        _ = entry.handle(.spawned(pid: 11), for: .log, now: 1)
        let mainDown = entry.handle(.exited(pid: 20, status: .signaled(SIGTERM)), for: .main, now: 2)
        #expect(mainDown.contains(.closeLogPipe))
        #expect(!mainDown.contains(.finished))
        #expect(!mainDown.contains(.unit(.log, .signal(pid: 11, SIGTERM, .group))))
        let logDown = entry.handle(.exited(pid: 11, status: .exited(0)), for: .log, now: 3)
        #expect(logDown.last == .finished)
        #expect(entry.isFinished)
    }

    @Test func exitLetterAlsoEndsTheLoggerByEOF() {
        var entry = started()
        _ = entry.handle(.control(.exit), for: .main, now: 0)
        #expect(!entry.tearingDown)
        let down = entry.handle(.exited(pid: 20, status: .signaled(SIGTERM)), for: .main, now: 1)
        #expect(down.contains(.closeLogPipe))
        #expect(entry.handle(.exited(pid: 10, status: .exited(0)), for: .log, now: 2).contains(.finished))
    }

    @Test func entryWithoutLoggerFinishesWithItsService() {
        var entry = EntryMachine(main: ServiceSettings(), log: nil)
        _ = entry.begin(mainDown: true, logDown: false, now: 0)
        #expect(entry.teardown(now: 0).contains(.finished))
    }
}

import Glibc
import SvBase
import SvSupervision
import Testing

/// A service directory with `schedule`: the machine runs it when due and never keeps it up.
@Suite struct JobMachineTests {
    let second = nanosPerSecond

    func job(timeoutRun: Int64? = nil, down: Bool = false) -> ServiceMachine {
        var settings = ServiceSettings()
        settings.isJob = true
        settings.timeoutRun = timeoutRun
        var machine = ServiceMachine(settings: settings)
        #expect(machine.handle(.begin(startDown: down), now: 0) == [.statusChanged])
        return machine
    }

    @Test func runsWhenDueAndNotAgainOnExit() {
        var machine = job()
        #expect(machine.state == .down && machine.want == .down && !machine.suspended)
        #expect(machine.handle(.due, now: second) == [.spawnRun, .statusChanged])
        _ = machine.handle(.spawned(pid: 10), now: second)
        let ended = machine.handle(.exited(pid: 10, status: .exited(2)), now: 2 * second)
        #expect(!ended.contains(.spawnRun) && machine.state == .down)
        #expect(machine.lastExit == .exited(2) && machine.quickDeaths == 0 && machine.restartAt == nil)
    }

    @Test func aDueTimeThatFindsItRunningIsSkippedAndCounted() {
        var machine = job()
        _ = machine.handle(.due, now: 0)
        _ = machine.handle(.spawned(pid: 10), now: 0)
        #expect(machine.handle(.due, now: second) == [.statusChanged])
        #expect(machine.handle(.due, now: 2 * second) == [.statusChanged])
        #expect(machine.skipped == 2 && machine.pid == 10)
    }

    @Test func downSuspendsAndStopsUpResumesWithoutStarting() {
        var machine = job()
        _ = machine.handle(.due, now: 0)
        _ = machine.handle(.spawned(pid: 10), now: 0)
        let down = machine.handle(.control(.down), now: second)
        #expect(down.contains(.signal(pid: 10, SIGTERM, .group)) && machine.suspended)
        _ = machine.handle(.exited(pid: 10, status: .signaled(SIGTERM)), now: second)
        #expect(machine.handle(.due, now: 2 * second) == [])
        #expect(machine.handle(.control(.up), now: 3 * second) == [.statusChanged])
        #expect(!machine.suspended && machine.state == .down)
        #expect(machine.handle(.due, now: 4 * second) == [.spawnRun, .statusChanged])
    }

    @Test func aDownFileStartsItSuspendedAndOnceStillRuns() {
        var machine = job(down: true)
        #expect(machine.suspended)
        #expect(machine.handle(.due, now: second) == [])
        #expect(machine.handle(.control(.once), now: second) == [.spawnRun, .statusChanged])
    }

    @Test func timeoutRunSendsTheDownSignalThenKill() {
        var machine = job(timeoutRun: 5 * second)
        _ = machine.handle(.due, now: 0)
        _ = machine.handle(.spawned(pid: 10), now: 0)
        #expect(machine.deadline == 5 * second)
        #expect(machine.handle(.tick, now: 4 * second) == [.statusChanged])
        let stop = machine.handle(.tick, now: 5 * second)
        #expect(stop.contains(.signal(pid: 10, SIGTERM, .group)))
        let kill = machine.handle(.tick, now: 5 * second + machine.settings.timeoutKill)
        #expect(kill.contains(.signal(pid: 10, SIGKILL, .group)))
        // The schedule goes on: the next due time runs it again.
        _ = machine.handle(.exited(pid: 10, status: .signaled(SIGKILL)), now: 13 * second)
        #expect(!machine.suspended && machine.handle(.due, now: 20 * second).contains(.spawnRun))
    }

    @Test func aServiceIgnoresDueTimes() {
        var service = ServiceMachine(settings: ServiceSettings())
        _ = service.handle(.begin(startDown: true), now: 0)
        #expect(service.handle(.due, now: 1) == [])
    }
}

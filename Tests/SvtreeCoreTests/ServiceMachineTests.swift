import Glibc
@testable import SvBase
@testable import SvSupervision
import Testing

private let second = nanosPerSecond
private func letter(_ c: Character) -> ControlLetter { ControlLetter(rawValue: c.asciiValue!)! }

/// A machine that has started and runs `pid`, at time `now`.
private func running(_ settings: ServiceSettings = ServiceSettings(), pid: Int32 = 100, now: Int64 = 0) -> ServiceMachine {
    var machine = ServiceMachine(settings: settings)
    #expect(machine.handle(.begin(startDown: false), now: now).contains(.spawnRun))
    _ = machine.handle(.spawned(pid: pid), now: now)
    return machine
}

@Suite(.timeLimit(.minutes(10))) struct ServiceMachineTests {
    @Test func startsUnlessDownFile() {
        var up = ServiceMachine(settings: ServiceSettings())
        #expect(up.handle(.begin(startDown: false), now: 0) == [.spawnRun, .statusChanged])
        var down = ServiceMachine(settings: ServiceSettings())
        #expect(down.handle(.begin(startDown: true), now: 0) == [.statusChanged])
        #expect(down.want == .down && down.state == .down)
    }

    @Test func exitRestartsAtOnceAndKillsLeftovers() {
        var machine = running()
        let actions = machine.handle(.exited(pid: 100, status: .exited(1)), now: 20 * second)
        #expect(actions == [.killLeftovers(session: 100), .spawnRun, .statusChanged])
        #expect(machine.state == .down && machine.quickDeaths == 0)
    }

    @Test func quickDeathsBackOffAndCap() {
        var machine = running()
        var now: Int64 = 0
        var delays: [Int64] = []
        for round in 0..<14 {
            now += 1_000_000
            let actions = machine.handle(.exited(pid: 100 + Int32(round), status: .exited(1)), now: now)
            if actions.contains(.spawnRun) {
                delays.append(0)
            } else {
                delays.append(machine.restartDelay)
                #expect(machine.deadline == now + machine.restartDelay)
                now = machine.deadline!
                #expect(machine.handle(.tick, now: now).contains(.spawnRun))
            }
            _ = machine.handle(.spawned(pid: 101 + Int32(round)), now: now)
        }
        #expect(delays.first == 0)
        #expect(Array(delays[1...4]) == [100, 200, 400, 800].map { $0 * nanosPerMilli })
        #expect(delays.last == RestartPolicy.maximumDelay)
        #expect(machine.quickDeaths == 14)
        // running() started it once; each of the 14 starts after that is a restart.
        #expect(machine.restarts == 14)
    }

    @Test func longRunResetsQuickDeaths() {
        var machine = running()
        _ = machine.handle(.exited(pid: 100, status: .exited(1)), now: 1)
        _ = machine.handle(.spawned(pid: 101), now: 2)
        _ = machine.handle(.exited(pid: 101, status: .exited(1)), now: 3)
        #expect(machine.quickDeaths == 2)
        let restart = machine.deadline!
        _ = machine.handle(.tick, now: restart)
        _ = machine.handle(.spawned(pid: 102), now: restart)
        let actions = machine.handle(.exited(pid: 102, status: .exited(1)), now: restart + RestartPolicy.healthyRun)
        #expect(actions.contains(.spawnRun))
        #expect(machine.quickDeaths == 0)
    }

    @Test func spawnFailureCountsAsExit111() {
        var machine = ServiceMachine(settings: ServiceSettings())
        _ = machine.handle(.begin(startDown: false), now: 0)
        let first = machine.handle(.spawnFailed, now: 1)
        #expect(first.contains(.spawnRun))
        #expect(machine.lastExit == .exited(111))
        let second = machine.handle(.spawnFailed, now: 2)
        #expect(!second.contains(.spawnRun))
        #expect(machine.restartAt != nil)
    }

    @Test func downSendsDownSignalThenKillsGroupAfterTimeout() {
        var settings = ServiceSettings()
        settings.downSignal = SIGHUP
        settings.timeoutKill = 500 * nanosPerMilli
        var machine = running(settings)
        let actions = machine.handle(.control(letter("d")), now: second)
        #expect(actions == [.signal(pid: 100, SIGHUP, .group), .signal(pid: 100, SIGCONT, .group), .statusChanged])
        #expect(machine.want == .down && machine.gotTerm)
        #expect(machine.deadline == second + 500 * nanosPerMilli)
        #expect(machine.handle(.tick, now: second + 400 * nanosPerMilli) == [.statusChanged])
        #expect(machine.handle(.tick, now: second + 500 * nanosPerMilli)
            == [.signal(pid: 100, SIGKILL, .group), .statusChanged])
        let exit = machine.handle(.exited(pid: 100, status: .signaled(SIGKILL)), now: 2 * second)
        #expect(exit == [.killLeftovers(session: 100), .statusChanged])
        #expect(machine.state == .down && machine.deadline == nil)
    }

    @Test func finishRunsWithRunitArgumentsAndIsBounded() {
        var settings = ServiceSettings()
        settings.hasFinish = true
        settings.timeoutFinish = second
        var machine = running(settings)
        let actions = machine.handle(.exited(pid: 100, status: .signaled(SIGTERM)), now: 20 * second)
        #expect(actions == [.killLeftovers(session: 100), .spawnFinish(exitCode: -1, signal: SIGTERM), .statusChanged])
        #expect(machine.state == .finish)
        _ = machine.finishSpawned(pid: 200, now: 20 * second)
        #expect(machine.handle(.tick, now: 21 * second) == [.signal(pid: 200, SIGKILL, .group), .statusChanged])
        let done = machine.handle(.exited(pid: 200, status: .signaled(SIGKILL)), now: 21 * second)
        #expect(done == [.spawnRun, .statusChanged])
    }

    @Test func teardownOfAServiceEndsWithStopped() {
        var machine = running()
        let actions = machine.handle(.teardown(byEOF: false), now: 0)
        #expect(actions.first == .signal(pid: 100, SIGTERM, .group))
        #expect(machine.want == .exit)
        #expect(machine.handle(.exited(pid: 100, status: .signaled(SIGTERM)), now: 1)
            == [.killLeftovers(session: 100), .stopped, .statusChanged])
    }

    @Test func teardownOfALoggerWaitsForEOFThenSignalsThenKills() {
        var settings = ServiceSettings()
        settings.isLogger = true
        settings.timeoutKill = second
        var machine = running(settings)
        #expect(machine.handle(.teardown(byEOF: true), now: 0) == [.statusChanged])
        #expect(machine.stopStage == .awaitingEOF)
        #expect(machine.handle(.tick, now: second)
            == [.signal(pid: 100, SIGTERM, .group), .signal(pid: 100, SIGCONT, .group), .statusChanged])
        #expect(machine.handle(.tick, now: 2 * second) == [.signal(pid: 100, SIGKILL, .group), .statusChanged])
    }

    @Test func teardownWhileDownOrWaitingToRestart() {
        var machine = running()
        _ = machine.handle(.exited(pid: 100, status: .exited(1)), now: 1)
        _ = machine.handle(.spawned(pid: 101), now: 2)
        _ = machine.handle(.exited(pid: 101, status: .exited(1)), now: 3)
        #expect(machine.restartAt != nil)
        #expect(machine.handle(.teardown(byEOF: false), now: 4) == [.stopped, .statusChanged])
        #expect(machine.deadline == nil)
    }

    @Test func lettersInEachState() {
        var machine = running()
        #expect(machine.handle(.control(letter("h")), now: 0).first == .signal(pid: 100, SIGHUP, .process))
        #expect(machine.handle(.control(letter("p")), now: 0).first == .signal(pid: 100, SIGSTOP, .process))
        #expect(machine.paused)
        #expect(machine.handle(.control(letter("c")), now: 0).first == .signal(pid: 100, SIGCONT, .process))
        #expect(!machine.paused)
        #expect(machine.handle(.control(letter("t")), now: 0).first == .signal(pid: 100, SIGTERM, .process))
        #expect(machine.handle(.control(letter("k")), now: 0).first == .signal(pid: 100, SIGKILL, .group))
        for (c, sig) in [("a", SIGALRM), ("i", SIGINT), ("q", SIGQUIT), ("1", SIGUSR1), ("2", SIGUSR2)] {
            #expect(machine.handle(.control(letter(Character(c))), now: 0).first == .signal(pid: 100, sig, .process))
        }
        // Killed on request: restarted at once, not counted as a quick death.
        #expect(machine.handle(.exited(pid: 100, status: .signaled(SIGKILL)), now: 1).contains(.spawnRun))
        #expect(machine.quickDeaths == 0)
        _ = machine.handle(.spawned(pid: 101), now: 1)
        _ = machine.handle(.control(letter("d")), now: 1)
        _ = machine.handle(.exited(pid: 101, status: .signaled(SIGTERM)), now: 2)
        // Down: signals do nothing; o starts once; u starts and keeps it up.
        #expect(machine.handle(.control(letter("h")), now: 3) == [.statusChanged])
        #expect(machine.handle(.control(letter("o")), now: 3) == [.spawnRun, .statusChanged])
        _ = machine.handle(.spawned(pid: 102), now: 3)
        #expect(!machine.handle(.exited(pid: 102, status: .exited(0)), now: 4).contains(.spawnRun))
        #expect(machine.handle(.control(letter("u")), now: 5) == [.spawnRun, .statusChanged])
    }

    @Test func garbageLettersAreIgnored() {
        let machine = running()
        // A byte that is no letter never reaches the machine: it is no ControlLetter.
        for byte in [UInt8(0), 0xff, UInt8(ascii: "z"), UInt8(ascii: "\n"), UInt8(ascii: "e")] {
            #expect(ControlLetter(rawValue: byte) == nil)
        }
        #expect(Set(ControlLetter.allCases.map(\.character)) == Set("udoxtkpchaiq12"))
        #expect(machine.state == .run && machine.want == .up)
    }

    @Test func exitLetterStopsServiceButNotLogger() {
        var machine = running()
        _ = machine.handle(.control(letter("x")), now: 0)
        #expect(machine.want == .exit)
        #expect(machine.handle(.exited(pid: 100, status: .signaled(SIGTERM)), now: 1).contains(.stopped))
        var settings = ServiceSettings()
        settings.isLogger = true
        var logger = running(settings)
        #expect(logger.handle(.control(letter("x")), now: 0) == [.statusChanged])
        #expect(logger.want == .up)
    }

    @Test func controlScriptReplacesDefaultSignalWhenItSucceeds() {
        var settings = ServiceSettings()
        settings.controlScripts = [letter("h"), letter("t"), letter("d")]
        var machine = running(settings)
        #expect(machine.handle(.control(letter("h")), now: 0) == [.runControlScript(letter: letter("h")), .statusChanged])
        #expect(machine.handle(.controlScriptExited(letter: letter("h"), handled: true), now: 0) == [.statusChanged])
        _ = machine.handle(.control(letter("h")), now: 0)
        #expect(machine.handle(.controlScriptExited(letter: letter("h"), handled: false), now: 0).first
            == .signal(pid: 100, SIGHUP, .process))
        // Down with control/t and control/d: t replaces the signal, d is told afterwards.
        let down = machine.handle(.control(letter("d")), now: 0)
        #expect(down == [.runControlScript(letter: letter("t")), .signal(pid: 100, SIGCONT, .group),
                         .runControlScript(letter: letter("d")), .statusChanged])
        #expect(machine.handle(.controlScriptExited(letter: letter("t"), handled: false), now: 0).first
            == .signal(pid: 100, SIGTERM, .process))
        #expect(machine.deadline != nil)
    }

    @Test func readinessBelongsToTheCurrentRun() {
        var machine = running(ServiceSettings(notificationFD: 3), pid: 100, now: 0)
        #expect(machine.readyAt == nil)
        #expect(machine.handle(.ready(pid: 100), now: 5) == [.statusChanged])
        #expect(machine.readyAt == 5)
        // A second newline changes nothing.
        #expect(machine.handle(.ready(pid: 100), now: 9).isEmpty)
        #expect(machine.readyAt == 5)
        // The run dies: the next one starts not ready, and a late line of the old one is ignored.
        _ = machine.handle(.exited(pid: 100, status: .exited(1)), now: 20 * second)
        #expect(machine.readyAt == nil)
        _ = machine.handle(.spawned(pid: 101), now: 20 * second)
        #expect(machine.handle(.ready(pid: 100), now: 21 * second).isEmpty)
        #expect(machine.readyAt == nil)
        #expect(machine.handle(.ready(pid: 101), now: 22 * second) == [.statusChanged])
        #expect(machine.readyAt == 22 * second)
    }
}

import Glibc
import SvSystem
import Testing

/// The quick part of the fault-injection suite: Tests/Chaos/chaos.py (run in full by
/// `make chaos`) on a few clients, against the binaries under test.
@Suite(.timeLimit(.minutes(10))) struct ChaosTests {
    @Test func killsAndStormsLeaveTheTreeExactAndTheLogsComplete() throws {
        let repository = FileSystem.parentDirectory(FileSystem.parentDirectory(FileSystem.parentDirectory(#filePath)))
        let (code, output) = TreeFixture.run("/usr/bin/python3", [
            repository + "/Tests/Chaos/chaos.py", TreeFixture.buildDirectory,
            "--clients", "3", "--kills", "40", "--storm", "100", "--seed", String(getpid()), "--long-line-mb", "64",
        ], seconds: 240)
        #expect(code == 0 && output.contains("chaos: ok"), "\(output)")
        #expect(output.contains("40 SIGKILLs") && output.contains("100 enable/disable operations"), "\(output)")
    }
}

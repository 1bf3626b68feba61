import SvtreeDaemon
import Testing

@Suite struct SvtreeOptionsTests {
    @Test func directoryAndNotify() throws {
        #expect(try SvtreeOptions.parse(["/srv/enabled"]) == SvtreeOptions(directory: "/srv/enabled"))
        #expect(try SvtreeOptions.parse(["--notify", "d"]) == SvtreeOptions(directory: "d", notify: true))
        #expect(try SvtreeOptions.parse(["d", "--help"]).help)
    }

    @Test func badArgumentsAreUsageErrors() {
        for bad in [[], ["a", "b"], ["-x", "d"], ["--notify"]] {
            #expect(throws: SvtreeError.self, "\(bad)") { try SvtreeOptions.parse(bad) }
        }
        #expect(SvtreeError.usage("x").exitCode == 100 && SvtreeError.cannotStart("y").exitCode == 111)
        #expect(SvtreeError.usage("no directory given").description == "no directory given; usage: svtree [--notify] DIR")
    }
}

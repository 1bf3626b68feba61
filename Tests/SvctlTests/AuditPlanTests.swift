import SvBase
import SvFormats
import SvctlKit
import Testing

@Suite struct AuditPlanTests {
    @Test func restic_paths_are_classified() {
        let id = String(repeating: "ab", count: 32)
        #expect(AuditPlan.kind(of: "config") == .config)
        #expect(AuditPlan.kind(of: Substring("data/ab/" + id)) == .hashed(name: Substring(id)))
        #expect(AuditPlan.kind(of: Substring("index/" + id)) == .hashed(name: Substring(id)))
        #expect(AuditPlan.kind(of: Substring("data/cd/" + id)) == .unexpected, "a pack in the wrong fan-out folder")
        #expect(AuditPlan.kind(of: Substring("data/ab/" + id + ".tmp")) == .unexpected)
        #expect(AuditPlan.kind(of: Substring("README")) == .unexpected)
        #expect(AuditPlan.kind(of: Substring("snapshots/" + id.uppercased())) == .unexpected, "restic writes lowercase hex")
    }

    @Test func the_slot_is_the_whole_name_modulo_the_cycle() {
        // 0x...0f = 15; 15 mod 7 = 1. A name of 63 zeros and "f".
        let name = String(repeating: "0", count: 63) + "f"
        #expect(AuditPlan.slot(ofName: name.utf8, cycle: 7) == 1)
        // 16^63 mod 3: 16 = 1 mod 3, so "1" followed by 63 zeros is 1 mod 3.
        #expect(AuditPlan.slot(ofName: ("1" + String(repeating: "0", count: 63)).utf8, cycle: 3) == 1)
        #expect(AuditPlan.todaysSlot(day: 20794, cycle: 30) == 20794 % 30)
    }

    @Test func names_spread_evenly_over_the_slots() {
        var counts = [Int](repeating: 0, count: 30)
        var state: UInt64 = 0x9E3779B97F4A7C15
        for _ in 0..<30_000 {
            var name = ""
            for _ in 0..<4 {
                // SplitMix64: every output bit uniform, as sha256 names are.
                state = state &+ 0x9E3779B97F4A7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
                z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
                z ^= z >> 31
                let hex = String(z, radix: 16)
                name += String(repeating: "0", count: 16 - hex.count) + hex
            }
            counts[AuditPlan.slot(ofName: name.utf8, cycle: 30)] += 1
        }
        #expect(counts.min()! > 800 && counts.max()! < 1200, "\(counts)")
    }

    @Test func a_new_backend_hashes_only_todays_slot() {
        let due = AuditPlan.dueSlots(day: 100, cycle: 3, previous: nil)
        #expect(due == [false, true, false])
    }

    @Test func slots_missed_while_no_audit_ran_are_caught_up() {
        var backend = AuditRecord.Backend(location: "/r", firstDay: 90, cycle: 3)
        backend.slotDays = [96, 97, 98]  // days 96..98 done; 99 (slot 0) and 100 (slot 1) due now
        #expect(AuditPlan.dueSlots(day: 100, cycle: 3, previous: backend) == [true, true, false])
        // Before the first audit nothing is owed: a backend added on day 99 owes slot 0 only.
        let fresh = AuditRecord.Backend(location: "/r", firstDay: 99, cycle: 3)
        #expect(AuditPlan.dueSlots(day: 100, cycle: 3, previous: fresh) == [true, true, false])
        let newer = AuditRecord.Backend(location: "/r", firstDay: 100, cycle: 3)
        #expect(AuditPlan.dueSlots(day: 100, cycle: 3, previous: newer) == [false, true, false])
    }

    @Test func coverage_counts_slots_hashed_within_the_cycle() {
        var backend = AuditRecord.Backend(location: "/r", firstDay: 90, cycle: 3)
        backend.slotDays = [99, 100, 98]
        #expect(backend.coveredSlots(day: 100) == 3)
        #expect(backend.coveredSlots(day: 101) == 2, "slot 2 was last read on day 98: more than 3 days before 101")
        backend.slotDays = [99, nil, 98]
        #expect(backend.coveredSlots(day: 100) == 2)
    }

    @Test func the_record_round_trips() throws {
        var backend = AuditRecord.Backend(location: "far:alice", firstDay: 7, cycle: 3)
        backend.files = 12; backend.bytes = 3456; backend.missing = 1; backend.corrupt = 2; backend.unexpected = 0
        backend.hashed = 4; backend.readBytes = 99; backend.slotDays = [7, nil, 9]; backend.fullCycleAt = 1000
        backend.problems = ["missing index/aa", "corrupt data/bb/bb: cannot be read"]
        var failed = AuditRecord.Backend(location: "/srv/replica with space", firstDay: 9, cycle: 3)
        failed.error = "cannot list: connection\nrefused"
        let record = AuditRecord(at: 1234, day: 9, cycle: 3, backends: [backend, failed])
        let parsed = try #require(AuditRecord(parsing: record.text))
        #expect(parsed.backends[0] == backend)
        #expect(parsed.backends[1].location == "/srv/replica with space")
        #expect(parsed.backends[1].error == "cannot list: connection refused")
        #expect(AuditRecord(parsing: "garbage\n") == nil)
    }

    @Test func the_verify_record_round_trips() throws {
        var record = VerifyRecord(at: 55, subset: 3, subsets: 12, check: .failed("pack abc: hash mismatch"))
        record.snapshot = "abcd"
        var backend = VerifyRecord.Backend(location: "far:alice")
        backend.files = 5; backend.bytes = 77; backend.error = "size of /x differs"
        record.backends = [VerifyRecord.Backend(location: "/data/alice"), backend]
        #expect(VerifyRecord(parsing: record.text) == record)
        #expect(record.failed)
    }
}

@Suite struct AssuranceJudgementTests {
    @Test func findingsAreCriticalAndAnOldAuditWarns() {
        let now = WallTime(unixSeconds: 1_000_000)
        var clean = AuditRecord.Backend(location: "/data/a", firstDay: 1, cycle: 30)
        clean.files = 10
        var missing = AuditRecord.Backend(location: "far:a", firstDay: 1, cycle: 30)
        missing.missing = 2
        missing.problems = ["missing index/ab"]
        let fresh = AuditRecord(at: now.unixSeconds - 3600, day: 11, cycle: 30, backends: [clean])
        #expect(Assurance(audit: fresh).judge(now: now).isEmpty)
        let found = Assurance(audit: AuditRecord(at: now.unixSeconds - 3600, day: 11, cycle: 30, backends: [clean, missing]))
            .judge(now: now)
        #expect(found.count == 1 && found[0].0 == .critical && found[0].1 == "audit: far:a: 2 missing (missing index/ab)")
        let old = Assurance(audit: AuditRecord(at: now.unixSeconds - 3 * 86400, day: 8, cycle: 30, backends: [clean]))
            .judge(now: now)
        #expect(old.count == 1 && old[0].0 == .warning && old[0].1.hasPrefix("audit: last run 3d00h ago"), "\(old)")
        let failed = VerifyRecord(at: now.unixSeconds, subset: 1, subsets: 12, check: .failed("pack x: hash mismatch"))
        #expect(Assurance(verify: failed).judge(now: now).first?.0 == .critical)
    }
}

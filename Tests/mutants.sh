#!/usr/bin/env bash
# Mutation check (not part of `make test`; run it before resolving an issue): applies small
# deliberate bugs one at a time to a copy of the tree, runs the part of the suite that should
# catch each (swift test --filter), and prints the mutants that survived (the suite passed
# with the bug in). Goal: none survives.
#
# usage: Tests/mutants.sh [--check] [--work DIR] [NAME...]
#   --check     only check that every mutant applies to this checkout (nothing is built)
#   --work DIR  the copy to build in (default /tmp/svtree-mutants-$USER): kept between runs,
#               so that each run after the first builds incrementally. Refreshed from this
#               checkout (without .build and .git) at every start.
#   NAME...     only these mutants (default: all)
# Each mutant is one exact text replacement in one named file; a replacement whose text is not
# found exactly once is an error (the source moved on: update the mutant), never a silent pass.
# Run as root, as the suite is.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=/tmp/svtree-mutants-${USER:-root}
check_only=false
if [ "${1:-}" = --check ]; then check_only=true; shift; fi
if [ "${1:-}" = --work ]; then work=$2; shift 2; fi
only=("$@")
limit=900 # seconds a filtered test run may take before it is killed (timeout, by PID)

# name | file | swift test --filter | text | replacement  (\n in text and replacement: newline)
mutants=(
"teardown-skips-sigkill|Sources/SvSupervision/ServiceMachine.swift|LifecycleTests|ServiceMachineTests|                stopStage = .killed\n                stopDeadline = nil\n                out.append(.signal(pid: pid, SIGKILL, .group))|                stopStage = .killed\n                stopDeadline = nil"
"svlog-consumes-before-writing|Sources/SvlogDaemon/LogInput.swift|LoggerUnderTreeTests|SvlogTests|            isPipe = true|            isPipe = false"
"restart-delay-never-grows|Sources/SvSupervision/RestartPolicy.swift|ServiceMachineTests|LifecycleTests|        return min(maximumDelay, firstDelay << Int64(doublings))|        return min(maximumDelay, firstDelay)"
"control-letter-o-ignored|Sources/SvSupervision/ServiceMachine.swift|ServiceMachineTests|RunitCompatibilityTests|        case .once:\n            want = .down\n            if state == .down {\n                restartAt = nil\n                out.append(.spawnRun)\n            }|        case .once:\n            break"
"status-pid-zeroed|Sources/SvFormats/StatusFormat.swift|StatusFormatTests|RunitCompatibilityTests|        let pid = UInt32(bitPattern: s.pid)|        let pid = UInt32(0)"
"snapwatch-records-before-hook-exits|Sources/SnapwatchDaemon/SnapshotQueue.swift|SnapshotQueueTests|SnapwatchTests|        running = batch\n        hookDeadline = now + settings.hookTimeout\n        return [.runHook(batch)]|        running = batch\n        for id in batch { delivered.insert(id) }\n        hookDeadline = now + settings.hookTimeout\n        return [.runHook(batch), .saveState]"
"ready-before-first-scan|Sources/SvtreeDaemon/Supervisor.swift|NotifyTests|        rescan()\n        finishRecovery()\n        drainExits()\n        flushStatus()\n        observer?.ready()|        observer?.ready()\n        rescan()\n        finishRecovery()\n        drainExits()\n        flushStatus()"
"exit-without-sweeping-descendants|Sources/SvtreeDaemon/Supervisor.swift|NestedTreeTests|CgroupTests|LifecycleTests|                sweepDescendants()\n                cgroups?.dismantle()|                cgroups?.dismantle()"
"runsv-client-labelled-svtree|Sources/SvctlKit/StatusView.swift|StatusGoldenTests|\$0.writtenBySvtree ? \"svtree\" : \$0.status != nil ? \"runsv\" : \"supervisor\"|_ in \"svtree\""
"svctl-exit-2-as-0|Sources/svctl/StatusCommands.swift|SvctlTreeTests|        return StatusView.overall(reports).rawValue|        let health = StatusView.overall(reports)\n        return health == .critical ? 0 : health.rawValue"
"job-overlap-runs-twice|Sources/SvSupervision/ServiceMachine.swift|JobMachineTests|JobTests|            if state == .down {\n                out.append(.spawnRun)\n            } else {\n                skipped += 1\n            }|            out.append(.spawnRun)"
"job-missed-run-never-caught-up|Sources/SvSupervision/JobTimetable.swift|JobTimetableTests|JobTests|            return missed <= now ? now : missed|            return missed <= now ? calendarDue(after: now, zone: zone) : missed"
"job-runs-while-suspended|Sources/SvSupervision/ServiceMachine.swift|JobMachineTests|JobTests|            guard settings.isJob, !suspended else { return [] }|            guard settings.isJob else { return [] }"
"recovery-ends-nothing|Sources/SvtreeDaemon/Supervisor+Recovery.swift|RecoveryTests|        guard var recovery, !Self.heldByALiveSupervisor(definition.path) else { return }|        guard var recovery, false else { return }"
"status-never-retried|Sources/SvtreeDaemon/Supervisor+Actions.swift|FullDiskStatusTests|        guard statusRetryAt == nil else { return }|        guard statusRetryAt == nil, false else { return }"
"svlog-writes-into-removed-current|Sources/SvlogDaemon/LogDirectory.swift|RemovedLogDirectoryTests|        if currentIsGone { try reopenAfterRemoval() }|        if false { try reopenAfterRemoval() }"
"audit-never-catches-up|Sources/SvctlKit/AuditPlan.swift|AuditPlanTests|            if mostRecentDay >= previous.firstDay, (previous.slotDays[slot] ?? Int64.min) < mostRecentDay {|            if false {"
"audit-size-unchecked|Sources/SvctlKit/Audit.swift|AssuranceTests|            if found.size != entry.size {|            if false {"
"audit-hash-mismatch-ignored|Sources/SvctlKit/Audit.swift|BackupEndToEndTests|AssuranceTests|                    if hash != name {|                    if false {"
)

say() { echo "mutants: $*"; }

# restore FILE: the unmutated text back, with a new mtime (an older one would leave the mutant
# compiled in: the incremental build would take the file for unchanged).
restore() {
    mv "$1.orig" "$1"
    touch "$1"
}

# A mutant's fields: the filter may hold '|' (alternatives), so the text and replacement are
# the last two fields, the file the second, and the filter what lies between.
fields() { # fields LINE -> name, file, filter, text, replacement (one per line, \n kept)
    python3 - "$1" <<'PY'
import sys
parts = sys.argv[1].split("|")
name, path, text, replacement = parts[0], parts[1], parts[-2], parts[-1]
print(name); print(path); print("|".join(parts[2:-2])); print(text); print(replacement)
PY
}

# apply FILE TEXT REPLACEMENT: exactly one occurrence, else an error.
apply() {
    python3 - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1], sys.argv[2].replace("\\n", "\n"), sys.argv[3].replace("\\n", "\n")
text = open(path).read()
n = text.count(old)
if n != 1:
    sys.exit(f"{path}: the text to mutate occurs {n} times, not once")
open(path, "w").write(text.replace(old, new))
PY
}

# run_tests FILTER LOG: swift test in the copy, bounded; prints the number of tests that ran
# and returns swift test's status (124 when the bound was reached).
run_tests() {
    (cd "$work" && timeout --kill-after=30 "$limit" swift test --skip-build --filter "$1") > "$2" 2>&1
    local status=$?
    local ran
    ran=$(sed -nE 's/.*Test run with ([0-9]+) tests?.*/\1/p' "$2" | tail -1)
    echo "${ran:-0}"
    return $status
}

if $check_only; then
    bad=0
    for line in "${mutants[@]}"; do
        mapfile -t f < <(fields "$line")
        scratch=$(mktemp)
        cp "$repo/${f[1]}" "$scratch"
        if apply "$scratch" "${f[3]}" "${f[4]}" && ! cmp -s "$scratch" "$repo/${f[1]}"; then
            say "applies   ${f[0]} (${f[1]}; --filter '${f[2]}')"
        else
            say "BROKEN    ${f[0]} (${f[1]})"; bad=1
        fi
        rm -f "$scratch"
    done
    exit $bad
fi

say "copy of $repo in $work"
mkdir -p "$work"
# Refresh the sources (the build directory of the copy stays, for incremental builds).
# -m: every file gets the time of the copy. swift's incremental build takes a source whose
# mtime is older than its last build for unchanged, whatever its content.
(cd "$repo" && tar --exclude=./.build --exclude=./.git -cf - .) | (cd "$work" && tar -xmf -) || { say "cannot copy the tree"; exit 1; }
say "building the copy (unmutated)"
if ! (cd "$work" && swift build --build-tests) > "$work/build.log" 2>&1; then
    say "the unmutated copy does not build: see $work/build.log"; exit 1
fi

# The filters must pass unmutated, or a mutant "killed" would say nothing.
union=$(for line in "${mutants[@]}"; do fields "$line" | sed -n 3p; done | tr '|' '\n' | sort -u | paste -sd'|' -)
say "baseline: $union"
ran=$(run_tests "$union" "$work/baseline.log") || { say "the unmutated copy fails its own filters: see $work/baseline.log"; exit 1; }
say "baseline: $ran tests passed"

survivors=()
errors=()
killed=0
for line in "${mutants[@]}"; do
    mapfile -t f < <(fields "$line")
    name=${f[0]} file=${f[1]} filter=${f[2]} text=${f[3]} replacement=${f[4]}
    if [ ${#only[@]} -gt 0 ] && [[ ! " ${only[*]} " == *" $name "* ]]; then continue; fi
    cp "$work/$file" "$work/$file.orig"
    if ! apply "$work/$file" "$text" "$replacement"; then
        errors+=("$name (not applied)")
        restore "$work/$file"
        continue
    fi
    if cmp -s "$work/$file" "$work/$file.orig"; then
        errors+=("$name (the file did not change)")
        restore "$work/$file"
        continue
    fi
    start=$SECONDS
    if ! (cd "$work" && swift build --build-tests) > "$work/mutant-$name.build.log" 2>&1; then
        errors+=("$name (does not build: $work/mutant-$name.build.log)")
    else
        ran=$(run_tests "$filter" "$work/mutant-$name.log")
        status=$?
        if [ "$ran" = 0 ] && [ $status -eq 0 ]; then
            errors+=("$name (no test matched --filter '$filter')")
        elif [ $status -eq 0 ]; then
            survivors+=("$name")
            say "SURVIVED  $name: $ran tests of '$filter' passed with $file mutated ($((SECONDS - start)) s)"
        else
            killed=$((killed + 1))
            why=$(grep -m1 -E '^✘ Test .* (recorded an issue|failed)' "$work/mutant-$name.log" | cut -c1-160)
            [ $status -eq 124 ] && why="killed after $limit s"
            say "killed    $name ($((SECONDS - start)) s): ${why:-swift test exit $status}"
        fi
    fi
    restore "$work/$file"
done
# Leave the copy unmutated and built, for the next run.
(cd "$work" && swift build --build-tests) > "$work/build.log" 2>&1 || say "the restored copy does not build: see $work/build.log"

say "$killed killed, ${#survivors[@]} survived, ${#errors[@]} errors"
for s in "${survivors[@]}"; do say "survivor: $s"; done
for e in "${errors[@]}"; do say "error: $e"; done
[ ${#survivors[@]} -eq 0 ] && [ ${#errors[@]} -eq 0 ]

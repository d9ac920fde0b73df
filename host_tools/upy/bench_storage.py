"""Storage figures on the simulated board (simulated time: machine-independent; docs/storage.md): the
record's saves through a two-job mission (picks and places) on the real littlefs (simboard.lfs, a C
extension: CPython only) with the power cut at every block program and erase, once not applied and
once torn; and a write that fails (ENOSPC, EIO at every write step, a rename refused with EEXIST)
at every save of a job, on littlefs and on simboard.flash.Flash, counting the state changes after
a failed write.

Prints `BENCH name value` lines, then BENCH_DONE. sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard import storage  # noqa: E402
from simboard.flash import Flash  # noqa: E402
from simboard.lfs import LfsFlash  # noqa: E402

cases, failed, bad = storage.powercut_campaign(LfsFlash)
print("BENCH powercut_cases_littlefs %d" % cases)
print("BENCH powercut_cases_littlefs_failed %d" % failed)
for line in bad[:5]:
    print("NOTE powercut littlefs: " + line)

total = changes_all = failed_all = 0
for name, make in (("littlefs", LfsFlash), ("flash", Flash)):
    cases, changes, failed, bad, kinds = storage.storage_fault_campaign(make, bays=(1,))
    print("BENCH storage_fault_cases_%s %d" % (name, cases))
    print("BENCH storage_fault_kinds_%s %d" % (name, len(kinds)))
    for line in bad[:5]:
        print("NOTE storage fault %s: %s" % (name, line))
    total += cases
    changes_all += changes
    failed_all += failed
print("BENCH storage_fault_cases %d" % total)
print("BENCH storage_fault_state_changes %d" % changes_all)
print("BENCH storage_fault_cases_failed %d" % failed_all)
print("BENCH_DONE")

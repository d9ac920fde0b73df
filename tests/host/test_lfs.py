"""The simulated flash on the real littlefs (boards/SIM/simboard/lfs.py, CPython only: littlefs-python is
a C extension): its VFS protocol and errnos, the chip's time, power cuts at block programs and erases,
failed writes; and the record's saves through real missions with a cut at block operations and a
write failing at every step of every save kind (the full campaigns are `make bench`'s figures)."""
import pytest

from simboard import machine, storage
from simboard.board import RECORD
from simboard.flash import ENOENT, EISDIR, ENOSPC, EIO
from simboard.lfs import LfsFlash
from simboard.rig import Rig, POWERCUT_UNITS
from railbot import alarms
from railbot.store import Store


def _errno(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    return e.value.args[0]


def test_vfs_protocol_and_micropythons_errnos():
    fs = LfsFlash()
    fs.mkdir("/d")
    with fs.open("/d/f", "wb") as f:
        f.write(b"abc\ndef")
    assert fs.listdir("/") == ["d"] and fs.listdir("/d") == ["f"]
    assert fs.stat("/d/f")[6] == 7 and fs.stat("/d")[0] == 0x4000
    with fs.open("/d/f", "r") as f:
        assert f.readline() == "abc\n" and f.read() == "def"
    assert _errno(fs.open, "/nope", "rb") == ENOENT
    assert _errno(fs.stat, "/nope") == ENOENT
    assert _errno(fs.open, "/d", "wb") == EISDIR
    assert _errno(fs.remove, "/d") == EISDIR
    fs.rename("/d/f", "/g")
    assert fs.listdir("/") == ["d", "g"]
    fs.remove("/g")
    fs.rmdir("/d")
    assert fs.listdir("/") == []


def test_contents_survive_a_reboot_and_the_store_runs_on_it():
    fs = LfsFlash()
    st = Store(fs, "rec")
    for i in range(40):  # enough commits to compact the metadata block (erases)
        st.save("record %d" % i)
    assert fs.erases > 0 and fs.progs > 40
    fs.reboot()
    assert Store(fs, "rec").load() == "record 39"


def test_programs_and_erases_take_the_chips_time_on_the_virtual_clock():
    rig = Rig(units=POWERCUT_UNITS, flash=LfsFlash())
    fs = rig.board.flash
    t0, p0, e0 = rig.now_ms(), fs.progs, fs.erases
    Store(fs, "t").save("x" * 300)
    progs, erases = fs.progs - p0, fs.erases - e0
    assert progs >= 3  # create, commit, rename: a commit each
    assert rig.now_ms() - t0 >= (progs * fs.page_us + erases * fs.erase_ms * 1000) // 1000


def test_a_cut_at_a_program_resets_the_board_and_littlefs_keeps_the_last_commit():
    rig = Rig(units=POWERCUT_UNITS, flash=LfsFlash())
    fs = rig.board.flash
    st = Store(fs, "rec")
    st.save("A")
    for torn in (False, True):
        fs.cut_after(1, torn)
        with pytest.raises(machine.BoardReset) as e:
            st.save("B")
        assert e.value.cause == machine.PWRON_RESET and rig.board.reset_cause == machine.PWRON_RESET
        with pytest.raises(machine.BoardReset):
            fs.stat("/rec")  # no power: every operation resets again
        rig.board.reboot(machine.PWRON_RESET)
        st = Store(fs, "rec")
        assert st.load() == "A"
    assert fs.cuts == 2


def test_a_failed_write_step_raises_its_errno_and_the_store_keeps_the_last_record():
    fs = LfsFlash()
    st = Store(fs, "rec")
    st.save("A")
    for step in range(1, storage.STEPS + 1):
        for code in (ENOSPC, EIO):
            fs.fail_after(step, code)
            assert _errno(st.save, "B") == code
            assert Store(fs, "rec").load() == "A" and fs.listdir("/") == ["rec"], (step, code)
    fs.reboot()
    assert Store(fs, "rec").load() == "A"
    assert fs.unfailed_commits == 0


def test_a_robot_on_littlefs_refuses_a_charge_it_cannot_save():
    rig = Rig(units=POWERCUT_UNITS, flash=LfsFlash())
    rig.board.flash.fail_after(1, ENOSPC)
    assert rig.cmd("charge 5").startswith("error: not saved")
    assert rig.robot.alarm == alarms.STORAGE_FAULT and rig.robot.jobs == []
    assert Store(rig.board.flash, RECORD).load() is None


def test_power_cuts_at_block_operations_of_a_mission_on_littlefs():
    # every 4th program or erase, not applied and torn (the bench cuts at every one)
    cases, failed, bad = storage.powercut_campaign(LfsFlash, stride=4)
    assert cases >= 24, cases
    assert failed == 0, bad


def test_failed_writes_of_every_save_kind_on_littlefs():
    # every 3rd case of the one-job mission (the bench runs them all)
    cases, changes, failed, bad, kinds = storage.storage_fault_campaign(LfsFlash, bays=(1,), stride=3)
    assert cases >= 29, cases
    assert changes == 0 and failed == 0, bad
    assert set(kinds) >= set(storage.BEFORE + storage.AFTER), kinds

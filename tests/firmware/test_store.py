"""Simulated flash (VFS protocol, errnos, power cuts), atomic records on it, and the ledger's record text."""
from support import raises, tmp_path
from simboard import machine
from simboard.board import SimBoard
from simboard.flash import Flash
from simboard.rig import BOARD, sim_config
from railbot import store as _store
from railbot.store import Store
from railbot.ledger import Ledger, CARRIED, FREE, SERVING, IN_USE
from railbot.site import Site

RECORDS = ["v=1\nu1=44,0\n", "v=1\nu1=-1,0\n", "v=1\nu1=12,1\njob=3\n", "", "v=1\n" + "u9=51,2\n" * 20,
           "v=1\nu1=12,2\n"]  # distinct, of different lengths (one empty)


def _errno(fn, *args):
    return raises(OSError, fn, *args).args[0]


def _write(fs, path, data, mode="wb"):
    f = fs.open(path, mode)
    f.write(data)
    f.close()


def _read(fs, path, mode="rb"):
    with fs.open(path, mode) as f:
        return f.read()


def _cut(fn, *args):
    e = raises(machine.BoardReset, fn, *args)
    assert e.cause == machine.PWRON_RESET


# -- the flash object ----------------------------------------------------------------------------

def test_flash_errnos_are_micropythons():
    fs = Flash()
    fs.mkdir("/d")
    _write(fs, "/d/f", b"x")
    assert _errno(fs.open, "/nope", "r") == 2  # ENOENT
    assert _errno(fs.open, "/nodir/f", "w") == 2
    assert _errno(fs.open, "/d", "r") == 21  # EISDIR
    assert _errno(fs.open, "/d/f", "x") == 17  # EEXIST
    assert _errno(fs.open, "/d/f/g", "w") == 20  # ENOTDIR
    assert _errno(fs.open, "/d/f", "r+") == 22  # EINVAL: read-write modes are not modelled
    assert _errno(fs.mkdir, "/d") == 17 and _errno(fs.mkdir, "/d/f") == 17
    assert _errno(fs.mkdir, "/x/y") == 2
    assert _errno(fs.rmdir, "/d") == 39  # ENOTEMPTY
    assert _errno(fs.rmdir, "/d/f") == 20 and _errno(fs.rmdir, "/zz") == 2
    assert _errno(fs.remove, "/d") == 21 and _errno(fs.remove, "/zz") == 2
    assert _errno(fs.rename, "/zz", "/y") == 2
    assert _errno(fs.rename, "/d/f", "/d") == 21
    assert _errno(fs.rename, "/d", "/d/f2") == 22  # a directory into itself
    assert _errno(fs.stat, "/zz") == 2
    assert _errno(fs.chdir, "/d/f") == 20 and _errno(fs.chdir, "/zz") == 2
    assert _errno(fs.ilistdir, "/zz") == 2
    e = raises(OSError, fs.stat, "/zz")
    assert e.errno == 2
    with fs.open("/d/f", "rb") as f:
        assert _errno(f.write, b"y") == 9  # EBADF
    f = fs.open("/d/g", "wb")
    assert _errno(f.read) == 9
    f.close()
    f.close()  # closing twice is harmless, as on a board
    assert _errno(f.write, b"z") == 9


def test_flash_files_directories_and_listing():
    fs = Flash(blocks=16)
    fs.mount(False, False)
    fs.mkdir("/lib")
    _write(fs, "/lib/a.py", "print(1)\n", "w")
    _write(fs, "/top.bin", b"\x00\x01\x02\x03\x04")
    assert list(fs.ilistdir("/")) == [("lib", 0x4000, 0, 0), ("top.bin", 0x8000, 0, 5)]  # name, type, inode, size
    assert fs.listdir("/lib") == ["a.py"]
    assert fs.stat("/lib")[0] == 0x4000 and fs.stat("/top.bin")[0] == 0x8000 and fs.stat("/top.bin")[6] == 5
    assert _read(fs, "/lib/a.py", "r") == "print(1)\n"
    with fs.open("/top.bin", "rb") as f:
        buf = bytearray(3)
        assert f.readinto(buf) == 3 and buf == bytearray(b"\x00\x01\x02")
        assert f.seek(1) == 1 and f.read(2) == b"\x01\x02" and f.tell() == 3
        assert f.read() == b"\x03\x04" and f.read() == b""
    _write(fs, "/top.bin", b"\x05", "ab")
    assert _read(fs, "/top.bin") == b"\x00\x01\x02\x03\x04\x05"
    fs.chdir("lib")
    assert fs.getcwd() == "/lib" and _read(fs, "a.py", "r") == "print(1)\n"
    with fs.open("../top.bin", "rb") as f:
        assert f.read(1) == b"\x00"
    fs.chdir("/")
    _write(fs, "/lib/b.txt", "one\ntwo\n", "w")
    with fs.open("/lib/b.txt", "r") as f:
        assert f.readline() == "one\n" and [line for line in f] == ["two\n"]
    fs.rename("/lib", "/pkg")
    assert fs.listdir("/") == ["pkg", "top.bin"] and fs.listdir("/pkg") == ["a.py", "b.txt"]
    fs.remove("/pkg/a.py")
    fs.remove("/pkg/b.txt")
    fs.rmdir("/pkg")
    assert fs.listdir("/") == ["top.bin"]
    bsize, frsize, blocks, bfree, bavail = fs.statvfs("/")[:5]
    assert bsize == 4096 and blocks == 16 and bfree == bavail == 14  # the root and one file
    assert _errno(_write, fs, "/big", b"x" * 4096 * 15) == 28  # ENOSPC
    fs.mount(True, False)
    assert _errno(fs.remove, "/top.bin") == 30  # EROFS
    fs.mount(False, True)  # mkfs
    assert fs.listdir("/") == []


def test_littlefs_model_commits_at_close_and_rename_replaces_in_one_step():
    fs = Flash()
    _write(fs, "/a", b"old")
    n = fs.steps
    f = fs.open("/a", "wb")
    assert fs.steps == n  # the truncation waits for the commit
    f.write(b"new!")
    assert _read(fs, "/a") == b"old"  # not visible before close
    f.close()
    assert _read(fs, "/a") == b"new!" and fs.steps == n + 2  # one write, one commit
    _write(fs, "/b", b"bbb")
    n = fs.steps
    fs.rename("/b", "/a")
    assert fs.steps == n + 1 and _read(fs, "/a") == b"bbb" and fs.listdir("/") == ["a"]
    # a cut at the commit: not applied
    f = fs.open("/a", "wb")
    f.write(b"torn?")
    fs.cut_after(1)
    _cut(f.close)
    _cut(fs.stat, "/a")  # the power is off until reboot
    fs.reboot()
    assert _read(fs, "/a") == b"bbb"
    assert _errno(f.write, b"x") == 9  # a file of the previous boot is dead
    # a cut at a write: the pending data is lost with the RAM
    f = fs.open("/a", "ab")
    f.write(b"1")
    fs.cut_after(1)
    _cut(f.write, b"2")
    fs.reboot()
    assert _read(fs, "/a") == b"bbb" and fs.cuts == 2
    # a cut at a rename: not applied
    _write(fs, "/c", b"c")
    fs.cut_after(1)
    _cut(fs.rename, "/c", "/a")
    fs.reboot()
    assert _read(fs, "/a") == b"bbb" and _read(fs, "/c") == b"c"


def test_fat_model_tears_writes_and_renames_in_two_steps():
    fs = Flash(fat=True)
    _write(fs, "/a", b"old")
    f = fs.open("/a", "wb")
    assert _read(fs, "/a") == b""  # truncated at open
    f.write(b"0123")
    assert _read(fs, "/a") == b"0123"  # written through
    fs.cut_after(1)
    _cut(f.write, b"456789")
    fs.reboot()
    assert _read(fs, "/a") == b"0123456"  # the first half of the torn write
    _write(fs, "/b", b"b")
    n = fs.steps
    fs.rename("/b", "/a")
    assert fs.steps == n + 2 and _read(fs, "/a") == b"b"
    _write(fs, "/c", b"c")
    fs.cut_after(2)  # after the destination went, before the rename
    _cut(fs.rename, "/c", "/a")
    fs.reboot()
    assert fs.listdir("/") == ["c"]


def test_a_cut_resets_the_board_and_the_flash_survives_the_reboot():
    board = SimBoard(BOARD, robot_cfg=sim_config())
    fs = board.flash
    _write(fs, "/keep", b"kept")
    board.reset_cause = machine.WDT_RESET
    fs.cut_after(2)
    f = fs.open("/lost", "wb")  # step 1: the entry is created
    _cut(f.write, b"never")
    assert board.reset_cause == machine.PWRON_RESET
    _cut(board.loop.run_until, board.clock.now_ms + 10)  # nothing runs without power
    board.reboot(machine.PWRON_RESET)
    assert board.flash is fs and fs.powered
    assert _read(fs, "/keep") == b"kept" and _read(fs, "/lost") == b""
    board.loop.run_until(board.clock.now_ms + 10)
    with fs.open("/lost", "wb") as f:  # a with block unwinding from a cut commits nothing
        f.write(b"x")
    try:
        with fs.open("/lost", "wb") as f:
            f.write(b"y")
            fs.cut_after(1)
            f.write(b"z")
    except machine.BoardReset:
        pass
    board.reboot(machine.PWRON_RESET)
    assert _read(fs, "/lost") == b"x"


# -- atomic records ------------------------------------------------------------------------------

def _steps_of_all_saves(fat):
    fs = Flash(fat=fat)
    st = Store(fs, "/ledger")
    for r in RECORDS:
        st.save(r)
    return fs.steps


def _resume(fs, prog, cut):
    """A boot after a cut: load, check it is the last completed record (prog[0]) or the one being
    saved, then save the records that follow it with the power cut after `cut` steps (0: none),
    keeping prog[0] the index of the last completed save. Raises BoardReset if cut."""
    st = Store(fs, "/ledger")
    got = st.load()
    done = prog[0]
    ok = [RECORDS[done] if done >= 0 else None]
    if done + 1 < len(RECORDS):
        ok.append(RECORDS[done + 1])
    assert got in ok, (got, ok)
    prog[0] = done if got == ok[0] else done + 1
    if cut:
        fs.cut_after(cut)
    for i in range(prog[0] + 1, len(RECORDS)):
        st.save(RECORDS[i])
        prog[0] = i
        assert st.load() == RECORDS[i]
    fs.cut_after(None)


def _power_cut_every_step(fat, second_cuts):
    """Cut at every step of the saves, reboot, check the record, resume the saves (cut again
    after each of second_cuts steps, 0: not), check, finish. Returns the number of cuts."""
    total = _steps_of_all_saves(fat)
    cases = 0
    for first in range(1, total + 1):
        for second in second_cuts:
            fs = Flash(fat=fat)
            prog = [-1]
            fs.cut_after(first)
            try:
                _resume(fs, prog, 0)
                raise AssertionError("no cut at step %d of %d" % (first, total))
            except machine.BoardReset:
                cases += 1
            fs.reboot()
            if second:
                try:
                    _resume(fs, prog, second)  # the resumed saves may finish before the cut
                except machine.BoardReset:
                    cases += 1
                    fs.reboot()
            _resume(fs, prog, 0)
            assert prog[0] == len(RECORDS) - 1
            st = Store(fs, "/ledger")
            assert st.load() == RECORDS[-1]
            st.save("after")  # completes a save cut before its rename, if any: no file left over
            assert fs.listdir("/") == ["ledger"] and Store(fs, "/ledger").load() == "after"
    return cases


def test_store_survives_a_cut_at_every_step_littlefs():
    total = _steps_of_all_saves(False)
    assert total == 5 * len(RECORDS)  # create .new, header, payload, commit, rename
    assert _power_cut_every_step(False, [0]) == total


def test_store_survives_a_cut_at_every_step_fat():
    total = _steps_of_all_saves(True)
    assert total == 5 * len(RECORDS) - 1  # create, header, payload, remove, rename (nothing to remove the first time)
    assert _power_cut_every_step(True, [0]) == total


def test_store_survives_a_second_cut_while_recovering():
    for fat in (False, True):
        total = _steps_of_all_saves(fat)
        assert _power_cut_every_step(fat, [1, 2, 3, 4, 5, 6]) > 6 * total


def test_a_save_finishes_the_cut_one_before_overwriting_its_new_file():
    # FAT: a cut after the commit of NAME.new, before its rename, leaves the newest record only
    # there; the next save must rename it over NAME before truncating NAME.new
    for cut in range(1, 8):
        fs = Flash(fat=True)
        st = Store(fs, "/r")
        st.save("one")
        fs.cut_after(4)  # create, header, payload, then the remove of /r: not applied
        _cut(st.save, "two")
        fs.reboot()
        assert fs.listdir("/") == ["r", "r.new"]
        st = Store(fs, "/r")
        assert st.load() == "two"
        fs.cut_after(cut)
        try:
            st.save("three")
            fs.cut_after(None)
        except machine.BoardReset:
            fs.reboot()
        assert Store(fs, "/r").load() in ("two", "three"), cut


def _record(seq, payload):
    return ("R1 %d %d %08x\n" % (seq, len(payload), _store._crc(seq, payload))).encode() + payload


def test_corrupt_torn_and_foreign_files_are_ignored():
    good = _record(7, b"v=1\nu1=3,0\n")
    assert _store.parse(good) == (7, "v=1\nu1=3,0\n")
    for i in range(len(good)):  # every byte flipped, every truncation, every extension
        assert _store.parse(good[:i] + bytes([good[i] ^ 0x01]) + good[i + 1:]) is None, i
        assert _store.parse(good[:i]) is None, i
    assert _store.parse(good + b"\n") is None
    for bad in (b"", b"\n", b"garbage", b"\xff\xfe\n\x00", b"R1 1 0 00000000\n", b"R1 0 0 00000000\n",
                b"R1 1 2 3 4\n", b"R2 1 0 00000000\n", b"R1 x 0 00000000\n", b"R1 1 -1 00000000\n",
                b"R1 1 0 0000000g\n", b"R1 1 0 0\n", b"R1  1 0 00000000\n", b"x" * 5000):
        assert _store.parse(bad) is None, bad
    assert _store.parse(_record(1, b"\xff\xfe")) is None  # not text
    fs = Flash()
    _write(fs, "/r", good)
    _write(fs, "/r.new", b"R1 8 3 0000")
    assert Store(fs, "/r").load() == "v=1\nu1=3,0\n"
    _write(fs, "/r.new", _record(8, b"newer"))
    assert Store(fs, "/r").load() == "newer"
    _write(fs, "/r", _record(9, b"newest"))
    assert Store(fs, "/r").load() == "newest"
    _write(fs, "/r", b"\x00" * 9000)  # too long to be ours: not even read
    assert Store(fs, "/r").load() == "newer"
    fs.remove("/r.new")
    st = Store(fs, "/r")
    assert st.load() is None
    st.save("fresh")
    assert Store(fs, "/r").load() == "fresh" and fs.listdir("/") == ["r"]
    fs.mkdir("/d")
    fs.mkdir("/d/r")  # a directory where the record should be
    assert Store(fs, "/d/r").load() is None
    assert raises(ValueError, Store(fs, "/x", max_len=8).save, "123456789")


def test_store_on_the_boards_own_file_system():
    import os
    path = tmp_path("store-rec")
    st = Store(None, path)  # builtin open and os
    assert st.load() is None
    st.save("a")
    st.save("b")
    assert Store(None, path).load() == "b"
    assert raises(OSError, os.stat, path + ".new")
    os.rename(path, path + ".new")  # as if cut before the rename
    st = Store(None, path)
    assert st.load() == "b"
    st.save("c")
    assert Store(None, path).load() == "c"
    assert raises(OSError, os.stat, path + ".new")


# -- the ledger's record -------------------------------------------------------------------------

def _ledger():
    cfg = sim_config()
    return Ledger(Site(cfg["site"]), cfg["site"]["units"])


def test_ledger_dump_and_load_round_trip():
    a = _ledger()
    text = a.dump()
    assert text == "v=1\nu1=44,0\nu2=45,0\nu3=46,0\nu4=48,0\nu5=49,0\nu6=50,0\n"
    a.port[1], a.state[1] = CARRIED, FREE
    a.port[2], a.state[2] = 11, SERVING
    a.port[3], a.state[3] = 0, IN_USE
    b = _ledger()
    port = b.port
    assert b.load(a.dump() + "job=charge 12\n")  # lines of other keys are left alone
    assert b.port == a.port and b.state == a.state and b.port is port
    assert b.dump() == a.dump()
    assert b.carried() == 1 and b.unit_at(11) == 2


def test_ledger_rejects_bad_records_and_changes_nothing():
    ok = "v=1\nu1=44,0\nu2=45,0\nu3=46,0\nu4=48,0\nu5=49,0\nu6=50,0\n"
    bad = [
        None, b"v=1", "", "garbage", "v=2" + ok[3:], ok[4:], "v=1\nv=1\n" + ok[4:],
        ok.replace("u6=50,0\n", ""),  # a unit missing
        ok + "u7=51,0\n",  # an unknown unit
        ok.replace("u6=50,0", "u6=52,0"),  # past the last port
        ok.replace("u6=50,0", "u6=-3,0"),
        ok.replace("u6=50,0", "u6=50,3"),  # no such state
        ok.replace("u6=50,0", "u6=50,-1"),
        ok.replace("u6=50,0", "u6=50"),
        ok.replace("u6=50,0", "u6=50,0,1"),
        ok.replace("u6=50,0", "u6=5x,0"),
        ok.replace("u6=50,0", "u6= 50,0"),
        ok.replace("u6=50,0", "u6=,0"),
        ok.replace("u6=50,0", "u6=49,0"),  # two units at one port
        ok.replace("u6=50,0", "u6=-1,0").replace("u5=49,0", "u5=-1,0"),  # two carried
        ok.replace("u6=50,0", "u5=50,0"),  # a unit twice
        ok + "noequals\n",
        ok + "=x\n",
        ok.replace("u6=50,0", "u6=050,0"),
        ok.replace("u6=50,0", "u6=+50,0"),
        ok.replace("v=1", "v=01"),
        ok.replace("u6=50,0", "u6=99999999999999999999,0"),
    ]
    led = _ledger()
    led.port[2] = CARRIED
    before = led.dump()
    for text in bad:
        assert led.load(text) is False, text
        assert led.dump() == before
    assert led.load(ok) and led.port[2] == 45

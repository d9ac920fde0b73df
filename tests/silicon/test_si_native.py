"""The planner's word loop as the frozen image runs it: plan.py compiled by viper and frozen into flash (railbot_host.native), planning the same words as plan.py's bytecode at a fraction of the cost."""

import pytest

from railbot_host.silicon import EmulatedBoard, board_files

# On the chip: each move planned by the native word loop and by plan.py's bytecode (both are in the
# image), the words each call leaves in ax.words folded into a hash, the calls timed; a stop
# mid-ramp and one mid-cruise (a hold) included.
_SCRIPT = """
import time
from railbot import motion, plan
print('NATIVE', motion.plan_words is not plan.plan_words, motion._plan.__name__)
class Out:
    def put(self, w): pass
    def space(self): return 100
    def pending(self): return 0
    def commit(self): pass
for mm, v, a, stop_at in ((123, 1000, 500, 0), (3000, 300, 500, 0), (2000, 1000, 500, 40), (5000, 1000, 500, 700)):
    got = []
    for f in (plan.plan_words, motion.plan_words):
        ax = motion.Axis(Out(), 20, v, a); ax.move_to(mm * 20)
        n = h = us = 0
        stop = stop_at
        while ax.phase:
            t0 = time.ticks_us()
            k = f(ax, 16, 0, 1 << 28)
            us += time.ticks_diff(time.ticks_us(), t0)
            for i in range(k):  # the words it planned, folded into a hash
                h = (h * 31 + ax.words[i]) & 0xFFFFFF
            n += k
            if stop and n >= stop:
                ax.stop()
                stop = 0
        got.append('%d/%d/%d/%d' % (n, h, ax.pos, us))
    print('MOVE', mm, got[0], got[1])
"""


@pytest.fixture(scope="module")
def chip(frozen):
    with EmulatedBoard(frozen, files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        with eb.connect() as c:
            c.enter_raw()
            out, err = c.exec(_SCRIPT, 300)
        assert not err.strip(), err
        yield out


def test_the_frozen_image_plans_with_the_native_word_loop(chip):
    assert "NATIVE True railbot.plan_native" in chip, chip


def test_native_words_are_the_bytecode_words_and_cost_a_fraction(chip):
    moves = [line.split() for line in chip.splitlines() if line.startswith("MOVE")]
    assert len(moves) == 4, chip
    for _, mm, byte, nat in moves:
        bn, bh, bpos, bus = (int(x) for x in byte.split("/"))
        nn, nh, npos, nus = (int(x) for x in nat.split("/"))
        assert nn > 50 and (nn, nh, npos) == (bn, bh, bpos), f"{mm} mm: the native loop planned other words"
        assert nus * 3 < bus, f"{mm} mm: native {nus} us, bytecode {bus} us (emulated cycles)"

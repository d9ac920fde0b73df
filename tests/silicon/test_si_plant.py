"""A job on the real port: the image a technician flashes, on the emulated RP2040, with the fast tiers' plant on its pins (railbot_host.pinplant), on the short site of the PICO board data.

One boot serves the module, in order: home, a jog and a charge; a hold and resume mid-move with a
charge asked for while moving (its save waits for the stop; the flash has its worst-case times);
then the e-stop chain opened mid-move; then an alarm's ramp-down with a `config set` asked for.
The plant judges what physically happened, and every STEP edge heard at the pins is checked
against the step program's law. All bounds are emulated time. About 1.5 minutes of wall time
(docs/silicon.md).
"""

import pytest
import serial

from railbot import alarms
from railbot_host.link import Link
from railbot_host.pinplant import PinPlant, status, step_law, wait_status
from railbot_host.silicon import EmulatedBoard

BAY_ERROR_UM = 2000  # PRODUCT.md: the carriage stops within 2 mm of a port


@pytest.fixture(scope="module")
def rig(frozen):
    pp = PinPlant.for_board("PICO", site="short")
    with EmulatedBoard(frozen, files=pp.files, speed=0, plant=pp, flash_times="max") as eb:
        eb.wait_boot(1)
        stream = serial.serial_for_url(eb.url, baudrate=115200, timeout=0.02)
        link = Link(stream, timeout_s=120.0)
        link.hello()
        yield pp, link, eb
        stream.close()


def test_home_jog_and_a_charge_on_the_short_site(rig):
    pp, link, _ = rig
    assert "alarm:0" in status(link)  # every fail-safe input is driven healthy by the plant
    assert link.request("home") == "ok homing"
    wait_status(pp, link, "homed:1", 10)
    x0 = pp.do(lambda p: p.x.um())
    assert link.request("jog 300").startswith("ok jog to")
    wait_status(pp, link, "IDLE", 5)
    assert abs(pp.do(lambda p: p.x.um()) - x0 - 300_000) <= 100
    assert link.request("charge 1").startswith("ok charge bay 1")
    pp.until(lambda pp: pp.deliveries, 40)
    wait_status(pp, link, "IDLE", 10)
    [(unit, port, err_um)] = pp.deliveries
    assert (unit, port) == (1, "B1") and abs(err_um) <= BAY_ERROR_UM, pp.deliveries
    assert pp.do(lambda p: (p.units[1].latched, p.held, p.violations)) == (True, None, [])
    assert pp.adc_reads > 0  # the pilot was read through the ADC, from the plant


def test_step_edges_at_the_pins_follow_the_law(rig):
    pp, _, _ = rig
    for axis in (0, 1):
        fig = pp.step_law(axis)
        assert fig["edges_checked"] > 1000, fig
        assert fig["err_us_max"] <= 1.0, fig
        assert fig["short_words"] == 0 and fig["extra_edges"] == 0 and fig["underruns"] == 0, str(fig)


def test_hold_and_resume_mid_move_with_a_save_asked_for_while_moving(rig):
    pp, link, eb = rig
    programs0 = eb.stats()["flash_programs"]
    x0 = pp.do(lambda p: p.x.um())
    assert link.request("jog -1400").startswith("ok jog to")
    pp.until(lambda pp: pp.plant.x.um() < x0 - 300_000, 5)
    reply = link.request("charge 2")  # the one unit is busy at B1: queued; saved at the next stop
    assert reply.endswith("saved at the next stop"), reply
    assert link.request("hold").startswith("ok")
    wait_status(pp, link, "HOLD", 2)
    pp.run(2.0)  # 0.8 m/s at 0.5 m/s^2: 1.6 s to standstill
    still = pp.do(lambda p: p.x.um())
    pp.run(0.5)
    assert pp.do(lambda p: p.x.um()) == still and still > x0 - 1_400_000
    assert link.request("resume") == "ok resumed"
    wait_status(pp, link, "IDLE", 10)
    assert abs(pp.do(lambda p: p.x.um()) - (x0 - 1_400_000)) <= 100
    assert eb.stats()["flash_programs"] > programs0  # the save happened, at the stop (3 ms a page)
    assert pp.do(lambda p: p.violations) == []
    law = pp.step_law(0)
    assert law["underruns"] == 0, str(law)


def test_the_estop_chain_opened_mid_move(rig):
    pp, link, _ = rig
    x0 = pp.do(lambda p: p.x.um())
    assert link.request("jog 1000").startswith("ok jog to")
    pp.until(lambda pp: pp.plant.x.um() > x0 + 300_000, 5)  # at about 0.55 m/s (short: re-homing follows)
    t_press = pp.do(lambda p: p.press_estop() or pp.t_ns)
    s = wait_status(pp, link, "ALARM", 1)
    assert f"alarm:{alarms.ESTOP}" in s
    pp.run(2.0)
    # Stop category 1 (PRODUCT.md rule 4): on the chain's interrupt the queued words are dropped and
    # the pulses ramp down from the speed of that moment at a_max, then the drivers go off; the
    # plant's safety relay cuts driver power after its delay, with the carriage standing.
    edges = [ns for ns, _ in pp.edges[0]]
    v0 = sum(1 for ns in edges if t_press - 20_000_000 <= ns < t_press) / 0.020  # steps/s
    a = pp.cfg["x"]["a_max_mm_s2"] * pp.cfg["x"]["steps_per_mm"]
    # v/a, plus the ms the pin plant takes to show the chain open, the interrupt and the last steps
    assert v0 > 5000 and edges[-1] - t_press <= (v0 / a + 0.1) * 1e9, (v0, edges[-1] - t_press)
    pp.run(0.6)  # the relay's delay (2.5 s) ends: driver power off, the carriage long standing
    relay_ms = pp.do(lambda p: p.relay_cut_ms)
    assert relay_ms is not None and edges[-1] < relay_ms * 1_000_000
    tail = [b - a for a, b in zip(edges, edges[1:]) if b > t_press + 100_000_000]
    assert all(b >= a - 500 for a, b in zip(tail, tail[1:]))  # slowing down all the way (to 0.5 us)
    assert tail[-1] > 10 * tail[0]
    assert pp.do(lambda p: p.x.enable_pin) == 1  # driver off (TMC2209 EN active low)
    x_stop = pp.do(lambda p: p.x.um())
    assert link.request("reset").startswith("error")  # the chain is still open
    pp.do(lambda p: p.press_estop(False))
    assert link.request("reset").startswith("ok")
    pp.run(1.0)
    assert pp.do(lambda p: p.x.um()) == x_stop  # reset never restarts motion
    assert "homed:0" in status(link)


def test_config_set_during_an_alarms_ramp_down_is_refused_and_the_ring_never_runs_dry(rig):
    """Found here: `config set` was taken in ALARM while the carriage still ramped down, and its
    flash write (a 400 ms erase) ran the step ring dry mid-ramp: an underrun of 410 ms."""
    pp, link, _ = rig
    assert link.request("cancel 2").startswith("ok")  # no job left: config set is taken at rest
    assert link.request("home") == "ok homing"
    wait_status(pp, link, "homed:1", 30)
    under0 = pp.step_law(0)["underruns"]
    x0 = pp.do(lambda p: p.x.um())
    assert link.request("jog 1500").startswith("ok jog to")
    pp.until(lambda pp: pp.plant.x.um() > x0 + 300_000, 5)  # about 0.55 m/s: a 0.55 s ramp-down
    pp.do(lambda p: p.kill_encoder())  # the wheel stops counting: ENCODER_FAULT, a controlled stop
    wait_status(pp, link, "ALARM", 1)
    reply = link.request("config set x.v_max_mm_s 900")
    assert reply == "error: config set: only at rest (the carriage is still moving)", reply
    pp.run(2.5)
    law = pp.step_law(0)
    assert law["underruns"] == under0, str(law)
    assert pp.do(lambda p: p.violations) == []


def test_the_law_check_sees_a_late_word_and_a_wrong_edge():
    """step_law on made-up pulls and edges: a check that can fail."""
    h, low = 123, 6122  # 20 kHz: P = 6250 cycles
    word = low << 8 | (4 - 1) << 1 | 1
    cyc = 8
    pulls = [(0, h, 0), (1000 * cyc, word, 1)]
    s = 1000
    good = [((s + 5 + low + i * 6250) * cyc, 1) for i in range(4)]
    cfg = {"a_max_mm_s2": 500, "steps_per_mm": 20}
    assert step_law(pulls, good, cfg)["err_us_max"] == 0
    shifted = good[:3] + [(good[3][0] + 2000, 1)]  # 2 us late
    assert step_law(pulls, shifted, cfg)["err_us_max"] == pytest.approx(2.0)
    late = pulls + [((s + 3 + 4 * 6250 + 125_000) * cyc, word, 1)]  # the next word 1 ms late at 20 kHz
    fig = step_law(late, good, cfg)
    assert fig["underruns"] == 1 and fig["short_words"] == 1 and fig["stall_max_us"] == pytest.approx(1000)
    assert fig["underrun_at"] == [(0.0, 0, 20000, 1000.0)]  # at 0 ms, the first word, 20 kHz, 1 ms
    # a one-step move from rest (its period only DIR's set-up), the next move 1 ms later: no underrun
    one = 1 << 8 | 1
    p1 = 1 + h + 5
    lone = [(0, h, 0), (1000 * cyc, one, 1), ((1000 + 3 + p1 + 125_000) * cyc, word, 1)]
    assert step_law(lone, [((1000 + 5 + 1) * cyc, 1)], cfg)["underruns"] == 0
    # the same step after a running word that did not wait is one
    run = [(0, h, 0), (1000 * cyc, word, 1), ((s + 3 + 4 * 6250) * cyc, one, 1),
           ((s + 3 + 4 * 6250 + 3 + p1 + 125_000) * cyc, word, 1)]
    assert step_law(run, good + [((s + 3 + 4 * 6250 + 5 + 1) * cyc, 1)], cfg)["underruns"] == 1

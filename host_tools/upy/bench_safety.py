"""Safety figures on the simulated board (simulated time: machine-independent): the e-stop at full
speed on the shipped board data and on the worst case the loader accepts (the safety relay's delay
exactly v_max / a_max + config.ESTOP_MARGIN_MS), judged by the plant: where the ramp down began,
when the carriage stood, when the relay cut driver power.

Prints `BENCH name value` lines, then BENCH_DONE. Runs under CPython (as `make bench` does) and
MicroPython; sys.path must hold the firmware and boards/SIM.
"""
import simboard

simboard.install()

from simboard.rig import Rig, sim_config  # noqa: E402
from railbot import alarms, config  # noqa: E402


def estop_at_full_speed(**changes):
    """(us from the chain opening to the first slower step, ms to standstill, relay cut - standstill
    in ms, the carriage stood before the relay cut, violations, alarm) of one e-stop at cruise."""
    rig = Rig(units=[(1, "D27L")], **changes)
    rig.cmd("charge 2")
    rig.until(lambda: rig.robot.x.busy() and rig.plant.x.um() > 20000 * 1000
              and rig.robot.x.v >= rig.robot.x.v_max, 300, 10)
    rig.run(1)
    p = rig.plant
    log = []
    p.x.on_word = lambda t_us, period, n: log.append((t_us, period))
    cruise = p.x.w_period
    t0_ms = rig.now_ms()
    p.press_estop()
    rig.until(lambda: not rig.robot.x.busy(), 10, 10)
    rig.run(p.relay_ms // 1000 + 1)
    slower = [t + (q - p.x.h) // p.x.cyc for t, q in log if q > cruise]
    latency = slower[0] - t0_ms * 1000 if slower else -1
    stand = p.last_x_step_ms - t0_ms
    margin = p.relay_cut_ms - p.last_x_step_ms if p.relay_cut_ms is not None else -1
    return latency, stand, margin, int(margin > 0 and p.relay_cut_moving == 0), len(p.violations), rig.robot.alarm


lat, stand, margin, ok, viol, alarm = estop_at_full_speed()
print("BENCH sim_estop_to_decel_us %d" % lat)
print("BENCH sim_estop_standstill_ms %d" % stand)
print("BENCH sim_estop_relay_margin_ms %d" % margin)
# the worst case the loader accepts: the fastest x the relay's delay allows (v/a + margin == delay)
cfg = sim_config()
a = cfg["x"]["a_max_mm_s2"]
relay = cfg["timing"]["estop_relay_ms"]
v = (relay - config.ESTOP_MARGIN_MS) * a // 1000
lat_w, stand_w, margin_w, ok_w, viol_w, alarm_w = estop_at_full_speed(x_v_max_mm_s=v)
print("BENCH estop_worst_v_max_mm_s %d" % v)
print("BENCH estop_worst_standstill_ms %d" % stand_w)
print("BENCH estop_worst_relay_margin_ms %d" % margin_w)
print("BENCH estop_standstill_before_relay %d" % (ok and ok_w))
print("BENCH estop_plant_violations %d" % (viol + viol_w))
if alarm != alarms.ESTOP or alarm_w != alarms.ESTOP:
    print("ERROR the e-stop raised alarm %d and %d, not ESTOP" % (alarm, alarm_w))
print("BENCH_DONE")

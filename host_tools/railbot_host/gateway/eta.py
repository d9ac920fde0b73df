"""When a unit will reach a bay: the robot's queue replayed with its own choice of unit (the nearest
free one, as firmware/railbot/mission.py's Mission.nearest_free) and trapezoidal moves, plus the time a
pick and a place take, learned from the deliveries seen so far."""

from __future__ import annotations

import math

#: A pick plus a place (lift down and up twice, grip, latch), before anything was measured.
HANDLING_DEFAULT_S = 40.0
#: How long a unit serves a car (delivered to released), before anything was measured.
BUSY_DEFAULT_S = 5400.0
#: A unit whose car is overdue is taken to come free this soon.
OVERDUE_S = 300.0


def port_x_mm(site: dict, port: str) -> int:
    """x of a port name (B12, D24L) from the robot's `site` board data."""
    st = site["stations"]
    if port.startswith("B"):
        station = (int(port[1:]) + 1) // 2
        return st["first_x_mm"] + (station - 1) * st["pitch_mm"]
    if port.startswith("D"):
        dock = int(port[1:-1])
        for d in site["docks"]:
            if d["id"] == dock:
                return d["x_mm"]
    raise ValueError(f"unknown port {port!r}")


def move_s(d_mm: float, v_mm_s: float, a_mm_s2: float) -> float:
    """A trapezoidal (or triangular) move of d_mm from rest to rest."""
    d = abs(d_mm)
    if d == 0:
        return 0.0
    if d >= v_mm_s * v_mm_s / a_mm_s2:
        return d / v_mm_s + v_mm_s / a_mm_s2
    return 2 * math.sqrt(d / a_mm_s2)


class EtaModel:
    def __init__(self, site: dict, x_cfg: dict, handling_s: float = HANDLING_DEFAULT_S,
                 busy_s: float = BUSY_DEFAULT_S):
        self.site = site
        self.busy_s = busy_s
        self.v = x_cfg["v_max_mm_s"]
        self.a = x_cfg["a_max_mm_s2"]
        self.handling_s = handling_s
        self.learned = 0

    def job(self, here_mm: float, units: dict[str, float], bay: int, t_s: float) -> tuple[float, float, str]:
        """(when the job ends, where the carriage ends, the unit's port) for one job begun at t_s from
        here_mm; units: port -> when it is free (s from now). The robot takes the nearest of the units
        free when it begins; with none free it waits for the first to come free."""
        to = port_x_mm(self.site, f"B{bay}")
        free = [p for p, at in units.items() if at <= t_s]
        if not free:
            first = min(units.values())
            t_s, free = first, [p for p, at in units.items() if at <= first]
        best = min(free, key=lambda p: (abs(port_x_mm(self.site, p) - here_mm) + abs(port_x_mm(self.site, p) - to), p))
        ux = port_x_mm(self.site, best)
        return (t_s + move_s(ux - here_mm, self.v, self.a) + move_s(to - ux, self.v, self.a) + self.handling_s,
                to, best)

    def estimate(self, here_mm: float, free_ports: list[str], busy: list[tuple[float, str]],
                 bays_ahead: list[int], bay: int) -> float:
        """Seconds until a unit is latched at `bay`, after the jobs for bays_ahead; busy: (seconds
        until it is free, port) of each unit serving a car."""
        units = {p: 0.0 for p in free_ports}
        for at_s, port in busy:
            units[port] = max(at_s, OVERDUE_S)
        if not units:
            return BUSY_DEFAULT_S
        t, x = 0.0, here_mm
        for b in bays_ahead + [bay]:
            t, x, used = self.job(x, units, b, t)
            del units[used]
            if not units:
                break
        return t

    def learn(self, predicted_s: float, actual_s: float) -> None:
        """A delivery that found a free unit: move the handling time towards what it took."""
        travel = predicted_s - self.handling_s
        seen = actual_s - travel
        self.learned += 1
        w = 1 / min(self.learned, 8)
        self.handling_s += w * (seen - self.handling_s)

    def learn_busy(self, served_s: float) -> None:
        """A unit came free after serving a car for served_s: the mean of the last few."""
        self.busy_s += (served_s - self.busy_s) / 8

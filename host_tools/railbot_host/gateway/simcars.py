"""Cars for `railbot gateway --sim --sim-bus`: one plugs into each unit the robot latches at a bay, charges, and puts the gun back."""

from __future__ import annotations

PLUG_AFTER_MS = 60_000
CHARGE_MS = 30 * 60_000
UNPLUG_AFTER_MS = 5 * 60_000


class SimCars:
    def __init__(self, plant, meters):
        self.plant = plant
        self.meters = meters
        self.visits: dict[tuple[int, int], list[int]] = {}  # (unit, its move count) -> [phase, due_ms]

    def step(self, t_ms: int) -> None:
        """Move every car on to t_ms (called after the plant has)."""
        bays = {i for i, name in enumerate(self.plant.port_name) if name.startswith("B")}
        for u in self.plant.units.values():
            if u.port not in bays or not u.latched:
                continue
            visit = self.visits.setdefault((u.id, u.moves), [0, t_ms + PLUG_AFTER_MS])
            phase, due = visit
            if phase == 4 or t_ms < due:
                continue
            self.meters.meters[u.id].advance(t_ms)
            if phase == 0:  # plugged in: connected (B)
                u.gun_out, u.cp, u.cp_duty_pct = True, "B", 50
                visit[:] = [1, t_ms + 5_000]
            elif phase == 1:  # charging (C)
                u.cp = "C"
                visit[:] = [2, t_ms + CHARGE_MS]
            elif phase == 2:  # full: connected, not charging
                u.cp = "B"
                visit[:] = [3, t_ms + UNPLUG_AFTER_MS]
            else:  # the owner puts the gun back
                u.cp, u.gun_out = "A", False
                visit[:] = [4, 0]

"""Handling: the gripper, pick and place at a port with their checks, the cable-in-use rule read
through the unit-sense readers, and the safe state after a handling alarm (docs/gripper.md)."""
import asyncio
from railbot import alarms, interlock
from railbot.ledger import CARRIED, UNKNOWN, IN_USE
from railbot.supervisor import Abort, ALARM
from railbot.unitsense import cp_read, holster_in


class Handling:
    def __init__(self, robot, gripper):
        self.r = robot
        self.sup = robot.sup
        self.c = robot.carriage
        self.record = robot.record
        self.hw = robot.hw
        self.gripper = gripper
        self.pp = robot.cfg["pick_place"]

    async def grip(self, close):
        if not close:
            self.sup.refuse(interlock.open_jaws(self.hw))
        code = await self.gripper.move(close)  # the 1 kHz grip loop (railbot/grip.py)
        if code or self.sup.alarm:
            self.sup.fail(code, self.gripper.detail)

    def cable_in_use(self):
        """Rule 1, read through the gripper: "" when the gun is holstered and the pilot reads A (no
        vehicle), else why not: "gun out of holster, pilot <state>" or "control pilot state <state>"."""
        state = cp_read(self.hw.pilot)
        if not holster_in(self.hw.holster_sw):
            return "gun out of holster, pilot " + state
        if state != "A":
            return "control pilot state " + state
        return ""

    def _unit_in_use(self, uid, name, why):
        emit = self.r.emit
        if why == "gun out of holster, pilot A":  # no vehicle on it: the car left with the gun out
            emit("gun_left_out", (("unit", uid), ("port", name)))
        emit("unit_in_use", (("unit", uid), ("port", name), ("why", why)))
        self.r.ledger.state[uid] = IN_USE

    async def _make_safe(self):
        """After a handling alarm (not one of rule 4's: those stop all motion): let go of a unit that
        is latched, keep a carried one gripped, bring the lift down to stowed. The alarm stands;
        a new one raised on the way stands instead."""
        sup = self.sup
        code, detail = sup.alarm, sup.alarm_detail
        if not code or alarms.needs_homing(code):
            return
        hw = self.hw
        sup.alarm = 0
        sup.stopping = False
        try:
            if hw.unit_present_sw.value() and hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
                await self.grip(False)
            await self.c.stow()
        except Abort:
            pass
        if not sup.alarm:
            sup.alarm, sup.alarm_detail, sup.stopping, sup.state = code, detail, True, ALARM

    async def _handling(self, step):
        """Run one pick or place; a handling alarm on the way ends in the safe state."""
        try:
            return await step
        except Abort:
            self.record.settle()  # before the safe state changes what the jaws hold
            await self._make_safe()
            raise

    async def pick(self, uid):
        """Take unit uid from its port; False (unit untouched, still latched) if its cable is in use."""
        return await self._handling(self._pick(uid))

    async def _pick(self, uid):
        r, hw, pp, sup, c = self.r, self.hw, self.pp, self.sup, self.c
        port = r.ledger.port[uid]
        name = r.site.port_names[port]
        await c.go_to_port(port)
        if not hw.port_occupied_sw.value():
            r.ledger.port[uid] = UNKNOWN
            r.emit("unit_missing", (("unit", uid), ("port", name)))
            self.record.save()
            sup.fail(alarms.UNIT_MISSING, "unit %d not at %s" % (uid, name))
        self.record.transit(uid, CARRIED)
        await self.grip(False)
        await c.move_z(r.cfg["z"]["engage_mm"])
        await sup.until(lambda: hw.port_latched_sw.value(), pp["present_timeout_ms"], alarms.GRIP_FAILED,
                        "no latched unit in reach at " + name)
        await self._grasp()
        why = self.cable_in_use()
        if why:
            self._unit_in_use(uid, name, why)
            await self.grip(False)
            await c.stow()
            self.record.transit(0, 0)
            return False
        sup.refuse(interlock.unlatch(hw, why))
        for _ in range(pp["unlatch_tries"]):
            hw.unlatch.value(1)
            try:
                free = await sup.wait(lambda: not hw.port_latched_sw.value(), r.cfg["timing"]["latch_timeout_ms"])
            finally:
                hw.unlatch.value(0)
            if free:
                break
            await asyncio.sleep_ms(pp["retry_pause_ms"])
        else:
            sup.fail(alarms.UNLATCH_FAILED, "port %s, %d tries" % (name, pp["unlatch_tries"]))
        self.record.arrived(uid, CARRIED)
        r.emit("pick", (("unit", uid), ("port", name)))
        await c.stow()
        await sup.until(lambda: hw.unit_present_sw.value(), pp["present_timeout_ms"], alarms.GRIP_FAILED,
                        "unit %d lost from the jaws" % uid)
        return True

    async def _grasp(self):
        """Close on the handle; a miss (the jaws closed, no unit between them: the handle slipped
        aside) opens and tries again, grip_tries in all. A jam is the grip loop's alarm at once."""
        hw, pp, sup = self.hw, self.pp, self.sup
        for i in range(pp["grip_tries"]):
            if i:
                await self.grip(False)
                await asyncio.sleep_ms(pp["retry_pause_ms"])
            code = await self.gripper.move(True)
            if sup.alarm:
                raise Abort()
            if code and (code != alarms.GRIP_FAILED or not hw.jaw_closed_sw.value()):
                sup.fail(code, self.gripper.detail)  # a jam, or jaws that did not close: not a miss
            if await sup.wait(lambda: hw.unit_present_sw.value(), pp["present_timeout_ms"]) and not code:
                return
            self.r.emit("grip_missed", (("try", i + 1),))
        sup.fail(alarms.GRIP_FAILED, "no unit in the jaws, %d tries" % pp["grip_tries"])

    async def place(self, uid, port):
        await self._handling(self._place(uid, port))

    async def _place(self, uid, port):
        r, hw, pp, sup, c = self.r, self.hw, self.pp, self.sup, self.c
        name = r.site.port_names[port]
        await c.go_to_port(port)
        if hw.port_occupied_sw.value():
            sup.fail(alarms.PORT_OCCUPIED, name)
        self.record.transit(uid, port)
        engage = r.cfg["z"]["engage_mm"]
        for i in range(pp["latch_tries"]):
            if i:  # down a little and up again: the latch gets a second go at the handle
                await c.move_z(engage - pp["relatch_drop_mm"])
                await asyncio.sleep_ms(pp["retry_pause_ms"])
            await c.move_z(engage)
            if await sup.wait(lambda: hw.port_latched_sw.value(), r.cfg["timing"]["latch_timeout_ms"]):
                break
        else:
            sup.fail(alarms.LATCH_FAILED, "port %s, %d tries" % (name, pp["latch_tries"]))
        self.record.arrived(uid, port)
        r.emit("place", (("unit", uid), ("port", name)))
        await self.grip(False)
        await c.stow()
        if not hw.port_occupied_sw.value():
            sup.fail(alarms.UNIT_MISSING, "unit %d did not stay at %s" % (uid, name))

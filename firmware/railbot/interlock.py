"""The interlocks of PRODUCT.md rules 1 to 3, in one place: each action's check reads the sensors now.

Every check returns 0 when the action may go ahead, or the alarm code that refuses it; `why` then
names the rule. The robot calls them at the only places the actions start (`Carriage._start` for
both axes, `Handling.grip`, `Handling._pick` before the latch coil) and the commands call them
before queuing anything, so a refusal changes nothing. docs/safety.md lists the cases.
"""
from railbot import alarms

why = [""]  # the last refusal's reason (no allocation on the allowed path)


def _no(code, text):
    why[0] = text
    return code


def traverse(hw, lift_busy):
    """Rule 2: the carriage moves only with the lift stowed and standing still."""
    if lift_busy or not hw.z_stow_sw.value():
        return _no(alarms.LIFT_NOT_STOWED, "rule 2: the lift is not stowed")
    return 0


def lift(hw, traversing, up):
    """Rule 2: the lift never moves while the carriage traverses. Rule 3: closed jaws (empty or with a
    carried unit) never rise into an occupied port; a gripped unit still latched is never pulled down."""
    if traversing:
        return _no(alarms.LIFT_NOT_STOWED, "rule 2: the carriage is traversing")
    jaws_shut = not hw.jaw_open_sw.value()
    latched = hw.port_latched_sw.value()
    if up and jaws_shut and not latched and hw.port_occupied_sw.value():
        return _no(alarms.PORT_OCCUPIED, "rule 3: the port above is occupied")
    if not up and jaws_shut and latched and hw.unit_present_sw.value():
        return _no(alarms.INTERLOCK, "rule 3: the gripped unit is still latched in its port")
    return 0


def open_jaws(hw):
    """Rule 3: never open the gripper while a carried unit is not latched."""
    if hw.unit_present_sw.value() and not hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
        return _no(alarms.INTERLOCK, "rule 3: the carried unit is not latched")
    return 0


def unlatch(hw, cable):
    """Rule 1: a unit leaves its port only with its gun holstered and no vehicle on its pilot (`cable`
    is what the robot read: "" when free); rule 3: and only from closed jaws, or it would fall."""
    if cable:
        return _no(alarms.INTERLOCK, "rule 1: " + cable)
    if not hw.unit_present_sw.value() or hw.jaw_open_sw.value() or not hw.jaw_closed_sw.value():
        return _no(alarms.INTERLOCK, "rule 3: the unit is not gripped")
    return 0

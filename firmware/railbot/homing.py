"""Homing (the lift to its stow switch, the carriage to its home switch) and re-referencing at the
nearest station marker after an alarm lost the position. Functions of the carriage."""
from railbot import alarms
from railbot.carriage import mm
from railbot.supervisor import HOME, REREF, IDLE


def _steady(pin, level, n, where):
    """A check, true once `pin` has read `level` n times in a row (one reading a call); `first[0]`
    then holds where() at the first reading of that run: the edge, without the debounce's lag."""
    run = [0]
    first = [0]

    def check():
        if pin.value() == level:
            if run[0] == 0:
                first[0] = where()
            run[0] += 1
        else:
            run[0] = 0
        return run[0] >= n

    return check, first


def _zero():
    return 0


async def home_lift(c, grip):
    """Lift: down to the stow switch, up until it releases, back until it is made again: z = 0.
    The switch counts only after `home_debounce_samples` equal readings in a row (one a tick).
    grip(False) opens the jaws (a reset while gripping a latched unit: it stays where it is)."""
    hw, cz, sup = c.hw, c.cfg["z"], c.sup
    n = cz["home_debounce_samples"]
    if hw.unit_present_sw.value() and hw.port_latched_sw.value() and not hw.jaw_open_sw.value():
        await grip(False)
    if not hw.z_stow_sw.value():
        c.z.set_position(cz["travel_mm"] * c.z_spm * 3 // 2)
        if not await c.run_axis(c.z, 0, cz["home_speed_mm_s"], _steady(hw.z_stow_sw, 1, n, _zero)[0]):
            sup.fail(alarms.HOMING_FAILED, "lift stow switch not found")
    c.z.set_position(0)
    await c.run_axis(c.z, cz["pull_off_mm"] * c.z_spm, 1, _steady(hw.z_stow_sw, 0, n, _zero)[0])
    if not await c.run_axis(c.z, -cz["pull_off_mm"] * c.z_spm, 1, _steady(hw.z_stow_sw, 1, n, _zero)[0]):
        sup.fail(alarms.HOMING_FAILED, "lift stow switch did not return")
    c.z.set_position(0)  # just inside the stow switch: z = 0 is always stowed


def _begin(c, state, event):
    c.sup.state = state
    c.homed = False  # no marker re-references while the switch (or the search) defines the zero
    c.r.emit(event, ())
    c.hw.x_step.enable(True)
    c.hw.z_step.enable(True)


def _done(c):
    c.homed = True
    c.sup.paused = False
    c.sup.state = IDLE


async def home(c, grip):
    hw, cx, sup = c.hw, c.cfg["x"], c.sup
    _begin(c, HOME, "homing")
    await home_lift(c, grip)
    # carriage: seek the home switch (1.5 x travel), locate its releasing edge slowly, pull off;
    # the switch counts only after `home_debounce_samples` equal readings in a row (one a tick)
    n = cx["home_debounce_samples"]
    c.x.set_position(c.read_encoder())
    seen = [c.enc_steps]
    if not hw.home_sw.value():
        found, seen = _steady(hw.home_sw, 1, n, c.read_encoder)
        seek = c.x.pos - cx["travel_mm"] * c.x_spm * 3 // 2
        if not await c.run_axis(c.x, seek, cx["home_speed_mm_s"], found):
            sup.fail(alarms.HOMING_FAILED, "home switch not found within 1.5 x travel")
    c.x.set_position(c.read_encoder())
    locate, edge = _steady(hw.home_sw, 0, n, c.read_encoder)
    # back over the overshoot (twice what the seek ran past the switch) plus the pull-off allowance
    span = 2 * (seen[0] - c.x.pos) + 4 * cx["pull_off_mm"] * c.x_spm
    if not await c.run_axis(c.x, c.x.pos + span, cx["locate_speed_mm_s"], locate):
        sup.fail(alarms.PULL_OFF_FAILED, "home switch still made after %s mm" % mm(span, c.x_spm))
    hw.encoder.offset += edge[0] * c.x_cpm // c.x_spm
    c.x.set_position(c.read_encoder())
    c.referenced_here()
    await c.move_x(cx["pull_off_mm"] * c.x_spm)
    c.referenced_here()
    c.referenced = True
    _done(c)
    c.r.emit("homed", (("x_steps", c.enc_steps),))


async def reref(c, grip):
    """Re-establish the position at the nearest station marker (after an alarm lost it): stow the
    lift, search towards the marker the estimate says is nearest at home speed, at most
    reref_search_mm (more than the widest gap between markers); its edge gives the position."""
    hw, cx, sup = c.hw, c.cfg["x"], c.sup
    _begin(c, REREF, "rereferencing")
    await home_lift(c, grip)
    if not hw.z_stow_sw.value():
        sup.fail(alarms.LIFT_NOT_STOWED, "before the marker search")
    here = c.read_encoder()
    best = c.marker_x[0]
    for mx in c.marker_x:
        if abs(mx - here) < abs(best - here):
            best = mx
    dirn = 1 if best >= here else -1
    c.referenced_here()
    seen = c.tags_seen
    c.rerefing = True
    try:
        found = await c.move_x_by(dirn * cx["reref_search_mm"] * c.x_spm, cx["home_speed_mm_s"],
                                  lambda: c.tags_seen != seen)
    finally:
        c.rerefing = False
    if not found or sup.alarm:
        sup.fail(alarms.POSITION_LOST, "no marker")
    c.referenced_here()
    _done(c)
    c.r.emit("rereferenced", (("marker", c.last_tag), ("x_steps", c.enc_steps)))

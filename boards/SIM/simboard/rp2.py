"""The simulated board's `rp2` module: `asm_pio` records the program, StateMachines run plant models of it."""
from simboard import machine as _machine


class PIO:
    OUT_LOW = 0
    OUT_HIGH = 1
    IN_LOW = 0
    IN_HIGH = 1
    SHIFT_LEFT = 0
    SHIFT_RIGHT = 1
    JOIN_NONE = 0
    JOIN_TX = 1
    JOIN_RX = 2
    IRQ_SM0 = 0x100


class _Instr:
    def __init__(self, prog, op, args):
        self.op = op
        self.args = args
        self.side_value = None
        self.delay_cycles = 0
        prog.instructions.append(self)

    def side(self, v):
        self.side_value = v
        return self

    def __getitem__(self, d):
        self.delay_cycles = d
        return self


class Program:
    """What `@asm_pio` gives: the recorded instruction list (the motion issue assembles it to words)."""

    def __init__(self, name, kw):
        self.name = name
        self.options = kw
        self.instructions = []
        self.labels = {}
        self.wrap_target = 0
        self.wrap = None


_DSL_NAMES = ("wrap_target", "wrap", "label", "word", "nop", "jmp", "wait", "in_", "out", "push",
              "pull", "mov", "irq", "set", "pins", "x", "y", "null", "isr", "osr", "pc", "pindirs",
              "exec", "status", "block", "noblock", "iffull", "ifempty", "x_dec", "y_dec",
              "not_x", "not_y", "x_not_y", "pin", "not_osre", "gpio", "invert", "reverse", "clear", "rel")


def asm_pio(**kw):
    def decorator(fn):
        prog = Program(fn.__name__, kw)

        def instr(op):
            return lambda *a: _Instr(prog, op, a)

        dsl = {n: n for n in _DSL_NAMES}
        for op in ("nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set", "word"):
            dsl[op] = instr(op)
        dsl["label"] = lambda name: prog.labels.__setitem__(name, len(prog.instructions))
        dsl["wrap_target"] = lambda: setattr(prog, "wrap_target", len(prog.instructions))
        dsl["wrap"] = lambda: setattr(prog, "wrap", len(prog.instructions))
        dsl["invert"] = lambda v: ("invert", v)
        dsl["reverse"] = lambda v: ("reverse", v)
        gl = fn.__globals__
        saved = {}
        for k, v in dsl.items():
            if k in gl:
                saved[k] = gl[k]
            gl[k] = v
        try:
            fn()
        finally:
            for k in dsl:
                if k in saved:
                    gl[k] = saved[k]
                else:
                    del gl[k]
        return prog

    return decorator


class StateMachine:
    """A state machine whose program the plant knows: words in and out follow the program's law."""

    def __init__(self, sm_id, program=None, freq=-1, **kw):
        self.id = sm_id
        self._model = None
        if program is not None:
            self.init(program, freq, **kw)

    def init(self, program, freq=-1, **kw):
        self.program = program
        self.freq = freq
        self._model = _machine._board[0].bind_state_machine(program, kw)

    def active(self, on=None):
        if on is None:
            return self._model.active
        self._model.active = bool(on)

    def restart(self):
        self._model.restart()

    def put(self, value, shift=0):
        self._model.put(value >> shift if shift else value)

    def get(self, buf=None, shift=0):
        return self._model.get() >> shift

    def tx_fifo(self):
        return self._model.level()

    def rx_fifo(self):
        return self._model.rx_level()

    def exec(self, instr):
        pass

    def irq(self, handler=None, trigger=0, hard=False):
        pass

"""The simulated board's `rp2` module: `asm_pio` assembles the program, StateMachines run plant models of it.

`@asm_pio` records the DSL the way MicroPython's rp2 module runs it on the board, then assembles the
recorded instructions into the 16-bit PIO instruction words (RP2040 datasheet, chapter 3.4) with the
same encodings, side-set and wrap rules as MicroPython. The result keeps `.name` (the simulated board
binds its plant model by name) and adds:

  words          the instruction words, one int per instruction, jump targets relative to the program
  wrap_target    first instruction of the wrap (EXECCTRL WRAP_BOTTOM), 0 unless `wrap_target()`
  wrap           LAST instruction of the wrap (EXECCTRL WRAP_TOP): the one before `wrap()`, else the last
  sideset_pins   number of side-set pins (from `sideset_init`: an int is 1 pin, a tuple its length)
  sideset_opt    True when some instruction has no `.side()` (EXECCTRL SIDE_EN): bit 12 then flags
                 "this instruction side-sets"; MicroPython decides it exactly so
  sideset_count  side-set bits in each instruction INCLUDING that enable bit (PINCTRL SIDESET_COUNT,
                 MicroPython's own meaning once assembled): sideset_pins + sideset_opt
  delay_max      largest `[delay]`: 31 >> sideset_count

DSL use that MicroPython would assemble to a wrong or reserved encoding raises PIOASMError naming the
program and the instruction (MicroPython itself encodes `out(osr, n)` as OUT EXEC and `mov(pindirs, x)` as
MOV EXEC; here they are errors). Written in the MicroPython subset: it also runs under real MicroPython.
"""
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


class PIOASMError(Exception):
    pass


# The DSL's names, with MicroPython's values (they are plain ints there too, so `pin` == `isr` == 6).
_CONSTS = {
    "gpio": 0,  # wait source; `pin` becomes 1, `irq` (the function) becomes 2
    "pins": 0, "x": 1, "y": 2, "null": 3, "pindirs": 4, "pc": 5, "status": 5, "isr": 6, "osr": 7,
    "exec": 8,  # OUT EXEC is 7, MOV EXEC is 4
    "not_x": 1, "x_dec": 2, "not_y": 3, "y_dec": 4, "x_not_y": 5, "pin": 6, "not_osre": 7,
    "noblock": 0x01, "block": 0x21, "iffull": 0x40, "ifempty": 0x40,
    "clear": 0x40,
}
_INSTRUCTIONS = ("word", "nop", "jmp", "wait", "in_", "out", "push", "pull", "mov", "irq", "set")
_BLOCK, _NOBLOCK, _IFFLAG = 0x21, 0x01, 0x40


def _is_int(v):
    return isinstance(v, int)


def _check(ok, why, *args):
    if not ok:  # the message is only formatted for an error
        raise PIOASMError(why % args if args else why)


def _count(v, what):
    _check(_is_int(v) and 1 <= v <= 32, "%s: bit count must be 1..32, got %r", what, v)
    return v & 0x1F


def _nargs(a, lo, hi):
    _check(lo <= len(a) <= hi, "takes %d..%d arguments, got %d", lo, hi, len(a))


def _flags(a, allowed, what):
    v = 0
    for f in a:
        _check(_is_int(f) and f in allowed, "%s: unknown flag %r", what, f)
        v |= f
    _check(not (_BLOCK in a and _NOBLOCK in a), "%s: both block and noblock", what)
    if not v & 1:
        v |= 0x20  # block unless noblock (MicroPython's default)
    return v & 0x60


def _irq_index(v, what):
    # bits 2..0 the flag, bit 4 REL (from `rel(n)`)
    _check(_is_int(v) and v & ~0x17 == 0, "%s: irq index must be 0..7 or rel(0..7), got %r", what, v)
    return v


def _encode(op, a, irq_fn):
    """(word without side-set/delay, jump label or None) of one DSL instruction."""
    if op == "nop":
        _nargs(a, 0, 0)
        return 0xA042, None  # mov y, y
    if op == "word":
        _nargs(a, 1, 2)
        _check(_is_int(a[0]) and 0 <= a[0] <= 0xFFFF, "instruction word must be 0..0xFFFF")
        return a[0], (a[1] if len(a) > 1 else None)
    if op == "jmp":
        _nargs(a, 1, 2)
        cond, target = (0, a[0]) if len(a) == 1 else a
        _check(_is_int(cond) and 0 <= cond <= 7, "unknown jmp condition %r", cond)
        _check(isinstance(target, str), "jmp target must be a label name, got %r", target)
        return cond << 5, target
    if op == "wait":
        _nargs(a, 3, 3)
        pol, src, index = a
        _check(pol in (0, 1), "wait polarity must be 0 or 1")
        if src is irq_fn:
            return 0x2000 | pol << 7 | 2 << 5 | _irq_index(index, "wait"), None
        _check(_is_int(src) and src in (0, 6), "wait source must be gpio, pin or irq")
        _check(_is_int(index) and 0 <= index <= 31, "wait index must be 0..31")
        return 0x2000 | pol << 7 | (1 if src == 6 else 0) << 5 | index, None
    if op == "in_":
        _nargs(a, 2, 2)
        _check(_is_int(a[0]) and a[0] in (0, 1, 2, 3, 6, 7), "IN source must be pins, x, y, null, isr or osr")
        return 0x4000 | a[0] << 5 | _count(a[1], "in_"), None
    if op == "out":
        _nargs(a, 2, 2)
        dest = a[0]
        _check(_is_int(dest) and dest in (0, 1, 2, 3, 4, 5, 6, 8),
               "OUT destination must be pins, x, y, null, pindirs, pc, isr or exec")
        return 0x6000 | (7 if dest == 8 else dest) << 5 | _count(a[1], "out"), None
    if op == "push":
        _nargs(a, 0, 2)
        return 0x8000 | _flags(a, (_BLOCK, _NOBLOCK, _IFFLAG), "push"), None
    if op == "pull":
        _nargs(a, 0, 2)
        return 0x8080 | _flags(a, (_BLOCK, _NOBLOCK, _IFFLAG), "pull"), None
    if op == "mov":
        _nargs(a, 2, 2)
        dest, src = a
        _check(_is_int(dest) and dest in (0, 1, 2, 5, 6, 7, 8),
               "MOV destination must be pins, x, y, exec, pc, isr or osr")
        _check(_is_int(src) and src & ~0x1F == 0 and src & 7 != 4 and src & 0x18 != 0x18,
               "MOV source must be pins, x, y, null, status, isr or osr, optionally invert() or reverse()")
        return 0xA000 | (4 if dest == 8 else dest) << 5 | src, None
    if op == "irq":
        _nargs(a, 1, 2)
        mod, index = (0, a[0]) if len(a) == 1 else a
        _check(_is_int(mod) and mod & ~0x61 == 0, "irq modifier must be block, noblock or clear")
        return 0xC000 | (mod & 0x60) | _irq_index(index, "irq"), None
    if op == "set":
        _nargs(a, 2, 2)
        _check(_is_int(a[0]) and a[0] in (0, 1, 2, 4), "SET destination must be pins, x, y or pindirs")
        _check(_is_int(a[1]) and 0 <= a[1] <= 31, "SET data must be 0..31")
        return 0xE000 | a[0] << 5 | a[1], None
    raise PIOASMError("unknown instruction")


def _describe(op, args):
    return "%s(%s)" % (op, ", ".join([repr(v) for v in args]))


class _Instr:
    def __init__(self, prog, op, args):
        self.prog = prog
        self.op = op
        self.args = args
        self.side_value = None
        self.delay_cycles = None
        self.index = len(prog.instructions)
        prog.instructions.append(self)
        try:
            self.base, self.target = _encode(op, args, prog.irq_fn)
        except PIOASMError as e:
            raise self.error(e.args[0])

    def error(self, why):
        return PIOASMError("%s: instruction %d %s: %s" % (self.prog.name, self.index, _describe(self.op, self.args), why))

    def side(self, v):
        if self.side_value is not None:
            raise self.error(".side() given twice")
        if not (_is_int(v) and v >= 0):
            raise self.error("side-set value must be a non-negative int, got %r" % (v,))
        self.side_value = v
        return self

    def delay(self, d):
        if self.delay_cycles is not None:
            raise self.error("delay given twice")
        if not (_is_int(d) and d >= 0):
            raise self.error("delay must be a non-negative int, got %r" % (d,))
        self.delay_cycles = d
        return self

    def __getitem__(self, d):
        return self.delay(d)


class Program:
    """What `@asm_pio` gives: the recorded instructions and, assembled from them, the instruction words."""

    def __init__(self, name, kw):
        self.name = name
        self.options = kw
        self.instructions = []
        self.labels = {}
        self.wrap_target = None
        self.wrap = None
        self.irq_fn = None
        self.words = []
        self.sideset_pins = 0
        self.sideset_opt = False
        self.sideset_count = 0
        self.delay_max = 31

    def _error(self, why):
        return PIOASMError("%s: %s" % (self.name, why))

    def _label(self, name):
        if not isinstance(name, str):
            raise self._error("label name must be a str, got %r" % (name,))
        if name in self.labels:
            raise self._error("duplicate label %r" % (name,))
        self.labels[name] = len(self.instructions)

    def _wrap_target(self):
        if self.wrap_target is not None:
            raise self._error("wrap_target() given twice")
        self.wrap_target = len(self.instructions)

    def _wrap(self):
        if self.wrap is not None:
            raise self._error("wrap() given twice")
        if not self.instructions:
            raise self._error("wrap() before any instruction")
        self.wrap = len(self.instructions) - 1

    def assemble(self):
        """Compute `words` and the side-set/wrap fields from the recorded instructions."""
        ins = self.instructions
        n = len(ins)
        if n > 32:
            raise self._error("%d instructions: a PIO program holds at most 32" % n)
        if self.wrap_target is None:
            self.wrap_target = 0
        if self.wrap is None:
            self.wrap = n - 1 if n else 0
        if n and self.wrap_target >= n:
            raise self._error("wrap_target() after the last instruction")
        init = self.options.get("sideset_init")
        if init is None:
            pins = 0
        elif isinstance(init, int):
            pins = 1
        else:
            pins = len(init)
        sided = 0
        for i in ins:
            if i.side_value is not None:
                sided += 1
        opt = bool(pins) and sided != n
        count = pins + (1 if opt else 0)
        if count > 5:
            raise self._error("%d side-set bits (with the enable bit): at most 5" % count)
        self.sideset_pins, self.sideset_opt, self.sideset_count = pins, opt, count
        self.delay_max = 31 >> count
        words = []
        for i in ins:
            w = i.base
            if i.target is not None:
                if i.target not in self.labels:
                    raise i.error("unknown label %r" % (i.target,))
                addr = self.labels[i.target]
                if addr >= n:
                    raise i.error("label %r is past the last instruction" % (i.target,))
                w |= addr
            if i.side_value is not None:
                if not pins:
                    raise i.error(".side() without sideset_init")
                if i.side_value >= 1 << pins:
                    raise i.error("side-set value %d does not fit %d pin(s)" % (i.side_value, pins))
                w |= (1 if opt else 0) << 12 | i.side_value << (13 - count)
            if i.delay_cycles:
                if i.delay_cycles > self.delay_max:
                    raise i.error("delay %d above %d (%d side-set bits)" % (i.delay_cycles, self.delay_max, count))
                w |= i.delay_cycles << 8
            words.append(w)
        self.words = words
        return self


def asm_pio(**kw):
    def decorator(fn):
        prog = Program(fn.__name__, kw)

        def instr(op):
            return lambda *a: _Instr(prog, op, a)

        dsl = dict(_CONSTS)
        for op in _INSTRUCTIONS:
            dsl[op] = instr(op)
        prog.irq_fn = dsl["irq"]
        dsl["label"] = prog._label
        dsl["wrap_target"] = prog._wrap_target
        dsl["wrap"] = prog._wrap
        dsl["invert"] = lambda v: v | 0x08
        dsl["reverse"] = lambda v: v | 0x10
        dsl["rel"] = lambda v: v | 0x10
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
        return prog.assemble()

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
        board = _machine._board[0]
        self._model = board.bind_state_machine(program, dict(kw, freq=freq))
        board.state_machines[self.id] = self._model

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
        # MicroPython takes an int as the instruction word (a str would go through asm_pio_encode)
        if not isinstance(instr, int):
            raise TypeError("the simulated rp2 takes only an instruction word (int) in exec(), got %r" % (instr,))
        model = self._model
        if not hasattr(model, "exec"):  # (getattr would allocate a bound method per call)
            raise RuntimeError("the simulated board models no exec() for program %r" % (self.program.name,))
        model.exec(instr)

    def irq(self, handler=None, trigger=0, hard=False):
        pass


# DMA CTRL fields (RP2040 datasheet 2.5.7), as MicroPython's DMA.pack_ctrl packs them.
_CTRL_FIELDS = (("enable", 0, 1), ("high_pri", 1, 1), ("size", 2, 2), ("inc_read", 4, 1), ("inc_write", 5, 1),
                ("ring_size", 6, 4), ("ring_sel", 10, 1), ("chain_to", 11, 4), ("treq_sel", 15, 6),
                ("irq_quiet", 21, 1), ("bswap", 22, 1), ("sniff_en", 23, 1))


class DMA:
    """A DMA channel, in the two uses the firmware has: a step ring feeding a step program's TX FIFO
    from RAM, and a capture moving ADC results from its FIFO into a buffer (DREQ_ADC).

    The step model pulls words through `_next_word()` as its FIFO empties (DREQ pacing); a word is
    read from the buffer at that moment, so firmware that overwrites a slot the DMA has not read yet
    is caught. The simulated ADC (simboard.machine) hands its results to `_put_sample()` as it makes
    them; a channel reads the ADC up to now whenever the firmware looks at it (count, read, active).
    Abort is machine.mem32[CHAN_ABORT], BUSY is bit 24 of machine.mem32[CTRL_TRIG], as on the board.

    Erratum RP2040-E13: CHAN_ABORT reads clear while a transfer is still in flight. Modelled in its
    worst case, as if the step program had just pulled a word: an abort that finds the channel busy
    with words left leaves one read in flight; CHAN_ABORT reads 0 at once, BUSY stays 1 until the
    read retires, and it retires (READ_ADDR moves on, its word is on its way to the FIFO, which takes
    it before any other) at the first read of BUSY, the next config() or the FIFO's next pull,
    whichever comes first.
    """

    def __init__(self):
        chans = _machine._board[0].dma_channels
        for i in range(len(chans)):
            if chans[i] is None:
                chans[i] = self
                self.channel = i
                break
        else:
            raise OSError("no DMA channel free")
        self._read = 0
        self._count = 0
        self._busy = False
        self._inflight = False  # an aborted read not yet retired (RP2040-E13)
        self._held = None  # the word that read brought, on its way to the FIFO
        self._ctrl = 0
        self._mask = 0
        # What config() has checked, kept so that re-arming the same ring (every feed) and reading
        # each word allocate nothing: the state machine and ctrl checked, the buffer being read,
        # the address of its first word and its length in words.
        self._sm = None
        self._sm_ctrl = -1
        self._buf = None
        self._buf_addr = 0
        self._buf_words = 0
        # An ADC capture: the buffer written, the next element's index, and the ctrl checked for it
        self._adc = False
        self._dst = None
        self._dst_i = 0
        self._dst_off = -1
        self._dst_ctrl = -1
        self._dst_size = 0

    def pack_ctrl(self, default=None, **kw):
        v = default if default is not None else (
            1 | 2 << 2 | 1 << 4 | 1 << 5 | self.channel << 11 | 0x3F << 15 | 1 << 21)
        for name, shift, bits in _CTRL_FIELDS:
            if name in kw:
                f = int(kw.pop(name))
                if not 0 <= f < 1 << bits:
                    raise ValueError("DMA ctrl field %s=%d out of range" % (name, f))
                v = (v & ~(((1 << bits) - 1) << shift)) | f << shift
        if kw:
            raise TypeError("unknown DMA ctrl field(s) %s" % ",".join(sorted(kw)))
        return v

    @staticmethod
    def unpack_ctrl(v):
        d = {}
        for name, shift, bits in _CTRL_FIELDS:
            d[name] = v >> shift & ((1 << bits) - 1)
        return d

    def config(self, read=None, write=None, count=-1, ctrl=-1, trigger=False):
        if self._inflight:  # the firmware's register writes take longer than the read in flight
            self._retire()
        if self._adc:
            _machine._adc_sync()  # what the ADC made before this (re)configuration
        if self._busy:
            raise RuntimeError("simulated DMA: config() on a busy channel (abort it first)")
        if read is not None:
            if not isinstance(read, int):
                read = uctypes_addressof(read)
            self._read = read
        if count >= 0:
            self._count = count
        if ctrl >= 0:
            self._ctrl = ctrl
        if self._read == _machine.ADC_FIFO_ADDR:
            self._config_adc(write)
        else:
            self._adc = False
            self._config_ring(write)
        if trigger and self._count > 0 and self._ctrl & 1:
            self._busy = True
            if self._adc:
                _machine._adc_sync()  # results already waiting in the ADC FIFO move at once

    def _config_ring(self, write):
        if write is not None and (write is not self._sm or self._ctrl != self._sm_ctrl):
            model = getattr(write, "_model", None)
            axis = getattr(model, "axis", None)
            if axis is None:
                raise RuntimeError("simulated DMA: a channel either reads the ADC FIFO (0x%08x) or writes a "
                                   "step program's state machine, got write=%r" % (_machine.ADC_FIFO_ADDR, write))
            f = self.unpack_ctrl(self._ctrl)
            if f["size"] != 2 or not f["inc_read"] or f["inc_write"] or f["ring_sel"] or f["treq_sel"] != write.id:
                raise RuntimeError("simulated DMA: a step ring needs size=2, inc_read, not inc_write, read ring, "
                                   "treq_sel = the state machine's TX DREQ, got %r" % (f,))
            self._mask = (1 << f["ring_size"]) - 1 if f["ring_size"] else -1
            self._sm = write
            self._sm_ctrl = self._ctrl
            axis.dma = self
        if self._sm is None:
            raise RuntimeError("simulated DMA: nothing to write: a step program's state machine or, reading "
                               "the ADC FIFO, a buffer")
        self._bind()

    def _config_adc(self, write):
        """A capture: ADC FIFO -> buffer, paced by DREQ_ADC. What the board would get wrong raises."""
        if write is not None:
            if not isinstance(write, int):
                write = uctypes_addressof(write)
            dst, off = uctypes_resolve(write)
            if dst is not self._dst or off != self._dst_off:  # else the same capture again: checked already
                if self._sm is not None:
                    self._sm._model.axis.dma = None
                    self._sm = None
                elem = len(bytes(dst)) // len(dst) if len(dst) else 1
                if off % elem:
                    raise RuntimeError("simulated DMA: write address 0x%08x is not on an element of its buffer" % write)
                self._dst = dst
                self._dst_off = off
                self._dst_size = elem
                self._dst_ctrl = -1
            self._dst_i = off // self._dst_size  # WRITE_ADDR; without write= it goes on from where it got to
        if self._dst is None:
            raise RuntimeError("simulated DMA: reading the ADC FIFO needs a buffer to write")
        if self._ctrl != self._dst_ctrl:
            f = self.unpack_ctrl(self._ctrl)
            why = None
            if f["treq_sel"] != _machine.DREQ_ADC:
                why = "treq_sel must be DREQ_ADC (%d): any other pace reads an empty FIFO" % _machine.DREQ_ADC
            elif f["inc_read"]:
                why = "inc_read on a FIFO reads the registers after it"
            elif not f["inc_write"]:
                why = "without inc_write every result lands on the same element"
            elif f["ring_size"]:
                why = "a ring wraps the buffer"
            elif 1 << f["size"] != self._dst_size:
                why = "size=%d moves %d bytes a result into a buffer of %d-byte elements" % (
                    f["size"], 1 << f["size"], self._dst_size)
            if why is not None:
                raise RuntimeError("simulated DMA: ADC capture: %s (ctrl %r)" % (why, f))
            self._dst_ctrl = self._ctrl
        if self._dst_i + self._count > len(self._dst):
            raise RuntimeError("simulated DMA: %d results from element %d overrun a buffer of %d" % (
                self._count, self._dst_i, len(self._dst)))
        self._adc = True

    def _bind(self):
        """Find the buffer the reads come from (the whole wrap window must be one buffer)."""
        if self._mask != -1:
            lo = self._read & ~self._mask
            hi = lo + self._mask - 3
        else:
            lo = hi = self._read
        b = self._buf_addr
        if self._buf is not None and b <= lo and hi < b + 4 * self._buf_words:
            return
        buf, off = uctypes_resolve(lo)
        if uctypes_resolve(hi)[0] is not buf:
            raise RuntimeError("simulated DMA: the ring window at 0x%08x is not inside one buffer" % lo)
        self._buf = buf
        self._buf_addr = lo - off
        self._buf_words = len(buf)

    def active(self, value=None):
        if value is not None:
            raise RuntimeError("simulated DMA: start with config(trigger=True), stop with machine.mem32[CHAN_ABORT]")
        return self._ctrl_trig() & _BUSY != 0

    @property
    def count(self):
        if self._adc:
            _machine._adc_sync()
        return self._count

    @property
    def read(self):
        if self._adc:
            _machine._adc_sync()
        return self._read

    def close(self):
        self._abort()
        if self._inflight:
            self._retire()
        if self._sm is not None:
            self._sm._model.axis.dma = None
        _machine._board[0].dma_channels[self.channel] = None

    def _ctrl_trig(self):
        """CTRL_TRIG as read: the ctrl with BUSY (bit 24). Reading it lets a read in flight retire."""
        if self._adc:
            _machine._adc_sync()
        v = self._ctrl | _BUSY if self._busy else self._ctrl & ~_BUSY
        if self._inflight:
            self._retire()
        return v

    def _abort(self):
        # CHAN_ABORT (RP2040 datasheet 2.5.5.3): the channel stops and its transfer count is cleared;
        # READ_ADDR keeps the address of the next word it would have read
        if self._adc:
            _machine._adc_sync()
        if self._busy and not self._adc and self._count > 0:
            self._inflight = True  # RP2040-E13: still BUSY, one read still to land
            self._count = 0
            return
        self._count = 0
        self._busy = False

    def _retire(self):
        """The read in flight at an abort lands: READ_ADDR moves on, its word goes to the FIFO."""
        self._inflight = False
        self._count = 1
        self._held = self._next_word()
        self._busy = False

    def _next_word(self):
        """The next word for the FIFO, or None when the channel is not running."""
        if self._inflight:  # the FIFO's next pull: the read in flight lands first
            self._retire()
        w = self._held
        if w is not None:
            self._held = None
            if not self._busy:  # the read that landed after an abort was the last: nothing left to move
                self._count = 0
            return w
        if not self._busy:
            return None
        a = self._read
        i = (a - self._buf_addr) >> 2
        if not 0 <= i < self._buf_words:  # only a transfer without a ring can run off its buffer
            uctypes_resolve(a)  # raises for an address no buffer holds
            self._bind()
            i = (a - self._buf_addr) >> 2
        word = self._buf[i]
        self._read = (a & ~self._mask) | ((a + 4) & self._mask) if self._mask != -1 else a + 4
        self._count -= 1
        if self._count == 0:
            self._busy = False
        return word

    def _adc_paced(self):
        """True while this channel takes results from the ADC FIFO (DREQ_ADC)."""
        return self._adc and self._busy

    def _put_sample(self, v):
        """One result from the ADC FIFO into the buffer (the simulated ADC calls this under DREQ)."""
        self._dst[self._dst_i] = v
        self._dst_i += 1
        self._count -= 1
        if self._count == 0:
            self._busy = False


_BUSY = 1 << 24  # CTRL_TRIG.BUSY


def uctypes_addressof(obj):
    from simboard import uctypes
    return uctypes.addressof(obj)


def uctypes_resolve(addr):
    from simboard import uctypes
    return uctypes.resolve(addr)

"""The simulated board: plant, virtual clock, event loop and pin wiring of boards/SIM, made current."""
import sys
from simboard import vclock, vasyncio, machine, plant as _plant, cpu as _cpu
from simboard.flash import Flash
from simboard.rng import Rng


class _StepModel:
    """The step program's state machine: its TX FIFO (fed by put or a DMA channel) feeds a plant axis.

    exec() models what StepOutput runs on it: at start, `pull block` then `mov isr, osr` (load the
    high count h into ISR); to cut the queue (StepOutput.cut, on the stopped machine), `jmp` to the
    program's first instruction (the word being executed is dropped: its steps made so far stay
    made) and `pull noblock` (a word out of the FIFO, dropped). Any other exec word raises.
    The program sits at PROGRAM_AT in the PIO's instruction memory (SMx_ADDR reads it while the
    machine waits in its `pull`).
    """
    PROGRAM_AT = 24  # the step program's 8 instructions, added first, at the top of the 32 (as the SDK)

    def __init__(self, axis, freq):
        from railbot.hal.pio import PULL_BLOCK, MOV_ISR_OSR
        self.pull_word = PULL_BLOCK
        self.mov_word = MOV_ISR_OSR
        self.drop_word = 0x8080  # pull noblock (RP2040 datasheet 3.4.7)
        self.jmp_word = self.PROGRAM_AT  # jmp always (000, condition 000) to it, side-set 0
        self.axis = axis
        self.osr = None
        if freq % 1000000:
            raise ValueError("step_pulses: the simulated board needs a whole number of MHz, got %r" % freq)
        axis.cyc = freq // 1000000

    def exec(self, word):
        if word == self.pull_word:
            if not self.axis.fifo:
                raise RuntimeError("step_pulses: exec(pull) with an empty FIFO would block forever")
            self.osr = self.axis.fifo.pop(0)
        elif word == self.mov_word:
            if self.osr is None:
                raise RuntimeError("step_pulses: exec(mov isr, osr) before a pull")
            self.axis.h = self.osr
        elif word == self.jmp_word:
            self.axis.word = None  # back at `pull`: the rest of the word is never made
            self.axis.dry = True  # emptied on purpose: no underrun
        elif word == self.drop_word:
            if self.axis.fifo:
                self.osr = self.axis.fifo.pop(0)
        else:
            raise RuntimeError("step_pulses: the simulated board models only exec(pull), exec(mov isr, osr), "
                               "exec(jmp to the start) and exec(pull noblock), got %r" % (word,))

    def addr(self):
        """SMx_ADDR: the program counter; PROGRAM_AT (the `pull`) while no word is being executed."""
        a = self.axis
        return self.PROGRAM_AT if a.word is None else self.PROGRAM_AT + 4

    @property
    def active(self):
        return self.axis.active

    @active.setter
    def active(self, on):
        self.axis.active = on

    def put(self, word):
        self.axis.put(word & 0xFFFFFFFF)

    def level(self):
        return self.axis.level()

    def rx_level(self):
        return 0

    def get(self):
        raise RuntimeError("the step program pushes nothing")

    def restart(self):
        self.axis.fifo = []
        self.axis.word = None
        self.axis.dry = True  # emptied on purpose: no underrun


class _QuadModel:
    """The quadrature program's state machine: X holds the count; the program pushes nothing.

    X is a 32-bit register, 0 at reset as on the chip, and counts the plant's wheel from the moment
    the machine is started (active(1)); a program that begins with `set x, N` sets it to N then.
    exec() models what the chip does with the words the firmware executes on it: `set x, N` and
    `mov x, ::x` (the preload, on the stopped machine) and READ_COUNT (`in x, 32` with autopush),
    which latches X into the RX FIFO for get(): a one-deep FIFO, as the firmware uses it. get()
    returns X as the rp2 port does, an unsigned 32-bit int (a big int, allocated, from 2**30 on).
    A get() with nothing in the FIFO raises: on the board a blocking get() would hang there.
    """

    def __init__(self, plant, program):
        from railbot.hal.pio import READ_COUNT
        self.read_word = READ_COUNT
        self.plant = plant
        self.x = 0  # X when the machine was started (or last exec'd), counting from base
        self.base = 0  # the plant's wheel count at that moment
        first = program.words[0]
        self.start_x = first & 0x1F if first & 0xFFE0 == 0xE020 else None  # set x, N
        self._active = False
        self.rx = None

    @property
    def active(self):
        return self._active

    @active.setter
    def active(self, on):
        if on and not self._active:
            self.base = self.plant.encoder_counts()
            if self.start_x is not None:
                self.x = self.start_x
        elif not on and self._active:
            self.x = self._x()
        self._active = on

    def _x(self):
        if not self._active:
            return self.x
        v = self.x + self.plant.encoder_counts() - self.base
        # 32 bits without `& 0xFFFFFFFF` (a big int on every read under MicroPython): only a value the
        # real port would box as a big int is one here
        if v < 0:
            return v + 0x100000000
        return v - 0x100000000 if v >= 0x100000000 else v

    def put(self, word):
        raise RuntimeError("the quadrature program pulls nothing")

    def level(self):
        return 0

    def rx_level(self):
        return 0 if self.rx is None else 1

    def exec(self, word):
        if word & 0xFFE0 == 0xE020 and not self._active:  # set x, N (no delay, no side-set)
            self.x = word & 0x1F
            return
        if word == 0xA031 and not self._active:  # mov x, ::x
            v, r = self.x, 0
            for _ in range(32):
                r = (r << 1) | (v & 1)
                v >>= 1
            self.x = r
            return
        if word != self.read_word:
            raise RuntimeError("quadrature: the simulated board models exec of `set x, N` and `mov x, ::x` on the "
                               "stopped machine and READ_COUNT (in x, 32), got %r" % (word,))
        if self.rx is not None:
            raise RuntimeError("quadrature: exec(READ_COUNT) with a count not yet taken by get()")
        self.rx = self._x()

    def get(self):
        w = self.rx
        if w is None:
            raise RuntimeError("quadrature: get() with an empty RX FIFO (the program pushes nothing: "
                               "exec(READ_COUNT) first); on the board it would block forever")
        self.rx = None
        return w

    def restart(self):
        self.rx = None  # SM_RESTART clears the shift counters and a stall, not X


RECORD = "railbot.rec"  # the robot's record (ledger, requests, journal) on the board's flash


class SimBoard:
    def __init__(self, folder, seed=1, speed=0, robot_cfg=None, start_x_mm=1200, cpu_costs=None, flash=None,
                 truth=True):
        """cpu_costs: the CPU cost table charged to the clock (simboard.cpu): None takes the board's
        cpu_costs.json (nothing charged if it has none), False charges nothing, a dict {name: us}.
        flash: the board's file system (default a simboard.flash.Flash; e.g. simboard.lfs.LfsFlash()).
        truth: the plant's own mechanics drawn from the seed (False: the nominal plant, exactly the
        board data: for the few tests that need exact figures)."""
        from railbot import config
        self.folder = folder
        cfg, pins = config.load_board(folder)
        if robot_cfg is not None:
            cfg = robot_cfg
        self.robot_cfg = cfg
        self.pin_table = config.PIN_TABLES[cfg["pin_names"]]  # the names Pin() takes on this board
        self.pad_pulls = [machine.Pin.PULL_DOWN] * machine.GPIO_COUNT  # each pad's pull (reset: down)
        self.pad_mode = [-1] * machine.GPIO_COUNT  # IN, OUT, ... (-1: never set)
        self.pad_out = bytearray(machine.GPIO_COUNT)  # the level an output drives
        self.pad_kept = bytearray(machine.GPIO_COUNT)  # the last level read (the bus keeper holds it)
        self.pad_irq = {}  # gpio -> [handler, trigger, last level] of an armed Pin.irq
        self.pins = pins
        self.wiring = {}
        for name in pins:
            self.wiring[pins[name]] = name
        self.rng = Rng(seed)
        self.pad_rng = Rng(seed + 7919)  # a floating input's noise (simboard.machine.Pin), apart from the plant's
        self.plant = _plant.Plant(cfg, self.rng, truth)
        self.plant.make_readers()
        self.plant.x.steps = start_x_mm * self.plant.x.steps_per_mm
        self.clock = vclock.Clock(speed)
        self.clock.listen(self._advance)
        self.clock.split = self._split
        if cpu_costs is None:
            cpu_costs = self.board_costs()
        self.cpu = _cpu.Cpu(self.clock, cpu_costs if cpu_costs else _cpu.none())
        self.loop = vasyncio.new_event_loop(self.clock)
        self.wdt = None
        self.dma_channels = [None] * 12
        self.state_machines = {}  # sm id -> its model (SMx_ADDR reads: simboard.machine)
        self.ram = []  # buffers given addresses by the simulated uctypes.addressof
        self.wdt_reason = 0  # the watchdog's REASON and SCRATCH0..7 (simboard.machine: WDT_BASE)
        self.wdt_scratch = [0] * 8
        self.flash = Flash(self) if flash is None else flash  # the board's file system: kept across reboots, can lose power
        self.flash.board = self
        self.link_in = bytearray()  # the host link's UART (pins link_tx, link_rx): host -> board
        self.link_out = bytearray()  # board -> host
        self.usb = None  # the USB CDC, once attach_usb() gave the board one
        machine._usb = None
        self.make_current()

    def board_costs(self):
        """The board folder's cpu_costs.json as {name: us}, checked; every cost 0 without one."""
        path = self.folder + "/cpu_costs.json"
        try:
            open(path).close()
        except OSError:
            return _cpu.none()
        return _cpu.load(path)

    def attach_usb(self):
        """Give the board a USB CDC (simboard.usb), as machine._usb: main.py's link finds it."""
        from simboard.usb import UsbCdc
        self.usb = machine._usb = UsbCdc(self)
        return self.usb

    @property
    def reset_cause(self):
        """What machine.reset_cause() answers now (from REASON, as the rp2 port)."""
        return machine.WDT_RESET if self.wdt_reason else machine.PWRON_RESET

    @reset_cause.setter
    def reset_cause(self, cause):
        # PWRON_RESET: the power went (a cut): the watchdog's registers with it. WDT_RESET: a timeout.
        if cause == machine.PWRON_RESET:
            self.wdt_reason = 0
            self.wdt_scratch = [0] * 8
        else:
            self.wdt_reason = machine.REASON_TIMER

    def make_current(self):
        vclock.set_current(self.clock)
        vasyncio._loop[0] = self.loop
        machine._board[0] = self

    def _split(self, t0, t1):
        """Where time must stop on its way from t0 to t1 (vclock.Clock.split): at the end of the
        safety relay's delay, and a ms at a time while the carriage may reach a limit switch (an
        input on an interrupt) within the interval (plant.limit_within)."""
        p = self.plant
        t = t1
        if p.relay_due_ms is not None and t0 < p.relay_due_ms < t:
            t = p.relay_due_ms
        if t - t0 > 1 and p.irq_pins and p.limit_within(t - t0):
            t = t0 + 1
        return t

    def _advance(self, t0, t1):
        if not self.flash.powered:  # a power cut: nothing runs until reboot()
            raise machine.BoardReset(machine.PWRON_RESET)
        self.plant.advance(t0, t1)
        w = self.wdt
        if w is not None and t1 - w.last_feed_ms > w.timeout_ms:
            self.wdt = None
            self.wdt_reason = machine.REASON_TIMER  # the countdown ran out; SCRATCH kept
            raise machine.BoardReset(machine.WDT_RESET)

    def bind_state_machine(self, program, kw):
        name = program.name
        if name == "step_pulses":
            pin = kw.get("sideset_base")
            axis = {"x_step": self.plant.x, "z_step": self.plant.z}.get(pin.name if pin else None)
            if axis is None:
                raise ValueError("step_pulses: sideset_base must be x_step or z_step")
            return _StepModel(axis, kw.get("freq", 125000000))
        if name == "quadrature":
            pin = kw.get("in_base")
            if pin is None or pin.name != "enc_a":
                raise ValueError("quadrature: in_base must be enc_a")
            return _QuadModel(self.plant, program)
        raise ValueError("the simulated board has no model of PIO program %r" % name)

    def robot(self, emit=None):
        """The firmware's robot on this board, its record on the board's flash as main.py keeps it
        on a real board's file system."""
        from railbot.robot import Robot
        from railbot.store import Store
        robot = Robot(self.robot_cfg, self.pins, emit=emit, store=Store(self.flash, RECORD))
        return self.cpu.attach(robot)

    def reboot(self, cause):
        """After a reset or a power cut: a fresh event loop, RAM lost; the plant (the physical
        world) and the flash contents carry on. The watchdog's registers (REASON, SCRATCH0..7)
        survive every reset but a power-on (cause PWRON_RESET); machine.SOFT_RESET is no reset of
        the chip at all: the registers stay and a running watchdog keeps counting."""
        self.flash.reboot()
        self.loop = vasyncio.new_event_loop(self.clock)
        if cause == machine.PWRON_RESET:
            self.reset_cause = cause
        if cause != machine.SOFT_RESET:
            self.wdt = None
            self.pad_pulls = [machine.Pin.PULL_DOWN] * machine.GPIO_COUNT
            self.pad_mode = [-1] * machine.GPIO_COUNT
        self.pad_irq = {}
        self.dma_channels = [None] * 12
        self.state_machines = {}
        self.ram = []  # buffers given addresses by the simulated uctypes.addressof
        self.plant.irq_pins = []
        c = self.clock
        c.soft_n = 0  # what was scheduled went with the RAM
        c.soft_fn = [None] * vclock.SOFT_DEPTH
        c.soft_arg = [None] * vclock.SOFT_DEPTH
        for ax in (self.plant.x, self.plant.z):
            ax.fifo, ax.word, ax.active, ax.dma, ax.dry = [], None, False, None, True
        self.make_current()

    def flash_uf2(self):
        """In the USB bootloader (after machine.bootloader()), a UF2 image is copied to the board:
        the bootrom writes it and reboots into it with watchdog_reboot(0, SRAM_END, 1000)
        (SCRATCH4 = 0, then the countdown: REASON = TIMER). The firmware on the flash boots."""
        self.wdt_scratch[4] = 0
        self.wdt_reason = machine.REASON_TIMER
        self.reboot(machine.WDT_RESET)


def install():
    """Put the simulated `machine`, `rp2` (and `time`, `asyncio` where needed) where firmware imports them."""
    from simboard import rp2, vtime, uctypes, micropython
    sys.modules["machine"] = machine
    sys.modules["rp2"] = rp2
    sys.modules["uctypes"] = uctypes
    sys.modules["micropython"] = micropython  # its schedule() queues on the virtual clock
    if sys.implementation.name == "micropython":
        sys.modules["time"] = vtime
        sys.modules["asyncio"] = vasyncio
        return
    # CPython: keep the host's own time and asyncio for everything else in the process; give
    # `time` the virtual ticks and let firmware modules see the virtual asyncio (railbot.aio).
    import time
    vtime.install_into(time)
    import_firmware("railbot.robot")
    import_firmware("railbot.link")


def import_firmware(name):
    """Import firmware module `name` (e.g. "main") with the virtual asyncio bound to it: needed
    under CPython only, where the host's asyncio stays the process's own."""
    real = sys.modules.get("asyncio")
    sys.modules["asyncio"] = vasyncio
    try:
        return __import__(name, None, None, ["*"])
    finally:
        if real is None:
            del sys.modules["asyncio"]
        else:
            sys.modules["asyncio"] = real

"""The control pilot's ADC capture: the ADC converts free-running on its own clock, DMA moves each result to RAM; no Python runs per sample."""
import array
import machine
import rp2
import time
from micropython import const
from railbot.hal import dma_abort, dma_ctrl_trig

# One capture (docs/safety.md, "Control pilot"): SAMPLES results GAP_US apart span a whole 1 kHz PWM
# period plus its shortest HIGH phase (5 %: 50 us), which then holds at least 2 neighbouring samples.
SAMPLES = const(46)
GAP_US = const(24)
_ADC_MHZ = const(48)  # clk_adc, 48 MHz from PLL_USB
_DIV = const((GAP_US * _ADC_MHZ - 1) << 8)  # a conversion every 1 + DIV.INT + DIV.FRAC/256 cycles
_CONV_US = const(2)  # 96 cycles: the last result is in RAM 2 us after its conversion starts
_CAPTURE_US = const((SAMPLES - 1) * GAP_US + _CONV_US)
_LATE_GAPS = const(4)  # a capture not done this many gaps after it should have been is abandoned

# The ADC (RP2040 datasheet 4.9, ADC_BASE 0x4004C000). MicroPython's machine.ADC converts once per
# read_u16(); free-running mode, the FIFO and the divider are only reachable through mem32.
_ADC_CS = const(0x4004C000)
_ADC_FCS = const(0x4004C008)
_ADC_FIFO = const(0x4004C00C)
_ADC_DIV = const(0x4004C010)
_CS_EN = const(0x1)
_CS_START_MANY = const(0x8)
_CS_READY = const(0x100)
_FCS_LEVEL = const(0xF0000)
# FIFO on, DREQ on, DREQ while it holds >= 1 result (THRESH 0 would assert DREQ with the FIFO empty),
# and write 1 to clear the sticky OVER and UNDER flags
_FCS_CAPTURE = const(0x1 | 0x8 | 1 << 24 | 0x800 | 0x400)
_DREQ_ADC = const(36)


class PilotCapture:
    """Captures SAMPLES 12-bit results of the pilot's ADC input into `buf` (array of "H"), GAP_US
    apart on the ADC's clock; made once, so a capture allocates nothing."""

    def __init__(self, pin_name):
        if not (isinstance(pin_name, str) and pin_name[:2] == "GP" and pin_name[2:] in ("26", "27", "28", "29")):
            raise ValueError("cp_adc: %r is not an ADC pin GP26..GP29" % (pin_name,))
        # machine.ADC sets the pad up as an analog input and powers the ADC; its read_u16 is not used
        self.adc = machine.ADC(machine.Pin(pin_name))
        self.cs = _CS_EN | (int(pin_name[2:]) - 26) << 12  # AINSEL: GP26..GP29 are inputs 0..3
        self.buf = array.array("H", bytes(2 * SAMPLES))
        self.dma = dma = rp2.DMA()
        self.ctrl = dma.pack_ctrl(size=1, inc_read=False, inc_write=True, treq_sel=_DREQ_ADC)
        self.abort_bit = 1 << dma.channel
        self.ctrl_trig = dma_ctrl_trig(dma.channel)

    def capture(self):
        """Fill `buf` with one capture (blocks about 1.1 ms); False if it did not complete."""
        mem = machine.mem32
        cs = self.cs
        dma = self.dma
        mem[_ADC_CS] = cs  # not free-running, the pilot's input selected
        self._drain()
        mem[_ADC_FCS] = _FCS_CAPTURE
        mem[_ADC_DIV] = _DIV
        dma.config(read=_ADC_FIFO, write=self.buf, count=SAMPLES, ctrl=self.ctrl, trigger=True)
        mem[_ADC_CS] = cs | _CS_START_MANY
        time.sleep_us(_CAPTURE_US)
        late = 0
        while dma.count and late < _LATE_GAPS:
            time.sleep_us(GAP_US)
            late += 1
        mem[_ADC_CS] = cs
        mem[_ADC_FCS] = 0  # FIFO and DREQ off: read_u16 on another input works as before
        done = dma.count == 0
        if not done:
            dma_abort(self.abort_bit, self.ctrl_trig)
        self._drain()
        return done

    def _drain(self):
        """Let a conversion under way finish, then empty the FIFO (as the SDK's adc_fifo_drain)."""
        mem = machine.mem32
        n = 0
        while not mem[_ADC_CS] & _CS_READY and n < 100:
            n += 1
        while mem[_ADC_FCS] & _FCS_LEVEL:
            mem[_ADC_FIFO]

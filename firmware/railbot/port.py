"""The link's byte ports: the USB CDC (the REPL's stdin and stdout) and a UART (pins.csv link_tx,
link_rx). A port has readinto(buf) -> how many bytes it put in buf (0 when none wait; never
blocks), room() -> how many bytes a write takes now without waiting (0: none; docs/protocol.md,
"Sending") and write(data) (binary, sent as given; it may wait when given more than room())."""
import sys

try:
    from micropython import const
except ImportError:  # CPython
    def const(x):
        return x

LINK_BAUD = const(115200)
_TXBUF = const(256)  # the link UART's transmit ring


class Usb:
    """sys.stdin.buffer / sys.stdout.buffer. Ctrl-C (0x03) never reaches readinto: MicroPython's
    keyboard interrupt takes it, which is why no frame ever carries that byte."""

    def __init__(self):
        import select

        self._in = sys.stdin.buffer
        self.write = sys.stdout.buffer.write
        self._poll = select.poll()
        self._poll.register(sys.stdin, select.POLLIN)
        self._out = select.poll()
        self._out.register(sys.stdout, select.POLLOUT)
        self._one = bytearray(1)

    def room(self):
        """1 when POLLOUT: the CDC's transmit FIFO has at least one byte free (or no host has the
        port open: then nothing waits). A longer write waits for the host, up to 500 ms."""
        for _ in self._out.ipoll(0):
            return 1
        return 0

    def readinto(self, buf):
        one = self._one
        n = 0
        while n < len(buf):
            ready = False
            for _ in self._poll.ipoll(0):  # ipoll: no list allocated per call
                ready = True
            if not ready:
                break
            self._in.readinto(one)
            buf[n] = one[0]
            n += 1
        return n


class Uart:
    def __init__(self, uart_id, tx, rx, baud=LINK_BAUD):
        from machine import UART, Pin

        self._uart = UART(uart_id, baudrate=baud, tx=Pin(tx), rx=Pin(rx), timeout=0, rxbuf=1024, txbuf=_TXBUF)
        self.write = self._uart.write

    def readinto(self, buf):
        """Only what has arrived: a longer read waits for each next byte up to timeout_char."""
        uart = self._uart
        n = uart.any()
        if not n:
            return 0
        if n > len(buf):
            n = len(buf)
        return uart.readinto(buf, n) or 0

    def room(self):
        """The whole ring once it has drained (txdone): the rp2 port tells no more than that, and a
        write beyond the free room waits for the line, a byte time each."""
        return _TXBUF if self._uart.txdone() else 0


def usb():
    """The USB CDC port; a simulated board's `machine._usb` instead (None: it has no USB)."""
    import machine

    if hasattr(machine, "_usb"):
        return machine._usb
    return Usb()


def open_ports(pins):
    """The board's link ports: the USB (if it has one) and the UART of link_tx/link_rx (if wired)."""
    from railbot import pinmap

    ports = []
    u = usb()
    if u is not None:
        ports.append(u)
    uid = pinmap.uart_of(pins)
    if uid >= 0:
        ports.append(Uart(uid, pins["link_tx"], pins["link_rx"]))
    return ports

"""The simulated board's USB CDC (machine._usb, the port railbot.port gives the link): the waits of
MicroPython's shared/tinyusb/mp_usbd_cdc.c on the virtual clock, and a host that may not read."""
from simboard import vclock

TX_FIFO = 256  # CFG_TUD_CDC_TX_BUFSIZE at full speed
TX_TIMEOUT_MS = 500  # MICROPY_HW_USB_CDC_TX_TIMEOUT (ports/rp2/mphalport.h)
HOST_BYTES_PER_MS = 1000  # what a host that reads takes off the FIFO (full-speed bulk, generously)


class UsbCdc:
    """A write puts what fits in the 256-byte transmit FIFO; while a host holds the port open (DTR)
    and the FIFO is full it waits a ms at a time for the host to read, and gives up after 500 ms
    with no progress, returning what it wrote. With no host connected nothing waits (the bytes
    are lost). room() is what select's POLLOUT says: 1 while a byte fits (or no host), else 0."""

    def __init__(self, board):
        self.from_host = bytearray()  # bytes the host sent, not yet read by the firmware
        self.to_host = bytearray()  # bytes the host has been sent (read or in the FIFO)
        self.fifo = 0  # bytes in the transmit FIFO the host has not taken
        self.connected = False  # a host holds the port open
        self.reading = True  # ... and reads what comes
        self.wait_max_ms = 0  # the longest one write waited
        self.lost = 0  # bytes written with no host connected
        board.clock.listen(self._advance)

    def _advance(self, t0, t1):
        if self.connected and self.reading and self.fifo:
            left = self.fifo - (t1 - t0) * HOST_BYTES_PER_MS
            self.fifo = left if left > 0 else 0

    def readinto(self, buf):
        n = len(self.from_host)
        if n > len(buf):
            n = len(buf)
        for i in range(n):
            buf[i] = self.from_host[i]
        self.from_host[:n] = b""
        return n

    def room(self):
        return 1 if not self.connected or self.fifo < TX_FIFO else 0

    def write(self, data):
        n = len(data)
        if not self.connected:
            self.lost += n
            return n
        clock = vclock._current[0]
        t0 = last = clock.now_ms
        i = 0
        while i < n:
            k = n - i
            if k > TX_FIFO - self.fifo:
                k = TX_FIFO - self.fifo
            self.to_host.extend(data[i:i + k])
            self.fifo += k
            i += k
            if i < n:
                if k:
                    last = clock.now_ms
                elif clock.now_ms - last >= TX_TIMEOUT_MS:
                    break
                clock.advance_to(clock.now_ms + 1)  # blocking: the plant moves, nothing else runs
        if clock.now_ms - t0 > self.wait_max_ms:
            self.wait_max_ms = clock.now_ms - t0
        return i

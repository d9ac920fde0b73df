"""The simulated board's `uctypes`: addressof() gives each buffer a RAM address that the simulated DMA
resolves back to the buffer. Addresses are deliberately not aligned beyond 4 bytes, so code that needs
an aligned window (the DMA ring) must align it itself, as on the board. The buffers given addresses
are the board's (a fresh SimBoard, or a reboot, starts with none)."""
from simboard import machine as _machine

_SPACING = 0x10000
_FIRST = 0x20000104


def addressof(obj):
    ram = _machine._board[0].ram
    for i in range(len(ram)):
        if ram[i] is obj:
            return _FIRST + i * _SPACING
    ram.append(obj)
    return _FIRST + (len(ram) - 1) * _SPACING


def resolve(addr):
    """(buffer, byte offset) of a simulated RAM address; raises for an address no buffer holds."""
    ram = _machine._board[0].ram
    i = (addr - _FIRST) // _SPACING
    if 0 <= i < len(ram) and addr >= _FIRST:
        off = addr - _FIRST - i * _SPACING
        if off // 4 < len(ram[i]):
            return ram[i], off
    raise RuntimeError("simulated DMA: address 0x%08x is outside every buffer given to uctypes.addressof" % addr)

"""The units' EVSE meters on the Modbus RTU bus: the register map, the simulated meters (an adapter on the plant's units), a bus server and the gateway's client.

Register map (one device per unit, Modbus address = unit id; docs/gateway.md):

| input register | meaning |
|---|---|
| 0 | pilot state: 0..5 = A..F (IEC 61851) |
| 1 | current offered, 0.1 A |
| 2, 3 | energy delivered since the meter was made, Wh, uint32, high word first |
| 4 | holster switch: 1 = the gun is in its holster |
| 5 | fault word: bit 0 pilot fault (E/F), bit 1 meter fault, bit 2 RCD trip |

| holding register | meaning |
|---|---|
| 0 | charging enabled: 1 (default) or 0 (the EVSE offers no current: a remote stop) |

The simulated meter is on the host side: it reads the plant's units (boards/SIM/simboard/plant.py:
pilot state, PWM duty, gun out) and integrates the power the car draws in state C, so the plant
needs no change and the energy a session used is known exactly (`energy_mwh`).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

PILOTS = "ABCDEF"
IR_COUNT = 6
HR_ENABLE = 0
MAINS_V = 230
FAULT_PILOT = 1


def offered_deci_a(duty_pct: int) -> int:
    """IEC 61851-1 annex A: the current the PWM duty offers, in 0.1 A (0 outside 10..96 %)."""
    if 10 <= duty_pct <= 85:
        return duty_pct * 6
    if 85 < duty_pct <= 96:
        return (duty_pct - 64) * 25
    return 0


@dataclass
class MeterReading:
    unit: int
    pilot: str
    current_deci_a: int
    energy_wh: int
    holstered: bool
    fault: int

    @classmethod
    def from_registers(cls, unit: int, regs: list[int]) -> "MeterReading":
        if len(regs) != IR_COUNT or not 0 <= regs[0] < len(PILOTS):
            raise ValueError(f"unit {unit}: bad meter registers {regs!r}")
        return cls(unit, PILOTS[regs[0]], regs[1], regs[2] << 16 | regs[3], regs[4] == 1, regs[5])


class EvseMeter:
    """One unit's EVSE controller and meter, simulated over the plant's unit."""

    def __init__(self, unit):
        self.unit = unit  # simboard.plant.Unit
        self.energy_mwh = 0
        self.rest_mw_ms = 0  # what did not make a whole mWh yet
        self.enabled = True
        self.t_ms = 0

    def power_mw(self) -> int:
        u = self.unit
        if u.cp != "C" or not u.gun_out or not self.enabled:
            return 0
        return offered_deci_a(u.cp_duty_pct) * MAINS_V * 100  # 0.1 A x V -> mW

    def advance(self, t_ms: int) -> None:
        """Integrate the power drawn since the last call (the state held since then)."""
        dt = t_ms - self.t_ms
        if dt <= 0:
            return
        total = self.rest_mw_ms + self.power_mw() * dt
        self.energy_mwh += total // 3_600_000
        self.rest_mw_ms = total % 3_600_000
        self.t_ms = t_ms

    def registers(self) -> list[int]:
        u = self.unit
        wh = self.energy_mwh // 1000
        fault = FAULT_PILOT if u.cp in ("E", "F") else 0
        cur = offered_deci_a(u.cp_duty_pct) if self.enabled and u.cp in ("B", "C", "D") else 0
        return [PILOTS.index(u.cp), cur, wh >> 16 & 0xFFFF, wh & 0xFFFF, 0 if u.gun_out else 1, fault]


class PlantMeters:
    """Every unit's meter on one simulated bus; advance(t_ms) after the plant moved on."""

    def __init__(self, plant):
        self.meters = {uid: EvseMeter(u) for uid, u in plant.units.items()}

    def advance(self, t_ms: int) -> None:
        for m in self.meters.values():
            m.advance(t_ms)


class BusServer:
    """A pymodbus server for one simulated bus: RTU framing over a TCP socket on 127.0.0.1."""

    def __init__(self, meters: PlantMeters):
        self.meters = meters
        self.server = None
        self.task = None
        self.port = 0
        self.reads = 0

    async def start(self, port: int = 0) -> int:
        from pymodbus import FramerType
        from pymodbus.server import ModbusTcpServer
        from pymodbus.simulator import DataType, SimData, SimDevice

        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

        def device(uid: int, meter: EvseMeter):
            async def action(fc, start, address, count, regs, set_values):
                if fc == 4:
                    self.reads += 1
                    regs[:] = meter.registers()
                elif set_values is not None and address == HR_ENABLE:
                    meter.enabled = bool(set_values[0])
                return None

            return SimDevice(id=uid, simdata=[SimData(0, values=[0] * IR_COUNT, datatype=DataType.REGISTERS)],
                             action=action)

        devices = [device(uid, m) for uid, m in sorted(self.meters.meters.items())]
        self.server = ModbusTcpServer(devices, framer=FramerType.RTU, address=("127.0.0.1", port))
        self.task = asyncio.create_task(self.server.serve_forever())
        for _ in range(200):
            if self.server.transport is not None:
                break
            await asyncio.sleep(0.005)
        self.port = self.server.transport.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.shutdown()
        if self.task is not None:
            self.task.cancel()


class MeterClient:
    """The gateway's Modbus RTU client: a serial port (`--bus /dev/ttyUSB0`) or the simulated bus (tcp port)."""

    def __init__(self, *, serial_port: str | None = None, tcp_port: int | None = None, timeout_s: float = 1.0):
        from pymodbus import FramerType
        from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient

        logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
        if serial_port:
            self.client = AsyncModbusSerialClient(serial_port, framer=FramerType.RTU, baudrate=19200,
                                                  timeout=timeout_s, retries=1)
        else:
            self.client = AsyncModbusTcpClient("127.0.0.1", port=tcp_port, framer=FramerType.RTU,
                                               timeout=timeout_s, retries=1)
        self.errors = 0

    async def read(self, unit: int) -> MeterReading | None:
        """The unit's registers, or None (counted) when it does not answer correctly."""
        try:
            if not self.client.connected:
                await self.client.connect()
            r = await self.client.read_input_registers(0, count=IR_COUNT, device_id=unit)
            if r.isError():
                raise ValueError(str(r))
            return MeterReading.from_registers(unit, list(r.registers))
        except Exception:  # a unit that does not answer must not stop the gateway
            self.errors += 1
            return None

    async def enable(self, unit: int, on: bool) -> bool:
        try:
            if not self.client.connected:
                await self.client.connect()
            r = await self.client.write_register(HR_ENABLE, 1 if on else 0, device_id=unit)
            return not r.isError()
        except Exception:
            self.errors += 1
            return False

    def close(self) -> None:
        self.client.close()

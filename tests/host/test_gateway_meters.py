"""The units' EVSE meters: the register map, the simulated meter's energy, the pymodbus bus server and the gateway's client over RTU framing."""
import asyncio

import pytest

from railbot_host.gateway.meters import (BusServer, EvseMeter, MeterClient, MeterReading, PlantMeters,
                                         offered_deci_a)
from railbot_host.gateway.robot import SimRobot


class Unit:
    def __init__(self):
        self.cp, self.gun_out, self.cp_duty_pct = "A", False, 50


def test_current_offered_follows_iec_61851_duty():
    assert offered_deci_a(50) == 300 and offered_deci_a(10) == 60 and offered_deci_a(85) == 510
    assert offered_deci_a(90) == 650 and offered_deci_a(96) == 800
    assert offered_deci_a(8) == 0 and offered_deci_a(97) == 0


def test_energy_is_integrated_only_while_charging_and_exactly():
    u = Unit()
    m = EvseMeter(u)
    m.advance(1000)
    u.gun_out, u.cp = True, "B"
    m.advance(61_000)
    assert m.energy_mwh == 0
    u.cp = "C"
    m.advance(61_000 + 3_600_000)  # one hour at 30 A x 230 V
    assert m.energy_mwh == 6_900_000
    for t in range(1, 1001):  # in small steps the remainder is carried, nothing lost
        m.advance(61_000 + 3_600_000 + t * 7)
    assert m.energy_mwh == 6_900_000 + 6_900 * 7000 // 3600
    m.enabled = False  # a remote stop: no current offered
    m.advance(10 ** 8)
    regs = m.registers()
    assert regs[1] == 0 and MeterReading.from_registers(3, regs).energy_wh == m.energy_mwh // 1000


def test_register_map_round_trip_and_bad_registers():
    u = Unit()
    m = EvseMeter(u)
    m.energy_mwh = 70_000_123_000  # above 16 bits of Wh: two registers
    u.cp, u.gun_out = "C", True
    r = MeterReading.from_registers(2, m.registers())
    assert (r.pilot, r.current_deci_a, r.energy_wh, r.holstered, r.fault) == ("C", 300, 70_000_123, False, 0)
    u.cp = "F"
    assert MeterReading.from_registers(2, m.registers()).fault == 1
    for bad in ([9, 0, 0, 0, 1, 0], [0, 0, 0]):
        with pytest.raises(ValueError, match="bad meter registers"):
            MeterReading.from_registers(2, bad)


def test_the_bus_serves_the_plant_units_to_the_client():
    async def go():
        sim = SimRobot(seed=3)
        meters = PlantMeters(sim.plant)
        bus = BusServer(meters)
        port = await bus.start()
        client = MeterClient(tcp_port=port)
        try:
            unit = sim.plant.units[2]
            unit.gun_out, unit.cp, unit.cp_duty_pct = True, "C", 25
            meters.meters[2].energy_mwh = 1_234_999
            r = await client.read(2)
            assert (r.unit, r.pilot, r.current_deci_a, r.energy_wh, r.holstered) == (2, "C", 150, 1234, False)
            assert (await client.read(1)).pilot == "A" and (await client.read(1)).holstered
            assert await client.read(42) is None and client.errors == 1  # no such unit on the bus
            assert await client.enable(2, False) and not meters.meters[2].enabled
            assert (await client.read(2)).current_deci_a == 0
            assert await client.enable(2, True) and meters.meters[2].enabled
            assert bus.reads == 4  # unit 42 is on no bus: nobody answered it
        finally:
            client.close()
            await bus.stop()
    asyncio.run(go())

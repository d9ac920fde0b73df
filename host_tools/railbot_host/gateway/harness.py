"""A gateway on the simulated robot, with the simulated units' bus and a test CSMS, stepped on the virtual clock: for the tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from railbot_host.gateway.chargepoint import GatewayKilled
from railbot_host.gateway.clock import SimClock
from railbot_host.gateway.core import Gateway
from railbot_host.gateway.csms import TestCsms
from railbot_host.gateway.meters import BusServer, MeterClient, PlantMeters
from railbot_host.gateway.robot import RobotLink, SimRobot
from railbot_host.gateway.store import Store

STEP_MS = 2_000


class Harness:
    def __init__(self, *, csms: bool = True, meters: bool = True, seed: int = 1):
        self.want_csms = csms
        self.want_meters = meters
        self.seed = seed
        self.tmp = tempfile.TemporaryDirectory()
        self.db = Path(self.tmp.name) / "gateway.db"
        self.sim = SimRobot(seed=seed)
        self.plant = self.sim.plant
        self.meters = PlantMeters(self.plant)
        self.bus = None
        self.csms = None
        self.gw = None
        self.killed = 0

    async def start(self) -> "Harness":
        if self.want_meters:
            self.bus = BusServer(self.meters)
            await self.bus.start()
        if self.want_csms:
            self.csms = await TestCsms().start()
        await self.new_gateway()
        return self

    async def new_gateway(self) -> Gateway:
        self.sim.stream.drop()
        self.gw = Gateway(Store(self.db), RobotLink(self.sim.stream, timeout_s=0.2, retries=1),
                          MeterClient(tcp_port=self.bus.port, timeout_s=5.0) if self.bus else None, SimClock(self.sim.now_ms),
                          csms_url=self.csms.url if self.csms else None, seed=self.seed, auto_home=True)
        await self.gw.start()
        return self.gw

    def now(self) -> int:
        return self.sim.now_ms()

    async def step(self, ms: int = STEP_MS) -> None:
        t = self.now() + ms
        self.sim.run_to(t)
        self.meters.advance(t)
        if self.gw is not None:
            try:
                await self.gw.tick()
            except GatewayKilled:
                self.kill()

    def kill(self) -> None:
        self.gw.kill()
        self.gw = None
        self.killed += 1

    async def run(self, ms: int) -> None:
        end = self.now() + ms
        while self.now() < end:
            await self.step()

    async def until(self, pred, max_ms: int = 600_000) -> bool:
        end = self.now() + max_ms
        while self.now() < end:
            if pred():
                return True
            await self.step()
        return pred()

    async def homed(self) -> None:
        assert await self.until(lambda: self.gw.robot.state.homed and self.gw.robot.state.state == "IDLE")

    def plug(self, bay: int, duty_pct: int = 50) -> None:
        """A car at the bay plugs into the latched unit (pilot B: connected, not yet charging)."""
        u = self.plant.unit_at(self.plant.port_index(f"B{bay}"))
        self.meters.advance(self.now())
        u.gun_out, u.cp, u.cp_duty_pct = True, "B", duty_pct

    def pilot(self, bay: int, state: str) -> None:
        self.meters.advance(self.now())
        self.plant.unit_at(self.plant.port_index(f"B{bay}")).cp = state

    def unplug(self, bay: int) -> None:
        u = self.plant.unit_at(self.plant.port_index(f"B{bay}"))
        self.meters.advance(self.now())
        u.cp, u.gun_out = "A", False

    def robot_events(self, prefix: str) -> list[str]:
        return [t for _, t in self.sim.robot_events if t.startswith(prefix)]

    async def close(self) -> None:
        if self.gw is not None:
            self.gw.kill()
        if self.csms is not None:
            await self.csms.stop()
        if self.bus is not None:
            await self.bus.stop()
        self.tmp.cleanup()

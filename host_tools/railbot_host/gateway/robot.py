"""The robot as the gateway sees it: its host link (railbot_host.link) over a stream, and the simulated robot in this process.

The gateway is the one host on the robot's port. It polls `status` and `ledger` (the robot's
own record is the truth: which unit serves which bay, how many jobs are queued), passes the
robot's events on, and says hello again when the robot stops answering or shows it has reset
(it was homed and is not any more, with no alarm to explain it).
"""

from __future__ import annotations

import ast
import asyncio
import re
from dataclasses import dataclass, field

from railbot_host.link import Link, LinkError

_STATUS = re.compile(r"^ok <(?P<state>\w+)\|x:(?P<x>[-\d.]+)\|z:(?P<z>[-\d.]+)\|alarm:(?P<alarm>\d+)\|"
                     r"homed:(?P<homed>\d)\|jobs:(?P<jobs>\d+)\|carry:(?P<carry>\d+)>")
_LEDGER_ITEM = re.compile(r"^(\d+):([\w-]+):([\w-]+)$")


@dataclass
class RobotState:
    """One poll of the robot: `status` and `ledger` parsed."""

    state: str = "UNKNOWN"
    x_mm: float = 0.0
    alarm: int = 0
    homed: bool = False
    jobs: int = 0
    units: dict[int, tuple[str, str]] = field(default_factory=dict)  # unit -> (port name, free|serving|in-use)
    online: bool = False
    z_mm: float = 0.0  # the lift (0 = stowed)
    carry: int = 0  # the unit in the gripper, 0 = none

    def unit_at_bay(self, bay: int) -> tuple[int, str] | None:
        name = f"B{bay}"
        for uid, (port, st) in self.units.items():
            if port == name:
                return uid, st
        return None

    def free_units(self) -> list[tuple[int, str]]:
        return [(u, p) for u, (p, s) in sorted(self.units.items()) if s == "free" and p not in ("carried", "unknown")]


def parse_status(reply: str) -> dict | None:
    m = _STATUS.match(reply)
    if not m:
        return None
    d = m.groupdict()
    return {"state": d["state"], "x_mm": float(d["x"]), "alarm": int(d["alarm"]), "homed": d["homed"] == "1",
            "jobs": int(d["jobs"]), "z_mm": float(d["z"]), "carry": int(d["carry"])}


def parse_ledger(reply: str) -> dict[int, tuple[str, str]] | None:
    if not reply.startswith("ok "):
        return None
    out = {}
    for item in reply[3:].split(","):
        m = _LEDGER_ITEM.match(item.strip())
        if not m:
            return None
        out[int(m.group(1))] = (m.group(2), m.group(3))
    return out


class RobotLink:
    """The gateway's end of the host link: requests, events, polls, re-hello after a reset."""

    def __init__(self, stream, *, timeout_s: float = 1.0, retries: int = 2):
        self.stream = stream
        # A serial port's reads wait: its exchanges run in a worker thread, one at a time, so the
        # event loop (the API, the CSMS) goes on meanwhile. The robot's events are kept here and
        # taken by the loop's thread (events()), which alone touches the store.
        self.blocking = not isinstance(stream, Loopback)
        self._lock: asyncio.Lock | None = None
        self._events: list[str] = []
        self.timeout_s = timeout_s
        self.retries = retries
        self.link: Link | None = None
        self.state = RobotState()
        self.hellos = 0
        self.site: dict | None = None
        self.x_cfg: dict | None = None

    def connect(self) -> str:
        """A new link session: hello (the robot forgets the old session's ids and sends its events)."""
        self.link = Link(self.stream, self._events.append, timeout_s=self.timeout_s, retries=self.retries)
        text = self.link.hello()
        self.hellos += 1
        return text

    def request(self, line: str) -> str:
        """One command; on no answer, one new hello and one more try (the robot may have reset)."""
        if self.link is None:
            self.connect()
        try:
            return self.link.request(line)
        except LinkError:
            self.connect()
            return self.link.request(line)

    def events(self) -> list[str]:
        """The robot's events that came since the last call."""
        out = []
        while self._events:  # one at a time: a worker thread may be appending meanwhile
            out.append(self._events.pop(0))
        return out

    async def _off_loop(self, fn, *args):
        if not self.blocking:
            return fn(*args)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            return await asyncio.to_thread(fn, *args)

    async def ask(self, line: str) -> str:
        """request(), without holding the event loop while a serial port answers."""
        return await self._off_loop(self.request, line)

    async def apoll(self) -> RobotState:
        return await self._off_loop(self.poll)

    async def astart(self) -> str:
        """A hello and the board data, off the loop."""
        def start():
            text = self.connect()
            self.board_data()
            return text
        return await self._off_loop(start)

    def config_get(self, key: str):
        reply = self.request(f"config get {key}")
        if not reply.startswith(f"ok {key}="):
            raise LinkError(f"config get {key}: {reply}")
        return ast.literal_eval(reply[len(key) + 4:].split(" (saved", 1)[0])

    def board_data(self) -> None:
        """The site's geometry and the traverse's limits, from the robot's own board data (key by
        key: a whole section is longer than a reply frame)."""
        self.site = {"stations": self.config_get("site.stations"), "docks": self.config_get("site.docks")}
        self.x_cfg = {k: self.config_get(f"x.{k}") for k in ("v_max_mm_s", "a_max_mm_s2")}

    def poll(self) -> RobotState:
        was = self.state
        try:
            st = parse_status(self.request("status"))
            units = parse_ledger(self.request("ledger"))
        except LinkError:
            self.state = RobotState(online=False, units=was.units)
            return self.state
        if st is None or units is None:
            self.state = RobotState(online=False, units=was.units)
            return self.state
        if was.online and was.homed and not st["homed"] and not st["alarm"]:
            self.connect()  # it reset: a new session, so its events come to us again
        self.state = RobotState(st["state"], st["x_mm"], st["alarm"], st["homed"], st["jobs"], units, True,
                                st["z_mm"], st["carry"])
        if self.link is not None:
            self.link.poll()
        return self.state


class Loopback:
    """A byte stream to the firmware's link in this process: write() feeds the board, read() takes what it sent."""

    def __init__(self):
        self.rx = bytearray()
        self.board_link = None

    def attach(self, board_link) -> None:
        self.board_link = board_link

    def board_write(self, data) -> None:
        self.rx += bytes(data)

    def write(self, data: bytes) -> None:
        if self.board_link is not None:
            self.board_link.feed(data)

    @property
    def in_waiting(self) -> int:
        return len(self.rx)

    def read(self, n: int) -> bytes:
        out = bytes(self.rx[:n])
        del self.rx[:n]
        return out

    def drop(self) -> None:
        """What the board sent while nobody listened (a killed gateway) is gone."""
        self.rx.clear()


class SimRobot:
    """The firmware's robot on a SimBoard in this process (virtual clock), reached through a Loopback.
    `robot_events` is every event the robot emitted (its own record, independent of the link)."""

    def __init__(self, seed: int = 1, units: int = 6):
        from railbot_host import sim

        sim._install()
        import railbot.link as fwlink
        from simboard.board import SimBoard

        self._fwlink = fwlink
        self.board = SimBoard(str(sim.SIM_BOARD), seed=seed, robot_cfg=sim.robot_config(units))
        self.robot_events: list[tuple[int, str]] = []
        self.stream = Loopback()
        self._boot()

    def _boot(self) -> None:
        self.robot = self.board.robot(emit=self._emit)
        self.stream.attach(self._fwlink.Link(self.robot, self.stream.board_write))
        self.robot.start()
        self.run_to(self.now_ms() + 200)

    def reset(self) -> None:
        """The robot resets (a watchdog, a power blip): RAM and its link session are gone; the
        plant and the flash (its ledger and unfinished job) carry on."""
        import machine

        self.board.reboot(machine.WDT_RESET)
        self.stream.drop()
        self._boot()

    def _emit(self, kind, fields) -> None:
        self.robot_events.append((self.now_ms(), kind + "".join(f" {k}={v}" for k, v in fields)))

    @property
    def plant(self):
        return self.board.plant

    def now_ms(self) -> int:
        return self.board.clock.now_ms

    def run_to(self, t_ms: int) -> None:
        self.board.make_current()
        self.board.loop.run_until(t_ms)

"""firmware/main.py on the simulated board: the robot with the host link on its UART (pins link_tx,
link_rx), requests, events, realtime bytes and `log` through the wire; `config get/set` on the board
data file. (The USB end to end, with the host's CLI, is tests/host/test_link_vboard.py.)"""
import os

import support
from railbot import config
from railbot import link as L
from railbot import blackbox as B
from railbot.port import Uart
from simboard.board import SimBoard, import_firmware
from simboard.rig import BOARD

main = import_firmware("main")  # firmware/main.py, with the simulated board's asyncio

_folders = [0]
LINK_PINS = "link_tx,GP24\nlink_rx,GP25\n"  # UART1, free on the SIM board


def board_folder(pins_extra=LINK_PINS):
    """A fresh folder with the SIM board's data and the link's UART (main.py reads it from there,
    as from a flash root)."""
    _folders[0] += 1
    folder = support.tmp_path("main%d" % _folders[0])
    os.mkdir(folder)
    for name in ("robot.json", "pins.csv"):
        with open(BOARD + "/" + name) as f:
            text = f.read()
        if name == "pins.csv":
            text += pins_extra
        with open(folder + "/" + name, "w") as f:
            f.write(text)
    return folder


def read(path):
    with open(path) as f:
        return f.read()


class Wire:
    """The host at the far end of the board's UART: frames in, frames out."""

    def __init__(self, board, inbox=None, outbox=None):
        self.board = board
        self.inbox = board.link_in if inbox is None else inbox  # host -> board
        self.outbox = board.link_out if outbox is None else outbox  # board -> host
        self.got = []
        self.parser = L.Parser(self._frame, self._realtime)
        self.buf = bytearray(2 * (L.HEADER + L.MAX_PAYLOAD + 4) + 1)
        self.seq = 0
        self.rid = 0

    def _frame(self, ftype, seq, rid, payload):
        self.got.append((ftype, rid, bytes(payload).decode()))

    def _realtime(self, b):
        raise AssertionError("the board sent a realtime byte")

    def run(self, ms):
        b = self.board
        b.loop.run_until(b.clock.now_ms + ms)
        data = bytes(self.outbox)
        self.outbox[:] = b""
        self.parser.feed(data)

    def send(self, ftype, payload):
        self.rid += 1
        n = L.encode(self.buf, ftype, self.seq, self.rid, payload)
        self.seq = (self.seq + 1) & 0xFF
        self.inbox.extend(self.buf[:n])
        return self.rid

    def request(self, line, ms=50):
        rid = self.send(L.T_REQUEST, line)
        self.run(ms)
        replies = [p for t, i, p in self.got if t == L.T_REPLY and i == rid]
        assert len(replies) == 1, (line, self.got[-5:])
        return replies[0]

    def events(self):
        return [p for t, i, p in self.got if t == L.T_EVENT]


def boot(pins_extra=LINK_PINS, usb=False):
    board = SimBoard(BOARD)
    for line in pins_extra.split():
        name, pin = line.split(",")
        board.wiring[pin] = name  # the link's UART wired on the simulated board
    if usb:
        board.attach_usb().connected = True  # a host holds the port open
    folder = board_folder(pins_extra)
    robot = main.build(folder)
    board.loop.create_task(main._forever(robot))
    wire = Wire(board, board.usb.from_host, board.usb.to_host) if usb else Wire(board)
    wire.run(300)
    return board, folder, robot, wire


def _homed(wire, robot):
    rid = wire.send(L.T_HELLO, L.HELLO)
    wire.run(50)
    assert (L.T_HELLO, rid, L.HELLO) in wire.got
    assert wire.request("home").startswith("ok")
    for _ in range(600):
        wire.run(100)
        if robot.homed:
            return
    raise AssertionError("not homed")


def test_a_usb_write_waits_for_a_host_that_does_not_read_up_to_500_ms():
    board = SimBoard(BOARD)
    usb = board.attach_usb()
    t0 = board.clock.now_ms
    assert usb.write(bytes(1000)) == 1000 and board.clock.now_ms == t0  # no host: nothing waits
    usb.connected = True
    assert usb.write(bytes(1000)) == 1000 and board.clock.now_ms - t0 == 3  # a host reads: a FIFO a ms
    board.clock.advance_to(board.clock.now_ms + 10)
    usb.reading = False  # the host holds the port open, reads no more
    t0 = board.clock.now_ms
    assert usb.room() == 1 and usb.write(bytes(300)) == 256 and board.clock.now_ms - t0 == 500
    assert usb.room() == 0


def test_a_host_that_stops_reading_the_usb_never_delays_the_control_tick():
    board, folder, robot, wire = boot("", usb=True)
    _homed(wire, robot)
    board.usb.reading = False  # the host keeps the port open and reads nothing more
    robot.tick_late_max_ms = 0
    wire.send(L.T_REQUEST, "jog 20000")  # its reply waits in the queue
    for _ in range(60):
        wire.inbox.append(L.RT_STATUS)  # each answered by an event: they pile up while it moves
        wire.run(100)
    for _ in range(600):
        wire.run(100)
        if robot.state == "IDLE" and not robot.moving:
            break
    assert robot.tick_late_max_ms <= 2, robot.tick_late_max_ms
    assert robot.enc_steps > 20000 * robot.x_spm
    board.usb.reading = True
    wire.run(500)
    events = wire.events()
    assert any(e.startswith("jogged") for e in events), events
    assert any(e.startswith("link_dropped events=") for e in events), events


def test_a_log_burst_on_the_link_uart_mid_move_never_delays_the_tick_and_arrives_whole():
    board, folder, robot, wire = boot()
    _homed(wire, robot)
    for _ in range(B.PAGE // 2):  # events enough for a full page of the black box
        assert wire.request("hold") == "ok hold" and wire.request("resume") == "ok resumed"
    robot.tick_late_max_ms = 0
    assert wire.request("jog 20000").startswith("ok")
    wire.run(1000)
    before = len(wire.events())
    reply = wire.request("log", 500)  # 16 events and the reply: far more than the UART's 256-byte ring
    logged = wire.events()[before:]
    assert reply.startswith("ok %d events " % B.PAGE) and len([e for e in logged if e.startswith("log ")]) == B.PAGE
    assert robot.tick_late_max_ms <= 2, robot.tick_late_max_ms


def test_main_serves_the_link_on_the_uart_requests_events_realtime_and_log():
    board, folder, robot, wire = boot()
    assert [type(p) for _, p in robot.links] == [Uart]  # the simulated board has no USB here
    rid = wire.send(L.T_HELLO, L.HELLO)
    wire.run(50)
    assert (L.T_HELLO, rid, L.HELLO) in wire.got
    assert wire.request("status").startswith("ok <IDLE|")
    assert wire.request("home").startswith("ok")
    for _ in range(600):
        wire.run(100)
        if robot.homed:
            break
    assert robot.homed
    assert any(e.startswith("homed") for e in wire.events()), wire.events()
    board.link_in.append(L.RT_STATUS)  # a realtime byte: acted on at once, answered by an event
    wire.run(20)
    assert wire.events()[-1].startswith("rt status ok <IDLE|"), wire.events()[-1]
    before = list(wire.events())
    reply = wire.request("log")
    logged = wire.events()[len(before):]
    assert reply.startswith("ok %d events " % len(logged)) and 0 < len(logged) <= B.PAGE, (reply, logged)
    assert logged[-1].split(" ", 3)[3] == [e for e in before if not e.startswith("rt ")][-1], logged
    assert wire.request("bogus").startswith("error: unknown command")


def test_config_set_validates_saves_and_takes_effect_at_the_next_boot():
    board, folder, robot, wire = boot()
    path = folder + "/robot.json"
    assert wire.request("config get x.v_max_mm_s") == "ok x.v_max_mm_s=1000"
    assert wire.request("config get site.units.0.port") == "ok site.units.0.port='%s'" % robot.cfg["site"]["units"][0]["port"]
    original = read(path)
    for line, why in (("config set x.v_max_mm_s 99999", "x.v_max_mm_s: 99999 is above the maximum"),
                      ("config set x.v_max_mm_s fast", "x.v_max_mm_s: expected an int, got 'fast'"),
                      ("config set z.home_speed_mm_s 150", "z.home_speed_mm_s: 150 exceeds z.v_max_mm_s 100"),
                      ("config set x.nosuch 1", "x.nosuch: no such key"),
                      ("config set site 1", "site: is an object: set the keys inside it"),
                      ("config set site.units.0.port B99", "site.units[0].port: 'B99' is not a port"),
                      ("config get x.nosuch", "error: config: no key 'x.nosuch'"),
                      ("config x.v_max_mm_s", "error: config get KEY | config set KEY VALUE")):
        reply = wire.request(line)
        assert reply.startswith("error") and why in reply, (line, reply)
        assert read(path) == original, line  # a refused value changes nothing
    reply = wire.request("config set x.v_max_mm_s 900")
    assert reply == "ok x.v_max_mm_s=900 saved to %s, used from the next reset" % path, reply
    assert config.load_robot(path)["x"]["v_max_mm_s"] == 900
    assert robot.cfg["x"]["v_max_mm_s"] == 1000  # the running robot keeps what it booted with
    assert wire.request("config get x.v_max_mm_s") == "ok x.v_max_mm_s=1000 (saved 900, used from the next reset)"
    assert main.build(folder).cfg["x"]["v_max_mm_s"] == 900  # the next boot reads it


def test_config_set_is_refused_while_the_robot_works():
    board, folder, robot, wire = boot()
    original = read(folder + "/robot.json")
    assert wire.request("home").startswith("ok")
    wire.run(200)
    assert robot.state == "HOME"
    reply = wire.request("config set x.v_max_mm_s 900")
    assert reply == "error: config set: only at rest (state HOME, 0 jobs)", reply
    assert read(folder + "/robot.json") == original


def test_config_set_is_refused_while_an_alarm_still_ramps_the_carriage_down():
    """An alarm's state is ALARM from the trip on, but the carriage takes up to v/a to stop (stop
    category 1): writing robot.json then would stop the CPU for a flash erase (400 ms at worst) with
    the step ring running dry mid-ramp (seen on the emulated chip, tests/silicon/test_si_plant.py)."""
    board, folder, robot, wire = boot()
    original = read(folder + "/robot.json")
    _homed(wire, robot)
    assert wire.request("jog 20000").startswith("ok")
    for _ in range(300):
        wire.run(10)
        if robot.x.v >= robot.x.v_max:
            break
    board.plant.kill_encoder()  # the wheel stops counting: ENCODER_FAULT, a controlled stop
    for _ in range(100):
        wire.run(10)
        if robot.alarm:
            break
    assert robot.state == "ALARM" and robot.x.busy()
    reply = wire.request("config set x.v_max_mm_s 900")
    assert reply.startswith("error: config set: only at rest") and "moving" in reply, reply
    assert read(folder + "/robot.json") == original
    while robot.x.busy():
        wire.run(100)
    assert wire.request("config set x.v_max_mm_s 900").startswith("ok")  # at standstill, in the alarm


def test_link_pins_must_be_a_uart_pair():
    for extra, why in (("link_tx,GP24\n", "link_rx: missing pin"),
                       ("link_tx,GP2\nlink_rx,GP3\n", "pin GP2 already used by x_step"),
                       ("link_tx,GP23\nlink_rx,GP27\n", "link_tx: GP23 is not a UART TX pin"),
                       ("link_tx,GP24\nlink_rx,GP27\n", "link_rx: GP27 is not the RX pin of GP24's UART (GP25)")):
        folder = board_folder(extra)
        e = support.raises(config.ConfigError, config.load_board, folder)
        assert why in str(e), (extra, str(e))


def _run_until_raised(exc):
    """main.run on a fresh SIM board with a coroutine that starts the robot, then raises `exc`."""
    from simboard import vasyncio

    board = SimBoard(BOARD)
    robot = main.build(board_folder(""))

    async def go():
        robot.start()
        await vasyncio.sleep_ms(500)
        raise exc

    support.raises(type(exc), main.run, robot, go())
    return board


def test_ctrl_c_pauses_the_watchdog_so_the_repl_stays():
    board = _run_until_raised(KeyboardInterrupt())
    assert board.wdt is None
    board.clock.advance_to(board.clock.now_ms + 10000)  # ten seconds at the prompt: no reset


def test_a_crash_leaves_the_watchdog_to_restart_the_board():
    from simboard import machine

    board = _run_until_raised(ValueError("a firmware bug"))
    assert board.wdt is not None
    e = support.raises(machine.BoardReset, board.clock.advance_to, board.clock.now_ms + 10000)
    assert e.cause == machine.WDT_RESET

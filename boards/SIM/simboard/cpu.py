"""The real port's CPU time on the simulated board: the cost table (cpu_costs.json) and where it is charged to the virtual clock."""
import json

# name -> what is charged, once each time
NAMES = ("tick_rest_us", "tick_move_us", "step_word_us", "pilot_reading_us", "marker_line_us", "link_frame_us",
         "save_cpu_us")
US_MAX = 1000000  # a hot path over a second would be a measuring error, not a cost


def check(table, path="cpu_costs.json"):
    """The costs of a parsed table ({"about": text, name: {"us": int, "measured": text}}) as
    {name: us}; ValueError naming the file, the key and the reason otherwise."""
    if not isinstance(table, dict):
        raise ValueError("%s: the table must be a JSON object" % path)
    costs = {}
    for key in table:
        if key == "about":
            continue
        if key not in NAMES:
            raise ValueError("%s: unknown key %r (known: %s)" % (path, key, ", ".join(NAMES)))
        e = table[key]
        if not isinstance(e, dict):
            raise ValueError("%s: %s: must be an object {\"us\": ..., \"measured\": ...}" % (path, key))
        for k in e:
            if k not in ("us", "measured"):
                raise ValueError("%s: %s: unknown key %r (us, measured)" % (path, key, k))
        us = e.get("us")
        if not isinstance(us, int) or isinstance(us, bool) or not 0 <= us <= US_MAX:
            raise ValueError("%s: %s.us: must be an integer 0..%d, got %r" % (path, key, US_MAX, us))
        m = e.get("measured")
        if not isinstance(m, str) or not m:
            raise ValueError("%s: %s.measured: must say where the figure was measured" % (path, key))
        costs[key] = us
    for key in NAMES:
        if key not in costs:
            raise ValueError("%s: missing key %r" % (path, key))
    return costs


def load(path):
    """Read and check a cost table file: {name: us}."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise ValueError("%s: cannot read it (%s)" % (path, e))
    try:
        table = json.loads(text)
    except ValueError as e:
        raise ValueError("%s: not valid JSON (%s)" % (path, e))
    return check(table, path)


def none():
    """Nothing charged: the fast tiers' clock before CPU costs (every cost 0)."""
    costs = {}
    for k in NAMES:
        costs[k] = 0
    return costs


class Cpu:
    """Charges the costs to the board's clock as a slow CPU spends them: blocking (no other task runs;
    the plant, the step ring and the flash go on). attach() wraps a robot's hot paths; link frames
    are charged by whoever feeds them (frame()). Counts what it charged, per kind."""

    def __init__(self, clock, costs):
        self.clock = clock
        self.costs = costs
        self.tick_rest = costs["tick_rest_us"]
        self.tick_move = costs["tick_move_us"]
        self.word = costs["step_word_us"]
        self.marker = costs["marker_line_us"]
        self.on = False
        for k in NAMES:
            if costs[k]:
                self.on = True
        self.ticks = 0
        self.words = 0
        self.markers = 0
        self.readings = 0
        self.frames = 0
        self.saves = 0

    def charge(self, us):
        if us > 0:
            self.clock.advance_us(us)

    def attach(self, robot):
        """Wrap robot.tick, its pilot's capture and its store's save (instance attributes shadow the
        methods, as the silicon bench times the tick): each costs what the table says once it ran."""
        if not self.on:
            return robot
        cpu = self
        plain_tick = robot.tick
        x, z, carriage = robot.x, robot.z, robot.carriage

        def tick():
            w0 = x.words_total + z.words_total
            m0 = carriage.tags_seen
            plain_tick()
            k = x.words_total + z.words_total - w0
            n = carriage.tags_seen - m0
            cpu.ticks += 1
            cpu.words += k
            cpu.markers += n
            cpu.charge((cpu.tick_move if carriage.moving else cpu.tick_rest) + k * cpu.word + n * cpu.marker)

        robot.tick = tick
        pilot = robot.hw.pilot
        plain_capture = pilot.capture
        reading = self.costs["pilot_reading_us"]

        def capture():
            done = plain_capture()
            cpu.readings += 1
            cpu.charge(reading)
            return done

        pilot.capture = capture
        store = robot.store
        if store is not None:
            plain_save = store.save
            save_us = self.costs["save_cpu_us"]

            def save(text):
                r = plain_save(text)
                cpu.saves += 1
                cpu.charge(save_us)
                return r

            store.save = save
        return robot

    def frame(self):
        """One request frame through the link (parse, command, reply)."""
        self.frames += 1
        self.charge(self.costs["link_frame_us"])

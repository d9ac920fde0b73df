"""The si_ figures of `make bench`: the firmware's own code timed and weighed on the emulated RP2040 (MicroPython's rp2 port in rp2040js: railbot_host.silicon).

Every figure is measured on the chip in emulated time (time.ticks_us there: 125 MHz core cycles,
so machine-independent) by the scripts in host_tools/silicon/bench/, exec'd through the raw REPL
after a soft reset (main.py does not run then; each script builds the robot itself with main.build()
from the PICO board data on the flash). They print `SI name value` lines; parse() reads them.
docs/silicon.md, "Figures", says how each is measured and what stays unproven.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from railbot_host import firmware_build
from railbot_host.silicon import SILICON_DIR, EmulatedBoard, SiliconUnavailable, board_files, stock_uf2

SCRIPTS = SILICON_DIR / "bench"
MOVE_MM = 60000  # the move of si_tick_cost_us_max: the whole rail of the PICO board data
DAY_REQUESTS = 200
_LINE = re.compile(rb"SI ([a-z0-9_]+) ([^\s\x00-\x1f]+)\r?\n")  # after binary link frames too


class SiliconBenchError(RuntimeError):
    """A part of the silicon bench could not run or its chip reported an error."""


def parse(text: bytes | str) -> dict:
    """`SI name value` lines -> {name: int | float | str} (other output is ignored)."""
    if isinstance(text, str):
        text = text.encode()
    out = {}
    for m in _LINE.finditer(text):
        raw = m.group(2).decode()
        for conv in (int, float):
            try:
                out[m.group(1).decode()] = conv(raw)
                break
            except ValueError:
                pass
        else:
            out[m.group(1).decode()] = raw.strip("'\"")
    return out


def sample_gaps(stamps: list[int], counts: list[int], cycles_per_us: int = 125, bits: int = 24) -> dict:
    """The pilot capture's sample spacing from the DMA's progress: stamps[i] (core cycles, SysTick
    counting up over `bits` bits) when its TRANS_COUNT was seen to change to counts[i]. A change by
    k samples between two stamps (the watch missed one) is k gaps of equal share."""
    mask = (1 << bits) - 1
    if len(stamps) != len(counts) or len(stamps) < 2:
        raise SiliconBenchError(f"pilot capture: {len(stamps)} stamps, {len(counts)} counts: too few to space")
    gaps = []
    for i in range(1, len(stamps)):
        k = counts[i - 1] - counts[i]
        if k <= 0:
            raise SiliconBenchError(f"pilot capture: the DMA count went from {counts[i - 1]} to {counts[i]}")
        gaps.append(((stamps[i] - stamps[i - 1]) & mask) / k / cycles_per_us)
    span = sum((stamps[i] - stamps[i - 1]) & mask for i in range(1, len(stamps))) / cycles_per_us
    return {
        "cp_sample_gap_us_max": round(max(gaps), 3),
        "cp_sample_gap_us_min": round(min(gaps), 3),
        "cp_sample_gap_us_mean": round(span / (counts[0] - counts[-1]), 3),
        "cp_samples_seen": len(stamps),
    }


def _ints(text) -> list[int]:
    return [int(v) for v in str(text).split(",") if v]


def script(name: str, **params) -> str:
    """An on-chip script with its parameters set in front (NAME = value lines)."""
    head = "".join(f"{k} = {v!r}\n" for k, v in params.items())
    return head + (SCRIPTS / name).read_text()


def _fresh(eb: EmulatedBoard):
    """A raw REPL on a soft-reset chip: a fresh heap, main.py not run."""
    deadline = time.monotonic() + 15
    while True:  # the bridge takes a moment to see the last host's socket closed
        c = eb.connect()
        try:
            c.enter_raw()
            break
        except EOFError as e:
            c.close()
            if b"in use by another host" not in str(e).encode() or time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    c.write(b"\x04")
    c.read_until(b"raw REPL; CTRL-B to exit\r\n>", 60)
    c.data = b""
    return c


def run_script(eb: EmulatedBoard, name: str, timeout: float = 300.0, **params) -> dict:
    c = _fresh(eb)
    try:
        out, err = c.exec(script(name, **params), timeout)
    finally:
        c.close()
    if err.strip():
        raise SiliconBenchError(f"{name} on the emulated chip: {err.strip().splitlines()[-1]}")
    return parse(out)


def heap_and_parts(eb: EmulatedBoard, *, parts: str, day_requests: int = DAY_REQUESTS) -> dict:
    """heap_free_after_boot_bytes (its own small script), then si_parts.py: the pilot capture ("c"),
    saves ("s"), the day of link requests and the heap after it."""
    fig = run_script(eb, "si_boot_heap.py", SETTLE_MS=500)
    got = run_script(eb, "si_parts.py", SETTLE_MS=500, DAY_REQUESTS=day_requests, DAY_GAP_MS=10, PARTS=parts)
    # the parts script's own code is on the heap too: its figure after boot only anchors the growth
    got["heap_day_growth_bytes"] = got["heap_free_after_boot_bytes"] - got["heap_free_after_day_bytes"]
    got["heap_script_bytes"] = fig["heap_free_after_boot_bytes"] - got.pop("heap_free_after_boot_bytes")
    if "cp_stamps" in got:
        if got.get("cp_capture_done") != 1:
            raise SiliconBenchError("pilot capture on the emulated chip: the DMA did not complete its samples")
        got.update(sample_gaps(_ints(got.pop("cp_stamps")), _ints(got.pop("cp_counts")), got["cp_cycles_per_us"]))
    fig.update(got)
    if fig.get("day_requests") != day_requests or fig.get("day_link_errors"):
        raise SiliconBenchError(f"the day on the emulated chip: {fig.get('day_requests')} of {day_requests} "
                                f"requests executed, {fig.get('day_link_errors')} link errors")
    return fig


_HELLO_REPLY = re.compile(rb"railbot-link \d+")
_ALARMS_REPLY = re.compile(rb"ok 1=\w+")
_STATUS_REPLY = re.compile(rb"ok <\w+\|")
_CHARGE_REPLY = re.compile(rb"ok charge bay 1 ")
_CANCEL_REPLY = re.compile(rb"ok cancelled bay 1")


def _expect(c, pattern: re.Pattern, timeout: float = 60.0) -> None:
    """Read until `pattern` has come, and drop what came up to its end."""
    c._fill(lambda: pattern.search(c.data), timeout, lambda: f"no {pattern.pattern!r}")
    c.data = c.data[pattern.search(c.data).end():]


def usb_stall(eb: EmulatedBoard, *, n_reading: int = 10, gap_ms: int = 50, stall_s: float = 2.0) -> dict:
    """si_usb.py: the robot and its USB link running; a host says hello, sends `alarms` requests (a
    reply of about 330 bytes each) while it reads, then more while it reads nothing (its tty buffer fills,
    then the board's IN transfers are NAKed), then reads again: `status`, then `charge 1` and
    `cancel 1` (each saves the record on the flash)."""
    from railbot_host import link as hl

    c = _fresh(eb)
    seq = [0]
    rid = [1]

    def send(ftype, text, again=False):
        if again:  # a retry: the same id, answered from the board's window, not executed twice
            rid[0] -= 1
        c.write(hl.encode(ftype, seq[0], rid[0], text))
        seq[0] = (seq[0] + 1) & 0xFF
        rid[0] += 1

    def ask(text, pattern):
        # as a host's Link does: a reply the board dropped while its queues were full (the
        # backlog of the stall) is asked for again
        for attempt in range(6):
            if attempt:
                send(hl.REQUEST, text, again=True)
            try:
                return _expect(c, pattern, 20)
            except TimeoutError:
                pass
        raise SiliconBenchError(f"USB stall on the emulated chip: no reply to {text!r}")

    try:
        c.start_exec(script("si_usb.py", N_READING=n_reading, LIMIT_MS=600000))
        c.read_until(b"SI ready 1", 60)
        send(hl.HELLO, hl.HELLO_PREFIX + str(hl.VERSION))
        _expect(c, _HELLO_REPLY)
        for _ in range(n_reading):
            send(hl.REQUEST, "alarms")
            _expect(c, _ALARMS_REPLY)
        naks0 = eb.stats()["usb"]["inNaks"]
        eb.host_reads(False)
        # one request every gap_ms of emulated time (the chip runs slower than the wall clock), so
        # its replies keep coming; once the host's buffer is full (the IN transfers are NAKed),
        # stall_s more of emulated time
        sent, next_ns, full_ns = 0, 0, None
        deadline = time.monotonic() + 240
        while True:
            st = eb.stats()
            if full_ns is None and st["usb"]["inNaks"] > naks0:
                full_ns = st["nanos"]
            if full_ns is not None and st["nanos"] - full_ns >= stall_s * 1e9:
                break
            if st["nanos"] >= next_ns:
                send(hl.REQUEST, "alarms")
                sent += 1
                next_ns = st["nanos"] + gap_ms * 1e6
            if time.monotonic() > deadline:
                raise SiliconBenchError(f"USB stall on the emulated chip: {sent} requests in 240 s, "
                                        f"{'no NAK' if full_ns is None else 'not stalled long enough'}")
            time.sleep(0.05)
        naks = eb.stats()["usb"]["inNaks"] - naks0
        eb.host_reads(True)
        for text, pattern in (("status", _STATUS_REPLY), ("charge 1", _CHARGE_REPLY), ("cancel 1", _CANCEL_REPLY)):
            send(hl.REQUEST, text)
            ask(text, pattern)
        fig = parse(c.read_until(b"SI done 1", 120))
    finally:
        c.close()
    return usb_figures(fig, naks=naks, sent=sent, n_reading=n_reading)


def usb_figures(chip: dict, *, naks: int, sent: int, n_reading: int) -> dict:
    """si_usb.py's lines -> the figures: the worst wake-up while the host read nothing or drained
    what had waited (late_us_1, late_us_2) against the same while it read (late_us_0), and while
    it asked for two saves (late_us_4: `charge`, `cancel`)."""
    if chip.get("executed") != n_reading + sent + 3:
        raise SiliconBenchError(f"USB stall on the emulated chip: {chip.get('executed')} of "
                                f"{n_reading + sent + 3} requests executed")
    return {
        "usb_reading_host_tick_late_ms_max": round(chip["late_us_0"] / 1000, 3),
        "usb_stalled_host_tick_late_ms_max": round(max(chip["late_us_1"], chip["late_us_2"]) / 1000, 3),
        "usb_save_request_tick_late_ms_max": round(chip["late_us_4"] / 1000, 3),
        "usb_stalled_host_naks": naks,
        "usb_stalled_host_requests": sent,
        "usb_stalled_host_frames_dropped": chip["txq_dropped"],
    }


def frozen_uf2_built() -> Path:
    """`make firmware BOARD=PICO`'s image (from the build cache when current); BuildError/ToolMissing
    say why not."""
    return firmware_build.build("PICO", "frozen").uf2


def measure_tick(*, move_mm: int = MOVE_MM, say=None) -> dict:
    """si_tick.py on a board of its own (a fresh flash, the robot as it boots): Robot.tick() at rest,
    then over a whole move of move_mm run open-loop (docs/silicon.md, "Figures")."""
    say = say or (lambda m: None)
    uf2 = frozen_uf2_built()
    with EmulatedBoard(uf2, files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        say(f"silicon (frozen image): Robot.tick() at rest and over a {move_mm // 1000} m move, open-loop")
        fig = run_script(eb, "si_tick.py", timeout=1800, MOVE_MM=move_mm, IDLE_TICKS=50)
    if fig.get("move_alarm") or fig.get("idle_alarm"):
        raise SiliconBenchError(f"the open-loop move raised alarm {fig.get('move_alarm') or fig.get('idle_alarm')}")
    if abs(fig.get("move_mm", 0) - move_mm) > 1:
        raise SiliconBenchError(f"the open-loop move ended at {fig.get('move_mm')} mm of {move_mm}")
    fig.update(words_fit(_ints(fig.pop("tick_words_n", "")), _ints(fig.pop("tick_words_us", ""))))
    return fig


def words_fit(ticks: list[int], us: list[int]) -> dict:
    """si_tick.py's moving ticks by the step words each planned (ticks[k] ticks of k words, us[k]
    their us summed) -> a least-squares line: the moving tick without words, and a word's cost."""
    n = sum(ticks)
    if n < 2 or sum(1 for t in ticks if t) < 2:
        raise SiliconBenchError(f"tick cost by words: {n} ticks over {sum(1 for t in ticks if t)} word counts: too few to fit")
    sx = sum(k * t for k, t in enumerate(ticks))
    sy = sum(us)
    sxx = sum(k * k * t for k, t in enumerate(ticks))
    sxy = sum(k * u for k, u in enumerate(us))
    slope = (n * sxy - sx * sy) / (n * sxx - sx * sx)
    return {"cost_step_word_us": round(slope, 1), "cost_tick_move_us": round((sy - slope * sx) / n, 1)}


def measure_costs(*, n: int = 9, say=None) -> dict:
    """si_costs.py on a board of its own: a marker line, a pilot reading (its CPU part: the capture's
    own waits, which the simulated ADC keeps, are the host's to subtract), and a save's CPU part (the
    save's time less the NOR model's busy time between the marks)."""
    say = say or (lambda m: None)
    uf2 = frozen_uf2_built()
    with EmulatedBoard(uf2, files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        say("silicon (frozen image): a marker line, a pilot reading, a save's CPU part")
        before = eb.stats()
        fig = run_script(eb, "si_costs.py", N=n)
        after = eb.stats()
    if fig.get("alarm") or fig.get("cost_pilot_capture_done") != 1 or fig.get("cost_marker_tag", -1) < 0:
        raise SiliconBenchError(f"si_costs.py: alarm {fig.get('alarm')}, capture done {fig.get('cost_pilot_capture_done')}, "
                                f"tag {fig.get('cost_marker_tag')}")
    busy_us = (after["flash_busy_ns"] - before["flash_busy_ns"]) / 1000
    fig["cost_save_flash_us"] = round(busy_us / fig["cost_save_n"], 1)
    fig["cost_save_cpu_us"] = round((fig["cost_save_total_us"] - busy_us) / fig["cost_save_n"], 1)
    fig["cost_save_flash_writes"] = (after["flash_erases"] + after["flash_programs"]
                                     - before["flash_erases"] - before["flash_programs"])
    return fig


def measure_frozen(*, day_requests: int = DAY_REQUESTS, say=None) -> dict:
    """The frozen image's heap (after boot, on a fresh flash; after the day), pilot capture, saves,
    link frames, then the USB link with a host that stops reading."""
    say = say or (lambda m: None)
    uf2 = frozen_uf2_built()
    fig: dict = {}
    with EmulatedBoard(uf2, files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        say("silicon (frozen image): heap after boot and after a day of link requests, pilot, save")
        fig.update(heap_and_parts(eb, parts="cs", day_requests=day_requests))
        say("silicon (frozen image): the USB link with a host that stops reading")
        fig.update(usb_stall(eb))
    return fig


def measure_mpy(*, day_requests: int = DAY_REQUESTS, say=None) -> dict:
    """The stock image, the firmware deployed as .mpy by `railbot deploy` (then again: those runs
    skip by digest; deploy.measure_nochange, with the chip's own clock beside the wall's), then the
    heap figures of the deployed firmware."""
    from railbot_host import deploy

    say = say or (lambda m: None)
    fig: dict = {}
    with EmulatedBoard(stock_uf2(), files=board_files("PICO")) as eb:
        eb.wait_boot(1)
        say("silicon (stock image): railbot deploy of the .mpy firmware, then again with nothing changed")
        fig.update({"mpy_" + k if not k.startswith("deploy") else k: v
                    for k, v in deploy.measure_nochange(eb.url, "PICO", chip=eb.stats).items()})
        say("silicon (stock image + .mpy): heap after boot and after a day of link requests")
        got = heap_and_parts(eb, parts="", day_requests=day_requests)
        fig.update({"mpy_" + k: v for k, v in got.items()})
    return fig


def measure(say=None) -> tuple[dict, list[str]]:
    """Every si_ figure: three boards, each its own emulator: the tick's beside the stock image's
    then the frozen image's (the figures are emulated time, so they do not mind sharing the CPU;
    the deploy's wall-time ratio does, a little). A part that
    cannot run (no toolchain for the frozen image, no bootrom...) is one error line, which fails
    the bench; its figures are then missing, never skipped silently."""
    from concurrent.futures import ThreadPoolExecutor

    def run(label, fn):
        t0 = time.monotonic()
        try:
            got = fn(say=say)
        except (firmware_build.BuildError, SiliconUnavailable, SiliconBenchError, TimeoutError, EOFError,
                OSError, KeyError) as e:
            return {}, [f"silicon ({label}): {str(e).splitlines()[0] if str(e) else type(e).__name__}"]
        got["wall_s"] = round(time.monotonic() - t0, 1)
        return got, []

    figures, errors = {}, []

    def take(prefix, got, errs):
        wall = got.pop("wall_s", None)
        figures.update({"si_" + k: v for k, v in got.items()})
        if wall is not None:
            figures[prefix + "part_wall_s"] = wall
        errors.extend(errs)

    def stock_then_frozen():
        # one after the other: the deploy's wall-time ratio is taken with one emulator fewer beside it
        return [run(".mpy on the stock image", measure_mpy), run("frozen image", measure_frozen),
                run("frozen image, cpu costs", measure_costs)]

    def plant(say=None):
        from railbot_host import pinplant

        got, errs = pinplant.measure(frozen_uf2_built(), say=say)
        if errs:
            raise SiliconBenchError("; ".join(errs))
        return got

    # the 60 m move is the long pole (4 to 7 min of wall time): on its own board beside the others
    with ThreadPoolExecutor(max_workers=2) as pool:
        tick = pool.submit(lambda: [run("frozen image, tick", measure_tick), run("frozen image, plant on the pins", plant)])
        others = pool.submit(stock_then_frozen)
        (tick_figs, tick_errs), (plant_figs, plant_errs) = tick.result()
        take("si_tick_", tick_figs, tick_errs)
        take("si_plant_", plant_figs, plant_errs)
        (mpy, mpy_errs), (frozen, frozen_errs), (costs, costs_errs) = others.result()
        take("si_mpy_", mpy, mpy_errs)
        take("si_", frozen, frozen_errs)
        take("si_cost_", costs, costs_errs)
    return figures, errors

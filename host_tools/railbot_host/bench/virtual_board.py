"""The virtual board (railbot_host.vboard: the firmware under MicroPython behind a raw REPL on
loopback, driven by the real mpremote): Ctrl-C at cruise on mpremote's path, and a deploy then a
redeploy with nothing changed."""

from __future__ import annotations

from railbot_host.bench.common import Result


def run_vboard_interrupt() -> Result:
    """interrupt_to_drivers_off_ms (simulated): Ctrl-C at cruise on the virtual board (railbot_host.vboard)."""
    from railbot_host import vboard
    res = Result()
    try:
        res.figures.update(vboard.measure_interrupt())
    except (vboard.VirtualBoardError, OSError, ValueError, IndexError) as e:
        res.errors.append(f"virtual board interrupt: {e}")
        return res
    if not res.figures["interrupt_drivers_off_before_prompt"]:
        res.errors.append("virtual board: after Ctrl-C at cruise the drivers were not off at the prompt")
    return res


def run_vboard_deploy() -> Result:
    """deploy_nochange_ratio and _files_written: a full deploy, then a redeploy with nothing
    changed, to a virtual board that imports its firmware from its own flash."""
    from railbot_host import deploy, vboard
    from railbot_host.board import BoardError

    res = Result()
    try:
        with vboard.VirtualBoard(repo_firmware=False) as vb:
            res.figures.update(deploy.measure_nochange(vb.url))
    except (vboard.VirtualBoardError, BoardError, OSError) as e:
        res.errors.append(f"deploy to the virtual board: {e}")
    return res

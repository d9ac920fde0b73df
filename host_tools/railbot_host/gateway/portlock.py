"""One host per robot port: the gateway holds a lock file for the port; other `railbot` commands look at it and say who holds it."""

from __future__ import annotations

import fcntl
import json
import os
import re
import tempfile
from pathlib import Path


def lock_path(port: str) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", port)
    return Path(os.environ.get("RAILBOT_LOCK_DIR", tempfile.gettempdir())) / f"railbot-port-{name}.lock"


class PortHeld(RuntimeError):
    pass


def acquire(port: str, http: str):
    """Hold the port for this process (until it exits); PortHeld if another process does."""
    path = lock_path(port)
    f = open(path, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise PortHeld(describe(port) or f"{port} is held by another process") from None
    say(f, port, http)
    return f


def say(f, port: str, http: str) -> None:
    """What the lock tells others: this process, and where its API listens."""
    f.seek(0)
    f.truncate()
    f.write(json.dumps({"pid": os.getpid(), "http": http, "port": port}))
    f.flush()


def held_by(port: str) -> dict | None:
    """Who holds the port ({pid, http}), or None if nobody does."""
    path = lock_path(port)
    if not path.exists():
        return None
    with open(path) as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                return json.loads(Path(path).read_text() or "{}")
            except ValueError:
                return {}
        fcntl.flock(f, fcntl.LOCK_UN)
    return None


def describe(port: str) -> str | None:
    who = held_by(port)
    if who is None:
        return None
    url = f"http://{who.get('http', '?')}"
    return (f"the gateway (pid {who.get('pid', '?')}) holds {port}: use `railbot console --gateway {url}`, "
            f"or stop the gateway first")

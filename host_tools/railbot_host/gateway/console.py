"""`railbot console --gateway URL`: a technician's console through the gateway that holds the robot's port (POST /api/robot/command)."""

from __future__ import annotations

import base64
import getpass
import json
import os
import sys
import urllib.error
import urllib.request


def command(url: str, auth: str, line: str, timeout_s: float = 10.0) -> str:
    req = urllib.request.Request(url.rstrip("/") + "/api/robot/command", data=json.dumps({"line": line}).encode(),
                                 headers={"Content-Type": "application/json", "Authorization": auth}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as r:
            return json.loads(r.read())["reply"]
    except urllib.error.HTTPError as e:
        try:
            why = json.loads(e.read())["error"]
        except (ValueError, KeyError):
            why = e.reason
        raise ConnectionError(f"the gateway answered {e.code}: {why}") from None


def main(ns, stdin=sys.stdin, out=sys.stdout) -> int:
    """Lines of robot commands to the gateway; `quit` ends. The operator account comes from
    RAILBOT_GATEWAY_USER / RAILBOT_GATEWAY_PASSWORD, or is asked for."""
    user = os.environ.get("RAILBOT_GATEWAY_USER") or input("gateway user: ")
    password = os.environ.get("RAILBOT_GATEWAY_PASSWORD") or getpass.getpass("password: ")
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    from railbot_host.cli import printable
    from railbot_host.robotcli import console_words

    if reconfigure := getattr(stdin, "reconfigure", None):
        reconfigure(errors="surrogateescape")  # bytes that are not UTF-8: that line's error, not a crash
    rc = 0
    for line in stdin:
        words, why = console_words(line)  # a line it cannot send: one error line, the session goes on
        if why:
            print(why, file=out)
            rc = 1
            continue
        if not words:
            continue
        if words[0] in ("quit", "exit"):
            break
        try:
            reply = command(ns.gateway, auth, " ".join(words))
        except (ConnectionError, OSError) as e:
            print(f"railbot console: {e}", file=sys.stderr)
            return 3
        print(f"> {' '.join(words)}\n{printable(reply)}", file=out)
        rc |= not reply.startswith("ok")
    return rc

"""The owners' and the operator's pages (static HTML, JS modules and CSS in static/, no build step), served by the gateway's API with the three calls only they need: the site, the alarm table, the day's figures.

`/bay/{token}` is the owner's page of the bay the token opens (the pillar's QR code: the page asks
`/api/bay/{token}`, so a wrong token is refused there); `/operator` is the operator's page (it signs
in with HTTP Basic on every call, as the API asks).
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

from aiohttp import web

from railbot_host.upy import REPO_ROOT

STATIC = Path(__file__).resolve().parent / "static"
ALARMS_PY = REPO_ROOT / "firmware" / "railbot" / "alarms.py"
HOUR_MS = 3_600_000
HOURS_MAX = 168
LOG_MAX = 1000


def alarm_table(path: Path = ALARMS_PY) -> dict[int, dict]:
    """The firmware's alarm table read from its source (not imported: the gateway runs on CPython
    without the firmware's `micropython` module): code -> name, meaning, whether re-homing is needed."""
    tree = ast.parse(path.read_text())
    codes: dict[str, int] = {}
    table = None
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        name = node.targets[0].id
        v = node.value
        if isinstance(v, ast.Call) and getattr(v.func, "id", "") == "const" and len(v.args) == 1:
            codes[name] = ast.literal_eval(v.args[0])
        elif name == "TABLE" and isinstance(v, ast.Dict):
            table = v
    if table is None:
        raise ValueError(f"{path}: no TABLE")
    out = {}
    for k, v in zip(table.keys, table.values):
        code = codes[k.id] if isinstance(k, ast.Name) else ast.literal_eval(k)
        name, meaning, rehome = ast.literal_eval(v)
        out[code] = {"code": code, "name": name, "meaning": meaning, "needs_homing": rehome}
    return out


_TYPES = {".js": "application/javascript", ".css": "text/css", ".html": "text/html", ".png": "image/png",
          ".svg": "image/svg+xml"}


async def _static(request):
    """A file of static/ by its bare name (no folders, so nothing outside it can be named)."""
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file() or path.suffix not in _TYPES:
        return web.json_response({"error": "no such file"}, status=404)
    return web.FileResponse(path, headers={"Cache-Control": "no-cache", "Content-Type": _TYPES[path.suffix]})


def _page(name: str):
    async def handler(request):
        return web.FileResponse(STATIC / name, headers={"Cache-Control": "no-cache"})
    return handler


def figures(gw, hours: int | None) -> dict:
    """Per hour of the gateway's clock (UTC): the last `hours` whole hours, the current one last, or
    (None) today's 24, the hours still to come empty. Requests made, their mean wait (asked to unit
    latched, for those delivered), sessions that stopped and their energy."""
    now = gw.now()
    epoch_ms = int(gw.clock.epoch.timestamp() * 1000)
    cur = (epoch_ms + now) // HOUR_MS  # hours since 1970 on that clock
    first = cur - hours + 1 if hours is not None else cur - cur % 24
    last = cur if hours is not None else first + 23
    buckets = [{"start": dt.datetime.fromtimestamp(h * 3600, dt.timezone.utc).strftime("%Y-%m-%dT%H:00Z"),
                "requests": 0, "delivered": 0, "wait_s_sum": 0.0, "sessions": 0, "energy_wh": 0}
               for h in range(first, last + 1)]

    def slot(t_ms):
        i = (epoch_ms + t_ms) // HOUR_MS - first
        return buckets[i] if 0 <= i < len(buckets) else None

    for r in gw.store.all("SELECT created_ms, delivered_ms FROM requests"):
        b = slot(r["created_ms"])
        if b is None:
            continue
        b["requests"] += 1
        if r["delivered_ms"] is not None:
            b["delivered"] += 1
            b["wait_s_sum"] += (r["delivered_ms"] - r["created_ms"]) / 1000
    for s in gw.store.all("SELECT stop_ms, meter_start_wh, meter_stop_wh FROM sessions WHERE stop_ms IS NOT NULL"):
        b = slot(s["stop_ms"])
        if b is not None:
            b["sessions"] += 1
            b["energy_wh"] += s["meter_stop_wh"] - s["meter_start_wh"]
    for b in buckets:
        total = b.pop("wait_s_sum")
        b["wait_s_mean"] = round(total / b["delivered"]) if b["delivered"] else None
    delivered = sum(b["delivered"] for b in buckets)
    return {"now": gw.iso(now), "hours": buckets, "totals": {
        "requests": sum(b["requests"] for b in buckets), "sessions": sum(b["sessions"] for b in buckets),
        "energy_wh": sum(b["energy_wh"] for b in buckets),
        "wait_s_mean": round(sum((b["wait_s_mean"] or 0) * b["delivered"] for b in buckets) / delivered)
        if delivered else None}}


def add_routes(api) -> None:
    """The pages and their calls on the gateway's Api (railbot_host.gateway.api.Api)."""
    table = alarm_table()
    travel: dict[str, float] = {}

    async def index(request):
        raise web.HTTPFound("/operator")

    async def alarms(request):
        gw = api._gw()
        await api._operator(request, gw)
        return web.json_response(sorted(table.values(), key=lambda a: a["code"]))

    async def site(request):
        gw = api._gw()
        await api._operator(request, gw)
        if "mm" not in travel:  # asked once: the rail's length is board data, as the site is
            reply = await gw.ask("config get x.travel_mm")
            try:
                travel["mm"] = float(reply.split("=", 1)[1].split()[0])
            except (IndexError, ValueError):
                return web.json_response({"error": f"the robot did not give its travel: {reply}"}, status=503)
        return web.json_response({"stations": gw.robot.site["stations"], "docks": gw.robot.site["docks"],
                                  "travel_mm": travel["mm"], "bays": gw.bays})

    async def day(request):
        gw = api._gw()
        await api._operator(request, gw)
        unknown = set(request.query) - {"hours", "day"}
        if unknown or len(request.query) > 1:
            return web.json_response({"error": "give hours=N (1..168) or day=today, not both, nothing else"},
                                     status=400)
        if "day" in request.query:
            if request.query["day"] != "today":
                return web.json_response({"error": "day: only today"}, status=400)
            return web.json_response(figures(gw, None))
        text = request.query.get("hours", "24")
        if not text.isdigit() or not 1 <= int(text) <= HOURS_MAX:
            return web.json_response({"error": f"hours: an integer 1..{HOURS_MAX}"}, status=400)
        return web.json_response(figures(gw, int(text)))

    async def log(request):
        gw = api._gw()
        await api._operator(request, gw)
        text = request.query.get("limit", "200")
        if set(request.query) - {"limit"} or not text.isdigit() or not 1 <= int(text) <= LOG_MAX:
            return web.json_response({"error": f"limit: an integer 1..{LOG_MAX}"}, status=400)
        rows = gw.store.all("SELECT * FROM events ORDER BY id DESC LIMIT ?", int(text))
        return web.json_response([dict(r) for r in rows])

    r = api.app.router
    r.add_get("/", index)
    r.add_get("/api/log", log)
    r.add_get("/operator", _page("operator.html"))
    r.add_get("/bay/{token}", _page("owner.html"))
    r.add_get("/static/{name}", _static)
    r.add_get("/api/alarms", alarms)
    r.add_get("/api/site", site)
    r.add_get("/api/figures", day)
    op = [{"operator": []}]
    err = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    ok = {"description": "ok", "content": {"application/json": {}}}
    from railbot_host.gateway.api import OPENAPI

    OPENAPI["paths"].update({
        "/api/alarms": {"get": {"summary": "the robot's alarm table: code, name, meaning, whether re-homing is needed",
                                "security": op, "responses": {"200": ok, "401": err}}},
        "/api/site": {"get": {"summary": "the rail's geometry: stations, docks, travel (for drawing it to scale)",
                              "security": op, "responses": {"200": ok, "401": err, "503": err}}},
        "/api/log": {"get": {"summary": "the latest events, newest first (then /api/events?after= the first one's id "
                                        "follows them live)", "security": op, "parameters": [
                                  {"name": "limit", "in": "query", "schema": {
                                      "type": "integer", "minimum": 1, "maximum": LOG_MAX}}],
                             "responses": {"200": ok, "400": err, "401": err}}},
        "/api/figures": {"get": {"summary": "requests, mean wait, sessions, energy per hour: the last hours, or today's",
                                 "security": op, "parameters": [
                                     {"name": "hours", "in": "query", "schema": {
                                         "type": "integer", "minimum": 1, "maximum": HOURS_MAX}},
                                     {"name": "day", "in": "query", "schema": {"enum": ["today"]}}],
                                 "responses": {"200": ok, "400": err, "401": err}}},
    })


"""The gateway's JSON API over HTTP (aiohttp) for the owners' app and the operator's pages; its OpenAPI description is served at /api/openapi.json.

Owners reach one bay through its token (the pillar's QR code): its state, a request, a cancel,
its events. Nothing an owner calls moves the robot but a request for that bay. The operator's
calls (the rail, sessions, all events, a robot command, a bay's new token) need an operator
account (HTTP Basic, `railbot gateway user add`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json

from aiohttp import web

from railbot_host.gateway import accounts

MAX_BODY = 4096
KEEPALIVE_S = 15


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


class Api:
    def __init__(self, get_gateway):
        """get_gateway(): the running Gateway (None while it restarts)."""
        self.get_gateway = get_gateway
        self.app = web.Application(client_max_size=MAX_BODY, middlewares=[self._errors])
        r = self.app.router
        r.add_get("/api/openapi.json", self.openapi)
        r.add_get("/api/bay/{token}", self.bay)
        r.add_post("/api/bay/{token}/request", self.bay_request)
        r.add_delete("/api/bay/{token}/request", self.bay_cancel)
        r.add_get("/api/bay/{token}/events", self.bay_events)
        r.add_get("/api/rail", self.rail)
        r.add_get("/api/sessions", self.sessions)
        r.add_get("/api/events", self.events)
        r.add_post("/api/robot/command", self.robot_command)
        r.add_post("/api/bays/{bay}/token", self.bay_token)
        from railbot_host.gateway import pages  # the owners' and the operator's pages, and their calls

        pages.add_routes(self)

    @web.middleware
    async def _errors(self, request, handler):
        try:
            return await handler(request)
        except web.HTTPException as e:
            if e.status >= 400 and e.content_type != "application/json":
                return _error(e.status, e.reason)
            raise

    def _gw(self):
        gw = self.get_gateway()
        if gw is None or not gw.started:
            raise web.HTTPServiceUnavailable(text=json.dumps({"error": "the gateway is starting"}),
                                             content_type="application/json")
        return gw

    def _owner_bay(self, request, gw) -> int:
        bay = accounts.bay_of_token(gw.store, request.match_info["token"])
        if bay is None:
            raise web.HTTPNotFound(text=json.dumps({"error": "no bay has this token"}), content_type="application/json")
        return bay

    async def _operator(self, request, gw) -> str:
        auth = request.headers.get("Authorization", "")
        name = password = None
        if auth.startswith("Basic "):
            try:
                name, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if not name or not await asyncio.to_thread(accounts.verify, accounts.user_record(gw.store, name), password):
            raise web.HTTPUnauthorized(text=json.dumps({"error": "an operator account is needed"}),
                                       content_type="application/json",
                                       headers={"WWW-Authenticate": 'Basic realm="railbot gateway"'})
        return name

    async def _json_body(self, request) -> dict:
        if not request.can_read_body:
            return {}
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise web.HTTPBadRequest(text=json.dumps({"error": "the body is not JSON"}), content_type="application/json")
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text=json.dumps({"error": "the body must be a JSON object"}),
                                     content_type="application/json")
        return body

    # --- owners ---
    async def bay(self, request):
        gw = self._gw()
        return web.json_response(gw.bay_view(self._owner_bay(request, gw)))

    async def bay_request(self, request):
        gw = self._gw()
        bay = self._owner_bay(request, gw)
        body = await self._json_body(request)
        unknown = set(body) - {"id_tag"}
        if unknown:
            return _error(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        tag = body.get("id_tag", f"APP-BAY{bay}")
        if not isinstance(tag, str) or not 1 <= len(tag) <= 20:
            return _error(400, "id_tag: a string of 1..20 characters (OCPP IdToken)")
        if gw.store.open_request(bay) is not None:
            return _error(409, "this bay already has a request")
        if not gw.remote_start(bay, tag, "app"):
            return _error(409, "the bay cannot take a request now (unavailable, or a unit is still there)")
        return web.json_response(gw.bay_view(bay), status=202)

    async def bay_cancel(self, request):
        gw = self._gw()
        bay = self._owner_bay(request, gw)
        why = await gw.cancel(bay)
        if why != "ok":
            return _error(409, why)
        return web.json_response(gw.bay_view(bay))

    async def bay_events(self, request):
        gw = self._gw()
        return await self._stream(request, gw, self._owner_bay(request, gw))

    # --- the operator ---
    async def rail(self, request):
        gw = self._gw()
        await self._operator(request, gw)
        return web.json_response(gw.rail_view())

    async def sessions(self, request):
        gw = self._gw()
        await self._operator(request, gw)
        try:
            limit = int(request.query.get("limit", "50"))
        except ValueError:
            return _error(400, "limit: an integer 1..1000")
        if not 1 <= limit <= 1000:
            return _error(400, "limit: an integer 1..1000")
        rows = gw.store.all("SELECT * FROM sessions ORDER BY id DESC LIMIT ?", limit)
        return web.json_response([{
            "id": r["id"], "bay": r["bay"], "unit": r["unit"], "state": r["state"], "id_tag": r["id_tag"],
            "transaction_id": r["tx_id"], "started": gw.iso(r["start_ms"]),
            "stopped": gw.iso(r["stop_ms"]) if r["stop_ms"] is not None else None,
            "energy_wh": (r["meter_stop_wh"] - r["meter_start_wh"]) if r["meter_stop_wh"] is not None else None,
            "stop_reason": r["stop_reason"]} for r in rows])

    async def events(self, request):
        gw = self._gw()
        await self._operator(request, gw)
        return await self._stream(request, gw, None)

    async def robot_command(self, request):
        gw = self._gw()
        who = await self._operator(request, gw)
        body = await self._json_body(request)
        line = body.get("line")
        if set(body) != {"line"} or not isinstance(line, str) or not line.strip() or len(line) > 200 \
                or not line.isprintable() or not line.isascii():
            return _error(400, "the body is {\"line\": \"<a robot command, printable ASCII, at most 200>\"}")
        reply = await gw.ask(line.strip())
        gw.note("command", f"{who}: {line.strip()} -> {reply}")
        return web.json_response({"line": line.strip(), "reply": reply})

    async def bay_token(self, request):
        gw = self._gw()
        await self._operator(request, gw)
        try:
            bay = int(request.match_info["bay"])
        except ValueError:
            return _error(400, f"bay must be a number 1..{gw.bays}")
        if not 1 <= bay <= gw.bays:
            return _error(400, f"bay {bay} out of range 1..{gw.bays}")
        return web.json_response({"bay": bay, "token": accounts.new_bay_token(gw.store, bay)})

    # --- server-sent events ---
    async def _stream(self, request, gw, bay):
        try:
            after = int(request.headers.get("Last-Event-ID", request.query.get("after", "0")))
        except ValueError:
            return _error(400, "after / Last-Event-ID: an event id")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await resp.prepare(request)
        q: asyncio.Queue = asyncio.Queue()
        gw.listeners.append(q)
        try:
            for row in gw.store.events_after(after, bay):
                await resp.write(_sse(dict(row)))
                after = row["id"]
            while True:
                try:
                    ev = await asyncio.wait_for(q.get(), KEEPALIVE_S)
                except asyncio.TimeoutError:  # a comment line: proxies keep the stream, a gone client shows
                    await resp.write(b": keep-alive\n\n")
                    continue
                if ev["id"] > after and (bay is None or ev["bay"] == bay):
                    await resp.write(_sse(ev))
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            gw.listeners.remove(q)
        return resp

    async def openapi(self, request):
        return web.json_response(OPENAPI)


def _sse(ev: dict) -> bytes:
    return f"id: {ev['id']}\nevent: {ev['kind']}\ndata: {json.dumps(ev)}\n\n".encode()


_ERR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_TOKEN = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
          "description": "the bay's token (its QR code)"}
_OP = [{"operator": []}]


def _ok(desc, ref=None, media="application/json"):
    content = {media: {"schema": {"$ref": f"#/components/schemas/{ref}"}}} if ref else {media: {}}
    return {"description": desc, "content": content}


OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "railbot gateway", "version": "1",
             "description": "Owners' and operator's API of the car park's charging robot (docs/gateway.md)."},
    "components": {
        "securitySchemes": {"operator": {"type": "http", "scheme": "basic"}},
        "schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "Bay": {"type": "object", "required": ["bay", "status", "request", "session"], "properties": {
                "bay": {"type": "integer", "minimum": 1, "maximum": 44},
                "status": {"type": "string", "description": "the OCPP connector status"},
                "request": {"type": ["object", "null"], "properties": {
                    "id": {"type": "integer"},
                    "state": {"enum": ["accepted", "queued", "delivered", "done", "cancelled", "timed_out"]},
                    "queue_position": {"type": "integer", "description": "1 = next; 0 = not waiting"},
                    "eta_s": {"type": "integer", "description": "seconds until the unit is latched at the bay"},
                    "unit": {"type": ["integer", "null"]}}},
                "session": {"type": ["object", "null"], "properties": {
                    "id": {"type": "integer"}, "state": {"enum": ["open", "stopped", "released"]},
                    "unit": {"type": "integer"}, "energy_wh": {"type": "integer"},
                    "started": {"type": "string"}, "stopped": {"type": ["string", "null"]}}}}},
            "Rail": {"type": "object", "required": ["robot", "units", "queue", "connectors", "ocpp"]},
            "Command": {"type": "object", "required": ["line"], "additionalProperties": False,
                        "properties": {"line": {"type": "string", "maxLength": 200}}},
        }},
    "paths": {
        "/api/bay/{token}": {"get": {"summary": "a bay's state: its request, place in the queue, ETA, session and energy",
                                     "parameters": [_TOKEN], "responses": {"200": _ok("the bay", "Bay"), "404": _ERR}}},
        "/api/bay/{token}/request": {
            "post": {"summary": "ask for a charge at this bay (the only owner call that moves the robot)",
                     "parameters": [_TOKEN],
                     "requestBody": {"required": False, "content": {"application/json": {"schema": {
                         "type": "object", "additionalProperties": False,
                         "properties": {"id_tag": {"type": "string", "maxLength": 20}}}}}},
                     "responses": {"202": _ok("accepted", "Bay"), "400": _ERR, "404": _ERR, "409": _ERR}},
            "delete": {"summary": "take back a request the robot has not begun", "parameters": [_TOKEN],
                       "responses": {"200": _ok("cancelled", "Bay"), "404": _ERR, "409": _ERR}}},
        "/api/bay/{token}/events": {"get": {"summary": "this bay's events, live (server-sent events)",
                                            "parameters": [_TOKEN], "responses": {
                                                "200": _ok("event stream", media="text/event-stream"), "404": _ERR}}},
        "/api/rail": {"get": {"summary": "the robot, the units, the queue, every connector, the CSMS link",
                              "security": _OP, "responses": {"200": _ok("the rail", "Rail"), "401": _ERR}}},
        "/api/sessions": {"get": {"summary": "the latest sessions", "security": _OP,
                                  "parameters": [{"name": "limit", "in": "query",
                                                  "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
                                  "responses": {"200": _ok("sessions"), "400": _ERR, "401": _ERR}}},
        "/api/events": {"get": {"summary": "every event, live (server-sent events; Last-Event-ID or ?after= resumes)",
                                "security": _OP, "responses": {"200": _ok("event stream", media="text/event-stream"),
                                                               "401": _ERR}}},
        "/api/robot/command": {"post": {"summary": "one robot command line (the technician's console)",
                                        "security": _OP, "requestBody": {"required": True, "content": {
                                            "application/json": {"schema": {"$ref": "#/components/schemas/Command"}}}},
                                        "responses": {"200": _ok("the robot's reply"), "400": _ERR, "401": _ERR}}},
        "/api/bays/{bay}/token": {"post": {"summary": "a new token for a bay (the old one stops working)",
                                           "security": _OP, "parameters": [{"name": "bay", "in": "path",
                                                                            "required": True,
                                                                            "schema": {"type": "integer"}}],
                                           "responses": {"200": _ok("the token"), "400": _ERR, "401": _ERR}}},
    },
}

"""The gateway's HTTP API, every endpoint, on the simulated robot: owners by bay token, the operator by account."""
import asyncio
import base64
import json

from gateway_support import OP, http_test

from railbot_host.gateway.api import OPENAPI


@http_test
async def test_openapi_describes_every_route(h, client, tokens):
    r = await client.get("/api/openapi.json")
    doc = await r.json()
    routes = {(res.method.lower(), res.resource.canonical) for res in client.server.app.router.routes()}
    described = {(m, p) for p, ops in doc["paths"].items() for m in ops} | {("get", "/api/openapi.json")}
    routes = {(m, p) for m, p in routes if m != "head" and p.startswith("/api/")}  # the pages: test_pages.py
    assert routes == described and doc == OPENAPI


@http_test
async def test_an_owner_sees_and_asks_for_their_bay_only(h, client, tokens):
    r = await client.get(f"/api/bay/{tokens[5]}")
    assert r.status == 200 and (await r.json()) == {"bay": 5, "status": "Available", "request": None, "session": None}
    for bad in ("x" * 32, tokens[5][:-1] + ("A" if tokens[5][-1] != "A" else "B"), "short"):
        r = await client.get(f"/api/bay/{bad}")
        assert r.status == 404 and (await r.json())["error"] == "no bay has this token"
    before = list(h.sim.robot_events)
    r = await client.post(f"/api/bay/{tokens[5]}/request")
    body = await r.json()
    assert r.status == 202 and body["request"]["state"] == "accepted" and body["request"]["queue_position"] == 1
    assert 20 <= body["request"]["eta_s"] <= 200
    r = await client.post(f"/api/bay/{tokens[4]}/request", json={"id_tag": "MINE"})
    assert r.status == 202 and (await r.json())["request"]["queue_position"] == 2
    r = await client.post(f"/api/bay/{tokens[5]}/request")
    assert r.status == 409 and "already has a request" in (await r.json())["error"]
    for body, why in (({"bay": 7}, "unknown field(s): bay"), ({"id_tag": 5}, "id_tag"), ({"id_tag": "x" * 21}, "id_tag")):
        r = await client.post(f"/api/bay/{tokens[4]}/request", json=body)
        assert r.status == 400 and why in (await r.json())["error"]
    r = await client.post(f"/api/bay/{tokens[4]}/request", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["error"] == "the body is not JSON"
    await h.step()
    # the owners' calls reached the robot as the two requests, nothing else
    new = [t for _, t in h.sim.robot_events[len(before):]]
    assert [t for t in new if not t.startswith(("pick", "place", "job", "delivered"))] == ["request bay=5", "request bay=4"]
    r = await client.delete(f"/api/bay/{tokens[4]}/request")
    assert r.status == 200 and (await r.json())["request"]["state"] == "cancelled"
    assert h.robot_events("cancelled bay=4") == ["cancelled bay=4"]
    r = await client.delete(f"/api/bay/{tokens[4]}/request")
    assert r.status == 409 and (await r.json())["error"] == "no request for this bay"
    assert await h.until(lambda: h.gw.store.open_request(5)["state"] == "delivered")
    r = await client.delete(f"/api/bay/{tokens[5]}/request")
    assert r.status == 409 and (await r.json())["error"] == "the unit is already there"
    h.plug(5)
    await h.run(4_000)
    h.pilot(5, "C")
    await h.run(600_000)
    r = await client.get(f"/api/bay/{tokens[5]}")
    s = (await r.json())["session"]
    assert s["state"] == "open" and 1100 <= s["energy_wh"] <= 1200  # 30 A x 230 V for about 10 min
    assert (await r.json())["status"] == "Charging"


@http_test
async def test_operator_calls_need_an_account(h, client, tokens):
    wrong = {"Authorization": "Basic " + base64.b64encode(b"op:wrong password!").decode()}
    for method, path in (("GET", "/api/rail"), ("GET", "/api/sessions"), ("GET", "/api/events"),
                         ("POST", "/api/robot/command"), ("POST", "/api/bays/5/token")):
        for headers in ({}, wrong, {"Authorization": "Basic !!!"}, {"Authorization": f"Bearer {tokens[5]}"}):
            r = await client.request(method, path, headers=headers, json={"line": "home"})
            assert r.status == 401 and (await r.json())["error"] == "an operator account is needed", (path, headers)
    assert h.robot_events("homing") == ["homing"]  # only the gateway's own homing at the start


@http_test
async def test_unknown_routes_methods_and_oversized_bodies_are_json_errors(h, client, tokens):
    for method, path, status in (("GET", "/api/nothing", 404), ("PUT", f"/api/bay/{tokens[5]}/request", 405)):
        r = await client.request(method, path)
        assert r.status == status and "error" in await r.json()
    r = await client.post(f"/api/bay/{tokens[5]}/request", data=b"{" + b" " * 5000 + b"}",
                          headers={"Content-Type": "application/json"})
    assert r.status == 413 and "error" in await r.json()
    assert h.gw.store.open_request(5) is None  # nothing changed


@http_test
async def test_operator_rail_sessions_command_and_tokens(h, client, tokens):
    r = await client.get("/api/rail", headers=OP)
    rail = await r.json()
    assert rail["robot"]["state"] == "IDLE" and rail["robot"]["homed"] and len(rail["units"]) == 6
    assert rail["connectors"]["0"] == "Available" and len(rail["connectors"]) == 45
    r = await client.post("/api/robot/command", headers=OP, json={"line": "status"})
    assert (await r.json())["reply"].startswith("ok <IDLE|")
    for body in ({"line": ""}, {"line": "status", "x": 1}, {"line": "st\u00e4tus"}, {"line": 5}, [1]):
        r = await client.post("/api/robot/command", headers=OP, json=body)
        assert r.status == 400
    r = await client.get("/api/sessions?limit=0", headers=OP)
    assert r.status == 400 and "limit" in (await r.json())["error"]
    r = await client.get("/api/sessions?limit=x", headers=OP)
    assert r.status == 400
    h.gw.remote_start(4, "T4", "csms")
    assert await h.until(lambda: h.gw.store.open_request(4)["state"] == "delivered")
    h.plug(4)
    await h.run(4_000)
    h.pilot(4, "C")
    await h.run(60_000)
    h.unplug(4)
    await h.run(4_000)
    r = await client.get("/api/sessions", headers=OP)
    (s,) = await r.json()
    assert s["bay"] == 4 and s["state"] in ("stopped", "released") and 100 <= s["energy_wh"] <= 130
    r = await client.post("/api/bays/5/token", headers=OP)
    new = (await r.json())["token"]
    assert (await client.get(f"/api/bay/{tokens[5]}")).status == 404
    assert (await client.get(f"/api/bay/{new}")).status == 200
    for bay in ("45", "0", "x"):
        assert (await client.post(f"/api/bays/{bay}/token", headers=OP)).status == 400


@http_test
async def test_events_stream_live_and_an_owner_sees_only_their_bay(h, client, tokens):
    async def read_events(resp, n):
        out = []
        while len(out) < n:
            line = (await asyncio.wait_for(resp.content.readline(), 10)).decode()
            if line.startswith("data: "):
                out.append(json.loads(line[6:]))
        return out

    op = await client.get("/api/events", headers=OP)
    owner = await client.get(f"/api/bay/{tokens[4]}/events")
    assert op.headers["Content-Type"] == "text/event-stream"
    old = await read_events(op, 1)  # the history first
    h.gw.remote_start(5, "T5", "csms")
    h.gw.remote_start(4, "T4", "csms")
    await h.run(10_000)
    evs = await read_events(owner, 2)
    assert {e["bay"] for e in evs} == {4}
    seen = old
    while not any(e["bay"] == 5 for e in seen):  # the history, then what happened since
        seen = await read_events(op, 1)
        assert seen[0]["id"] > old[0]["id"]
        old = seen
    r = await client.get("/api/events?after=x", headers=OP)
    assert r.status == 400
    op.close()
    owner.close()


@http_test
async def test_a_quiet_event_stream_is_kept_alive(h, client, tokens):
    from railbot_host.gateway import api

    api.KEEPALIVE_S, keep = 0.05, api.KEEPALIVE_S
    try:
        r = await client.get(f"/api/bay/{tokens[5]}/events")  # bay 5 has had no event
        line = await asyncio.wait_for(r.content.readline(), 10)
        assert line == b": keep-alive\n"
        r.close()
    finally:
        api.KEEPALIVE_S = keep

"""The pages' server side over HTTP: the pages and their files served, the calls only they use (site, alarm table, day's figures), bad input on every call the pages make refused by name with nothing changed."""
import base64
import re

from gateway_support import OP, http_test

from railbot import alarms as fw_alarms
from railbot_host.gateway.pages import STATIC, alarm_table


def _state(h):
    """What a refused call must leave as it was: requests, sessions, tokens, accounts, the robot's events."""
    s = h.gw.store
    return ([tuple(r) for r in s.all("SELECT * FROM requests")], [tuple(r) for r in s.all("SELECT * FROM sessions")],
            [tuple(r) for r in s.all("SELECT * FROM bay_tokens")], [tuple(r) for r in s.all("SELECT * FROM users")],
            len(h.sim.robot_events))


@http_test
async def test_the_pages_and_their_files_are_served(h, client, tokens):
    routes = {(r.method, r.resource.canonical) for r in client.server.app.router.routes()
              if r.method != "HEAD" and not r.resource.canonical.startswith("/api/")}
    assert routes == {("GET", "/"), ("GET", "/operator"), ("GET", "/bay/{token}"), ("GET", "/static/{name}")}
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/operator"
    for path, script in (("/operator", "/static/operator.js"), (f"/bay/{tokens[5]}", "/static/owner.js"),
                         ("/bay/no-such-token", "/static/owner.js")):  # the owner's page asks the API, which refuses
        r = await client.get(path)
        assert r.status == 200 and r.content_type == "text/html" and script in await r.text()
    for name in ("common.js", "owner.js", "operator.js", "style.css"):
        r = await client.get(f"/static/{name}")
        assert r.status == 200 and (await r.read()) == (STATIC / name).read_bytes()
        assert r.content_type == ("text/css" if name.endswith(".css") else "application/javascript")
    for bad in ("/static/nothing.js", "/static/%2e%2e%2f__init__.py", "/static/.hidden.js", "/static/__init__.py"):
        r = await client.get(bad)
        assert r.status == 404 and (await r.json())["error"] == "no such file", bad
    r = await client.get("/static/../__init__.py")  # the client makes it /__init__.py: no route
    assert r.status == 404 and "error" in await r.json()


def test_every_text_key_of_the_pages_exists_in_both_languages():
    for page in ("owner", "operator"):
        js = (STATIC / f"{page}.js").read_text()
        html = (STATIC / f"{page}.html").read_text()
        zh_block, en_block = re.search(r'"zh-CN": \{(.*?)\n  \},\n  en: \{(.*?)\n  \},', js, re.S).groups()
        keys = lambda block: set(re.findall(r'"?([\w-]+)"?: "', block))  # noqa: E731
        zh, en = keys(zh_block), keys(en_block)
        assert zh == en, (page, zh ^ en)
        used = set(re.findall(r'data-tp?="([\w-]+)"', html)) | set(re.findall(r'\bt\("([\w-]+)"', js))
        assert {k for k in used if not k.endswith("_")} <= zh, (page, used - zh)
        # the names built from a prefix: every connector status, the queue's and the units' states
        assert {f"s_{st}" for st in ("Available", "Preparing", "Charging", "SuspendedEV", "SuspendedEVSE",
                                      "Finishing", "Unavailable", "Faulted")} <= zh
        if page == "operator":
            assert {"q_accepted", "q_queued", "q_delivered", "u_free", "u_serving", "u_in-use"} <= zh


@http_test
async def test_alarm_table_is_the_firmwares_and_needs_an_operator(h, client, tokens):
    assert (await client.get("/api/alarms")).status == 401
    r = await client.get("/api/alarms", headers=OP)
    rows = await r.json()
    assert r.status == 200 and len(rows) == len(fw_alarms.TABLE) == len(alarm_table())
    for row in rows:
        assert (row["name"], row["meaning"], row["needs_homing"]) == fw_alarms.TABLE[row["code"]]


@http_test
async def test_site_is_the_robots_board_data(h, client, tokens):
    assert (await client.get("/api/site")).status == 401
    r = await client.get("/api/site", headers=OP)
    site = await r.json()
    assert r.status == 200 and site["travel_mm"] == 60000 and site["bays"] == 44
    assert site["stations"] == {"first_id": 1, "count": 22, "first_x_mm": 2000, "pitch_mm": 2600}
    assert [d["x_mm"] for d in site["docks"]] == [400, 1200, 58000, 58800]
    r = await client.get("/api/rail", headers=OP)
    robot = (await r.json())["robot"]
    assert robot["z_mm"] == 0 and robot["carry"] == 0  # the lift and the gripper, for the drawing


@http_test
async def test_the_days_figures_count_requests_waits_and_energy(h, client, tokens):
    assert (await client.get("/api/figures")).status == 401
    r = await client.get("/api/figures", headers=OP)
    day = await r.json()
    assert r.status == 200 and len(day["hours"]) == 24 and day["totals"] == {
        "requests": 0, "sessions": 0, "energy_wh": 0, "wait_s_mean": None}
    before = _state(h)
    for bad in ("0", "169", "-1", "1.5", "abc", "", "24 "):
        r = await client.get("/api/figures", params={"hours": bad}, headers=OP)
        assert r.status == 400 and (await r.json())["error"] == "hours: an integer 1..168", bad
    for query, why in (({"day": "yesterday"}, "day: only today"), ({"day": "today", "hours": "2"}, "not both"),
                       ({"hour": "2"}, "nothing else")):
        r = await client.get("/api/figures", params=query, headers=OP)
        assert r.status == 400 and why in (await r.json())["error"], query
    assert _state(h) == before
    r = await client.post(f"/api/bay/{tokens[5]}/request", headers=OP)
    assert r.status == 202
    assert await h.until(lambda: h.gw.store.open_request(5)["state"] == "delivered")
    h.plug(5)
    await h.run(4_000)
    h.pilot(5, "C")
    await h.run(600_000)
    h.unplug(5)
    assert await h.until(lambda: h.gw.store.open_request(5) is None)
    req = h.gw.store.one("SELECT * FROM requests WHERE bay=5")
    s = h.gw.store.one("SELECT * FROM sessions WHERE bay=5")
    day = await (await client.get("/api/figures", params={"hours": "2"}, headers=OP)).json()
    assert len(day["hours"]) == 2
    assert day["hours"][0]["start"] == "2026-12-06T23:00Z" and day["hours"][1]["start"] == "2026-12-07T00:00Z"
    now = day["hours"][1]
    assert now["requests"] == 1 and now["sessions"] == 1
    assert now["wait_s_mean"] == round((req["delivered_ms"] - req["created_ms"]) / 1000) > 0
    assert now["energy_wh"] == s["meter_stop_wh"] - s["meter_start_wh"] > 1000  # 10 min at 30 A, 230 V: 1150 Wh
    assert day["totals"] == {"requests": 1, "sessions": 1, "energy_wh": now["energy_wh"],
                             "wait_s_mean": now["wait_s_mean"]}
    today = await (await client.get("/api/figures", params={"day": "today"}, headers=OP)).json()
    assert [b["start"][11:16] for b in today["hours"]] == [f"{n:02d}:00" for n in range(24)]
    assert today["hours"][0] == now and today["totals"] == day["totals"]  # the simulated day began at 00:00


@http_test
async def test_bad_input_on_every_call_the_pages_make_changes_nothing(h, client, tokens):
    before = _state(h)
    checks = [  # (method, path, headers, json body, status, error text)
        ("GET", "/api/bay/not-a-token", {}, None, 404, "no bay has this token"),
        ("POST", "/api/bay/not-a-token/request", {}, {}, 404, "no bay has this token"),
        ("DELETE", "/api/bay/not-a-token/request", {}, None, 404, "no bay has this token"),
        ("POST", f"/api/bay/{tokens[4]}/request", {}, {"id_tag": ""}, 400, "id_tag: a string of 1..20 characters"),
        ("POST", f"/api/bay/{tokens[4]}/request", {}, {"bay": 5}, 400, "unknown field(s): bay"),
        ("DELETE", f"/api/bay/{tokens[4]}/request", {}, None, 409, "no request for this bay"),
        ("GET", "/api/rail", {"Authorization": "Basic " + base64.b64encode(b"op:wrong password").decode()}, None,
         401, "an operator account is needed"),
        ("GET", "/api/rail", {"Authorization": "Basic !!!"}, None, 401, "an operator account is needed"),
        ("POST", "/api/bays/0/token", OP, None, 400, "bay 0 out of range 1..44"),
        ("POST", "/api/bays/45/token", OP, None, 400, "bay 45 out of range 1..44"),
        ("POST", "/api/bays/abc/token", OP, None, 400, "bay must be a number 1..44"),
        ("POST", "/api/robot/command", OP, {"line": ""}, 400, "the body is"),
        ("POST", "/api/robot/command", OP, {"line": "状态"}, 400, "printable ASCII"),
        ("POST", "/api/robot/command", OP, {"line": "x" * 201}, 400, "at most 200"),
        ("POST", "/api/robot/command", OP, {"line": "status", "more": 1}, 400, "the body is"),
        ("GET", "/api/events?after=x", OP, None, 400, "after / Last-Event-ID"),
        ("GET", "/api/figures?hours=0", OP, None, 400, "hours: an integer"),
        ("GET", "/api/log?limit=0", OP, None, 400, "limit: an integer 1..1000"),
        ("GET", "/api/log?limit=1001", OP, None, 400, "limit: an integer 1..1000"),
        ("GET", "/api/log?limit=x", OP, None, 400, "limit: an integer 1..1000"),
        ("GET", "/api/log?after=3", OP, None, 400, "limit: an integer 1..1000"),
        ("GET", "/api/log", {}, None, 401, "an operator account is needed"),
    ]
    for method, path, headers, body, status, why in checks:
        r = await client.request(method, path, headers=headers, json=body)
        assert r.status == status and why in (await r.json())["error"], (method, path, r.status)
        assert _state(h) == before, (method, path)


@http_test
async def test_log_gives_the_latest_events_newest_first(h, client, tokens):
    for i in range(250):
        h.gw.note("test", f"note {i}")
    r = await client.get("/api/log", params={"limit": "200"}, headers=OP)
    rows = await r.json()
    ids = [e["id"] for e in h.gw.store.all("SELECT id FROM events ORDER BY id")]
    assert r.status == 200 and [e["id"] for e in rows] == ids[::-1][:200]
    assert rows[0]["text"] == "note 249" and rows[199]["text"] == "note 50"
    assert set(rows[0]) == {"id", "t_ms", "bay", "kind", "text"}

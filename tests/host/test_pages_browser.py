"""The owner's and the operator's pages in a real browser (Debian's Chromium over the DevTools protocol) against the gateway on the simulated robot; screenshots in build/pages/.

The simulated world moves only when the test steps it (2 s of the robot's clock a step), so what
the pages must show is known: the browser's own timers only decide how soon they show it.
"""
import asyncio
import json

import pytest

from railbot_host.browser import Browser, find_chromium
from railbot_host.gateway import accounts
from railbot_host.gateway.api import Api
from railbot_host.gateway.harness import Harness
from railbot_host.upy import REPO_ROOT

SHOTS = REPO_ROOT / "build" / "pages"
CHROMIUM = find_chromium()
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium here: `make chromium` as root installs "
                                "Debian's (apt-get install -y chromium fonts-wqy-microhei)")
PASSWORD = "correct horse battery"


def browser_test(fn):
    def wrapper():
        async def go():
            from aiohttp import web

            h = await Harness(csms=False).start()
            accounts.add_user(h.gw.store, "op", PASSWORD)
            await h.homed()
            runner = web.AppRunner(Api(lambda: h.gw).app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            base = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"
            b = await Browser.start(CHROMIUM)
            try:
                await fn(h, b, base)
            finally:
                await b.close()
                await runner.cleanup()
                await h.close()
        asyncio.run(go())
    wrapper.__name__ = fn.__name__
    return wrapper


def js(v) -> str:
    return json.dumps(v)


async def kwh(page, wh: int) -> str:
    """`wh` as the pages print it (common.js's kwh: 2 decimals below 10 kWh, then 1), by the page's
    own Number.toFixed, whose rounding of a tie is not Python's."""
    return await page.eval(f"({wh} / 1000).toFixed({wh} < 10000 ? 2 : 1)")


@browser_test
async def test_owner_asks_sees_the_unit_come_charges_and_is_done(h, b, base):
    token = accounts.new_bay_token(h.gw.store, 12)
    page = await b.new_page(390, 844, mobile=True, scale=2)
    state = "document.getElementById('card').dataset.state"

    # a wrong token: refused, in Chinese first, and nothing asked
    await page.goto(f"{base}/bay/{token[:-2]}xx")
    await page.wait_for(f"{state} === 'bad_token'")
    assert await page.text("#headline") == "此二维码不对应任何车位"
    assert await page.eval("document.getElementById('ask').hidden")
    await page.screenshot(SHOTS / "owner-zh-wrong-token.png")

    await page.goto(f"{base}/bay/{token}")
    await page.wait_for(f"{state} === 'idle'")
    assert await page.text("#title") == "车位 12 · 充电" and await page.text("#ask") == "申请充电"
    await page.screenshot(SHOTS / "owner-zh-idle.png")

    # the request: the place in the queue and the ETA, as the API gives them
    await page.click("#ask")
    await page.wait_for(f"{state} === 'queued'")
    r = h.gw.store.open_request(12)
    assert r["source"] == "app" and r["id_tag"] == "APP-BAY12"
    assert await page.text("#headline") == "排队中：第 1 位"
    assert await page.text("#detail") in (f"预计约 {max(1, round(r['eta_s'] / 60))} 分钟后到达", "即将到达")
    await page.screenshot(SHOTS / "owner-zh-queued.png")

    # the arrival, pushed by the bay's events while the world moves on
    await page.wait_for(f"{state} === 'here'", step=h.step, timeout_s=120)
    unit = h.gw.store.open_request(12)["unit"]
    assert await page.text("#headline") == "充电单元已到：请插枪" and f"单元 {unit}" in await page.text("#detail")
    await page.screenshot(SHOTS / "owner-zh-arrived.png")

    # plugged in, charging: the energy so far is the meter's
    h.plug(12)
    await h.run(4_000)
    h.pilot(12, "C")
    await page.wait_for(f"{state} === 'charging'", step=h.step, timeout_s=60)
    await h.run(600_000)
    wh = h.gw.bay_view(12)["session"]["energy_wh"]
    assert wh > 1000  # 10 min at 30 A, 230 V
    await page.eval("railbotOwner.refresh()")
    assert await page.eval("+document.getElementById('energy').dataset.wh") == wh
    assert await page.text("#energy") == await kwh(page, wh) and await page.text("#headline") == "正在充电"
    await page.screenshot(SHOTS / "owner-zh-charging.png")

    # English by choice, kept over a reload
    await page.click("#lang")
    assert await page.text("#headline") == "Charging" and await page.text("#lang") == "中文"
    await page.goto(f"{base}/bay/{token}")
    await page.wait_for(f"{state} === 'charging'")
    assert await page.text("#headline") == "Charging" and await page.eval("document.documentElement.lang") == "en"
    await page.screenshot(SHOTS / "owner-en-charging.png")

    # the gun back: done, with the session's energy
    h.unplug(12)
    await page.wait_for(f"{state} === 'done'", step=h.step, timeout_s=60)
    s = h.gw.store.one("SELECT * FROM sessions WHERE bay=12")
    total = s["meter_stop_wh"] - s["meter_start_wh"]
    assert await page.text("#detail") == f"This charge: {await kwh(page, total)} kWh. Thank you!"
    await page.screenshot(SHOTS / "owner-en-done.png")

    # a bay that cannot take a request: told so; a stale page's ask is refused with the reason, nothing stored
    token13 = accounts.new_bay_token(h.gw.store, 13)
    h.gw.change_availability(13, "Inoperative")
    await page.goto(f"{base}/bay/{token13}")
    await page.wait_for(f"{state} === 'unavailable'")
    assert await page.text("#headline") == "This bay is not available now"
    assert await page.eval("document.getElementById('ask').hidden")
    await page.eval("document.getElementById('ask').hidden = false")  # as a page shown before the change
    await page.click("#ask")
    await page.wait_for("document.getElementById('message').textContent !== ''")
    assert await page.text("#message") == "Not done: the bay cannot take a request now (unavailable, or a unit is still there)"
    assert h.gw.store.open_request(13) is None

    # available again: ask, then take it back before the robot begins
    h.gw.change_availability(13, "Operative")
    await page.goto(f"{base}/bay/{token13}")
    await page.wait_for(f"{state} === 'idle'")
    await page.click("#ask")
    await page.wait_for(f"{state} === 'queued'")
    await page.click("#cancel")
    await page.wait_for(f"{state} === 'cancelled'")
    assert await page.text("#headline") == "Request cancelled" and await page.text("#message") == ""
    assert h.gw.store.one("SELECT state FROM requests WHERE bay=13")["state"] == "cancelled"
    assert page.errors == []


@browser_test
async def test_operator_signs_in_follows_the_rail_and_resets_an_alarm(h, b, base):
    page = await b.new_page(1280, 900)
    await page.goto(f"{base}/operator")
    await page.wait_for("!document.getElementById('signin').hidden")
    assert await page.text("#signin h2") == "运营人员登录"

    # refused sign-ins say why; nothing opens
    await page.click("#signin button")
    assert await page.text("#signin-msg") == "请输入用户名和密码。"
    await page.fill("#name", "op")
    await page.fill("#password", "not the password")
    await page.click("#signin button")
    await page.wait_for("document.getElementById('signin-msg').textContent === '用户名或密码错误。'")
    assert await page.eval("document.getElementById('app').hidden")
    await page.screenshot(SHOTS / "operator-zh-signin-refused.png")

    await page.fill("#password", PASSWORD)
    await page.click("#signin button")
    await page.wait_for("!document.getElementById('app').hidden && document.querySelectorAll('#rail .bay').length")

    # the rail to scale: 44 bays, 6 units, the carriage where the robot is
    assert await page.eval("document.querySelectorAll('#rail .bay').length") == 44
    assert await page.eval("document.querySelectorAll('#rail .unit').length") == 6
    x = h.gw.robot.state.x_mm
    await page.wait_for(f"+document.getElementById('carriage').dataset.xMm === {x}")
    xs = await page.eval("[1, 2, 3, 44].map(n => +document.querySelector(`#rail .bay[data-bay='${n}'] rect`)"
                         ".getAttribute('x'))")
    assert xs[0] == xs[1] < xs[2] < xs[3]  # bays 1 and 2 face each other at station 1

    # a request: the queue, the bay's colour, the event log, then the unit moved
    assert h.gw.remote_start(7, "OWNER7", "app")
    await page.wait_for("document.querySelector('#queue tr[data-bay=\"7\"]') !== null")
    await page.wait_for("document.querySelector('#rail .bay[data-bay=\"7\"]').dataset.status === 'Preparing'")
    await page.wait_for("[...document.querySelectorAll('#log li')].some(li => li.textContent.includes('request 1 for bay 7'))")
    await page.wait_for("document.querySelector('#rail .unit[data-port=\"B7\"]') !== null", step=h.step, timeout_s=120)
    h.plug(7)
    await h.run(4_000)
    h.pilot(7, "C")
    await page.wait_for("document.querySelector('#rail .bay[data-bay=\"7\"]').dataset.status === 'Charging'",
                        step=h.step, timeout_s=60)
    await h.run(600_000)
    h.unplug(7)
    assert await h.until(lambda: h.gw.store.open_request(7) is None)
    s = h.gw.store.one("SELECT * FROM sessions WHERE bay=7")
    wh = s["meter_stop_wh"] - s["meter_start_wh"]
    await page.eval("railbotOperator.loadFigures()")
    assert await page.text("#tot-requests b") == "1" and await page.text("#tot-energy b") == f"{await kwh(page, wh)} kWh"
    asked_h = h.gw.store.one("SELECT created_ms FROM requests WHERE bay=7")["created_ms"] // 3_600_000
    stopped_h = s["stop_ms"] // 3_600_000  # the simulated day began at 00:00: today's hours
    assert await page.eval("[...document.querySelectorAll('#chart .bar-req')].map(r => +r.dataset.requests)") == \
        [int(i == asked_h) for i in range(24)]
    assert await page.eval("[...document.querySelectorAll('#chart .bar-wh')].map(r => +r.dataset.wh)") == \
        [wh * (i == stopped_h) for i in range(24)]
    await page.screenshot(SHOTS / "operator-zh.png", full_page=True)

    # an alarm: its meaning from the table; a reset while the cause is there is refused by the robot
    h.plant.press_estop()
    await page.wait_for("document.getElementById('alarm').dataset.code === '1'", step=h.step, timeout_s=30)
    assert await page.text("#alarm .name") == "1 ESTOP"
    assert "emergency-stop chain opened: driver power cut" in await page.text("#alarm")
    assert "复位后需重新回原点" in await page.text("#alarm")
    await page.click("#reset")
    await page.wait_for("document.getElementById('alarm-msg').textContent !== ''")
    assert await page.text("#alarm-msg") == "reset → error: e-stop still open"
    assert h.gw.robot.state.alarm == 1
    await page.screenshot(SHOTS / "operator-zh-alarm.png", full_page=True)
    h.plant.press_estop(False)
    await h.step()
    await page.click("#reset")
    await page.wait_for("document.getElementById('alarm-msg').textContent.startsWith('reset → ok alarm 1 cleared')")
    await page.wait_for("document.getElementById('alarm').dataset.code === '0'", step=h.step, timeout_s=30)
    assert h.robot_events("reset code=1") == ["reset code=1"]
    assert await h.until(lambda: h.gw.robot.state.homed)  # the gateway homes the simulated robot again

    # the bay-link form: bad numbers are refused by name and change nothing; a good one replaces the link
    old = accounts.new_bay_token(h.gw.store, 9)
    tokens_before = [tuple(r) for r in h.gw.store.all("SELECT * FROM bay_tokens")]
    for bad in ("0", "45", "abc", "", "7.5"):
        await page.fill("#token-bay", bad)
        await page.click("#token-form button")
        assert await page.text("#token-msg") == "车位必须是 1 到 44 的整数。", bad
    assert [tuple(r) for r in h.gw.store.all("SELECT * FROM bay_tokens")] == tokens_before
    await page.fill("#token-bay", "9")
    await page.click("#token-form button")
    await page.wait_for("document.getElementById('token-link') !== null")
    link = await page.eval("document.getElementById('token-link').href")
    assert accounts.bay_of_token(h.gw.store, link.rsplit("/", 1)[1]) == 9 and accounts.bay_of_token(h.gw.store, old) is None

    # the robot command form: the server's refusal shown as it is; a good command's reply
    events = len(h.sim.robot_events)
    await page.fill("#cmd", "状态")
    await page.click("#cmd-form button")
    await page.wait_for("document.getElementById('cmd-msg').textContent.includes('printable ASCII')")
    assert len(h.sim.robot_events) == events
    await page.fill("#cmd", "status")
    await page.click("#cmd-form button")
    await page.wait_for("document.getElementById('cmd-msg').textContent.startsWith('status → ok <IDLE|')")

    # English by choice
    await page.click("#lang")
    assert await page.text("#rail-box h2") == "The rail" and await page.text("#alarm") == "No alarm"
    await page.screenshot(SHOTS / "operator-en.png", full_page=True)
    await page.click("#signout")
    assert not await page.eval("document.getElementById('signin').hidden")
    assert page.errors == []

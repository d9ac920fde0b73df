"""Headless Chromium driven over the DevTools protocol (with `websockets`): open pages, evaluate, click, type, take screenshots; for the pages' browser test and the README's screenshot.

Debian's Chromium (`make chromium`); no browser is downloaded. `python -m railbot_host.browser URL
OUT.png [--width W --height H] [--lang en]` takes one screenshot.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

# Without the background-networking flags Chromium keeps trying hosts a closed network refuses and can hang.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
         "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0"]
START_TIMEOUT_S = 60
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


class BrowserError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """$RAILBOT_CHROMIUM, else chromium (Debian) or chromium-browser on PATH."""
    env = os.environ.get("RAILBOT_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Browser:
    def __init__(self):
        self.proc = None
        self.ws = None
        self.profile = None
        self._next = 0
        self._waiting: dict[int, asyncio.Future] = {}
        self._listeners: list = []
        self._tasks: list[asyncio.Task] = []
        self.stderr_tail: list[str] = []

    @classmethod
    async def start(cls, executable: str | None = None) -> "Browser":
        from websockets.asyncio.client import connect

        exe = executable or find_chromium()
        if exe is None:
            raise BrowserError("no Chromium (run `make chromium` as root)")
        b = cls()
        b.profile = tempfile.mkdtemp(prefix="railbot-chromium-")  # a fresh profile every time
        b.proc = await asyncio.create_subprocess_exec(exe, *FLAGS, f"--user-data-dir={b.profile}", "about:blank",
                                                      stdin=asyncio.subprocess.DEVNULL,
                                                      stdout=asyncio.subprocess.DEVNULL,
                                                      stderr=asyncio.subprocess.PIPE)
        try:
            url = await asyncio.wait_for(b._devtools_url(), START_TIMEOUT_S)
        except (asyncio.TimeoutError, BrowserError) as e:
            await b.close()
            raise BrowserError(f"{exe} did not open its DevTools port: {e or 'timeout'}; "
                               f"it said: {' | '.join(b.stderr_tail[-5:])}") from None
        b._tasks.append(asyncio.create_task(b._drain()))  # a full stderr pipe would stop Chromium
        b.ws = await connect(url, max_size=None, ping_interval=None)
        b._tasks.append(asyncio.create_task(b._read()))
        return b

    async def _devtools_url(self) -> str:
        while True:
            line = await self.proc.stderr.readline()
            if not line:
                raise BrowserError("it exited")
            text = line.decode(errors="replace").strip()
            self.stderr_tail = (self.stderr_tail + [text])[-20:]
            m = _LISTENING.search(text)
            if m:
                return m.group(1)

    async def _drain(self) -> None:
        while await self.proc.stderr.readline():
            pass

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                msg = json.loads(raw)
                if "id" in msg:
                    fut = self._waiting.pop(msg["id"], None)
                    if fut is not None and not fut.done():
                        fut.set_result(msg)
                else:
                    for fn in list(self._listeners):
                        fn(msg)
        except Exception:  # the browser went away: whoever waits is told below
            pass
        for fut in self._waiting.values():
            if not fut.done():
                fut.set_exception(BrowserError("the browser closed the DevTools connection"))

    async def send(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self._next += 1
        msg = {"id": self._next, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        fut = asyncio.get_running_loop().create_future()
        self._waiting[self._next] = fut
        await self.ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 60)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})

    async def new_page(self, width: int = 1280, height: int = 900, *, mobile: bool = False, scale: float = 1) -> "Page":
        target = (await self.send("Target.createTarget", {"url": "about:blank"}))["targetId"]
        session = (await self.send("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
        page = Page(self, session)
        self._listeners.append(page._event)
        for domain in ("Page", "Runtime"):
            await page.send(f"{domain}.enable")
        await page.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height,
                                                               "deviceScaleFactor": scale, "mobile": mobile})
        if mobile:
            await page.send("Emulation.setTouchEmulationEnabled", {"enabled": True})
        # typed text goes to the focused element of a focused page: a background tab has none
        await page.send("Emulation.setFocusEmulationEnabled", {"enabled": True})
        await page.send("Page.bringToFront")
        return page

    async def close(self) -> None:
        for t in self._tasks:
            t.cancel()
        if self.ws is not None:
            try:
                await self.ws.close()
            except Exception:
                pass
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except asyncio.TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.profile:
            shutil.rmtree(self.profile, ignore_errors=True)


class Page:
    """One tab. `errors` collects the page's uncaught exceptions and console errors."""

    def __init__(self, browser: Browser, session: str):
        self.browser = browser
        self.session = session
        self.errors: list[str] = []
        self._loaded = asyncio.Event()

    def _event(self, msg: dict) -> None:
        if msg.get("sessionId") != self.session:
            return
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Page.loadEventFired":
            self._loaded.set()
        elif method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
        elif method == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))

    async def send(self, method: str, params: dict | None = None) -> dict:
        return await self.browser.send(method, params, self.session)

    async def goto(self, url: str) -> None:
        self._loaded.clear()
        r = await self.send("Page.navigate", {"url": url})
        if r.get("errorText"):
            raise BrowserError(f"{url}: {r['errorText']}")
        await asyncio.wait_for(self._loaded.wait(), 30)

    async def eval(self, expr: str):
        r = await self.send("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            raise BrowserError(f"{expr}: {d.get('exception', {}).get('description') or d.get('text')}")
        return r.get("result", {}).get("value")

    async def wait_for(self, expr: str, timeout_s: float = 30, step=None):
        """Until expr is truthy; `step` (an async callable) runs between tries: the test moves its
        simulated world on meanwhile. The timeout is a cap against a hang, nothing is measured by it."""
        loop = asyncio.get_running_loop()
        end = loop.time() + timeout_s
        while True:
            v = await self.eval(expr)
            if v:
                return v
            if loop.time() > end:
                raise BrowserError(f"waited {timeout_s} s for {expr}; the page shows: "
                                   f"{await self.eval('document.body.innerText.slice(0, 400)')!r}")
            if step is not None:
                await step()
            else:
                await asyncio.sleep(0.05)

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of the element (it must be shown)."""
        box = await self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                              f" if (!e || e.offsetParent === null && e.tagName !== 'BODY') return null;"
                              f" e.scrollIntoView({{block: 'center'}}); const r = e.getBoundingClientRect();"
                              f" return [r.x + r.width / 2, r.y + r.height / 2]; }})()")
        if box is None:
            raise BrowserError(f"click {selector}: not on the page or hidden")
        for kind in ("mousePressed", "mouseReleased"):
            await self.send("Input.dispatchMouseEvent", {"type": kind, "x": box[0], "y": box[1],
                                                         "button": "left", "clickCount": 1})

    async def fill(self, selector: str, text: str) -> None:
        """Clear a field and type text into it (as a keyboard would insert it)."""
        await self.eval(f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus(); e.select(); }})()")
        await self.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Delete", "code": "Delete",
                                                   "windowsVirtualKeyCode": 46})
        await self.send("Input.dispatchKeyEvent", {"type": "keyUp", "key": "Delete", "code": "Delete",
                                                   "windowsVirtualKeyCode": 46})
        if text:
            await self.send("Input.insertText", {"text": text})

    async def text(self, selector: str) -> str:
        return await self.eval(f"document.querySelector({json.dumps(selector)})?.innerText ?? null")

    async def screenshot(self, path: str | Path, full_page: bool = False) -> Path:
        params = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = await self.eval("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]")
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = (await self.send("Page.captureScreenshot", params))["data"]
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path


async def _shot(a) -> int:
    b = await Browser.start()
    try:
        page = await b.new_page(a.width, a.height, mobile=a.width < 600, scale=a.scale)
        await page.goto(a.url)
        if a.script:
            await page.eval(a.script)
        await asyncio.sleep(a.wait_s)
        await page.screenshot(a.out, full_page=a.full)
    finally:
        await b.close()
    print(a.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m railbot_host.browser", description="one screenshot of a page")
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=900)
    ap.add_argument("--scale", type=float, default=1)
    ap.add_argument("--wait-s", type=float, default=3, help="after the load, before the shot (live pages fill in)")
    ap.add_argument("--script", help="JavaScript to run after the load (sign in, say)")
    ap.add_argument("--full", action="store_true", help="the whole page, not the window")
    a = ap.parse_args(argv)
    try:
        return asyncio.run(_shot(a))
    except BrowserError as e:
        print(f"browser: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

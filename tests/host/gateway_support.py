"""What the gateway's HTTP tests share: a gateway on the simulated robot, homed, with an operator account and two bay tokens, behind aiohttp's test client."""
import asyncio
import base64

from aiohttp.test_utils import TestClient, TestServer

from railbot_host.gateway import accounts
from railbot_host.gateway.api import Api
from railbot_host.gateway.harness import Harness

OP = {"Authorization": "Basic " + base64.b64encode(b"op:correct horse battery").decode()}


def http_test(fn):
    """`async def test_x(h, client, tokens)` as a plain test: h the harness, client the API's test
    client, tokens {4: ..., 5: ...} the bays' tokens; the operator is OP."""
    def wrapper():
        async def go():
            h = await Harness(csms=False).start()
            accounts.add_user(h.gw.store, "op", "correct horse battery")
            tokens = {b: accounts.new_bay_token(h.gw.store, b) for b in (4, 5)}
            await h.homed()
            client = TestClient(TestServer(Api(lambda: h.gw).app))
            await client.start_server()
            try:
                await fn(h, client, tokens)
            finally:
                await client.close()
                await h.close()
        asyncio.run(go())
    wrapper.__name__ = fn.__name__
    return wrapper

"""The HTTP server both HTTP clients call: a small JSON resource, in its own process.

A separate process, so the server's work never shares an event loop (or the
GIL) with the client being timed. Prints its port on stdout once listening,
then serves until SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal

from aiohttp import web

ITEM = {"id": 42, "name": "benchmark item", "tags": ["a", "b", "c"], "price": 12.5}


async def _item(_: web.Request) -> web.Response:
    return web.json_response(ITEM)


async def serve() -> None:
    app = web.Application()
    app.router.add_get("/item", _item)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(serve())

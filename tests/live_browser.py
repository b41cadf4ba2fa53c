"""Screenshots of the Airflow web UI from headless Chromium, driven over the DevTools protocol.

The browser gets the session's JWT as the ``_token`` cookie (what the UI's login sets), opens
each page, waits until the page shows a given text, and saves a PNG. It runs with a fresh
profile and without background networking, and is ended by its pid with a bounded wait.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from tests.pg_support import free_port

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1500,900", "--hide-scrollbars"]


class Page:
    """One DevTools page session: send a command, get its result."""

    def __init__(self, socket) -> None:
        self.socket = socket
        self.ids = itertools.count(1)

    async def send(self, method: str, **params) -> dict:
        number = next(self.ids)
        await self.socket.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await asyncio.wait_for(self.socket.recv(), 30))
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                return message.get("result", {})

    async def text(self) -> str:
        result = await self.send("Runtime.evaluate", expression="document.body ? document.body.innerText : ''",
                                 returnByValue=True)
        return str(result.get("result", {}).get("value") or "")


async def _shoot(ws_url: str, base: str, token: str, shots: list[tuple[str, str, Path]],
                 local_storage: dict[str, str], limit: float) -> None:
    import websockets

    async with websockets.connect(ws_url, max_size=64 * 1024 * 1024) as socket:
        page = Page(socket)
        await page.send("Page.enable")
        await page.send("Network.enable")
        await page.send("Network.setCookie", name="_token", value=token, url=base + "/")
        await page.send("Page.navigate", url=base + "/")
        for key, value in local_storage.items():
            await page.send("Runtime.evaluate", expression=f"localStorage.setItem({json.dumps(key)}, "
                                                           f"{json.dumps(value)})")
        for path, wanted, target in shots:
            await page.send("Page.navigate", url=base + path)
            deadline = time.monotonic() + limit
            while wanted not in await page.text():
                if time.monotonic() > deadline:
                    raise AssertionError(f"{path} did not show {wanted!r}: {(await page.text())[:500]!r}")
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.5)  # let the graph finish laying out
            shot = await page.send("Page.captureScreenshot", format="png")
            target.write_bytes(base64.b64decode(shot["data"]))


def screenshots(base: str, token: str, shots: list[tuple[str, str, Path]],
                local_storage: dict[str, str] | None = None, limit: float = 60) -> None:
    """For each (url path, text to wait for, PNG file): open the page and save a screenshot."""
    port = free_port()
    profile = tempfile.mkdtemp(prefix="crontabber-chromium-")
    process = subprocess.Popen([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
                                "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                pages = [target for target in httpx.get(f"http://127.0.0.1:{port}/json/list", timeout=2).json()
                         if target.get("type") == "page"]
                if pages:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("chromium did not open its DevTools port")
            time.sleep(0.2)
        asyncio.run(_shoot(pages[0]["webSocketDebuggerUrl"], base, token, shots, local_storage or {}, limit))
    finally:
        for sig, grace in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(process.pid, sig)
                process.wait(timeout=grace)
                break
            except ProcessLookupError:
                break
            except subprocess.TimeoutExpired:
                continue
        shutil.rmtree(profile, ignore_errors=True)

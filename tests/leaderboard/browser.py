"""A headless-Chromium helper for the board's page tests, standard library only.

It starts the system ``chromium`` with ``--remote-debugging-pipe`` and speaks the Chrome
DevTools Protocol over that pipe (the browser reads commands on fd 3 and writes replies
on fd 4, each a JSON message ending in a NUL byte): no port, no network, no Playwright,
no browser download. :func:`load_page` opens one URL, waits for the load event and
returns what the tests check: console errors, uncaught exceptions, failed loads, the
values of some JavaScript expressions, and optionally a full-page screenshot.
"""

from __future__ import annotations

import base64
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["PageReport", "find_chromium", "load_page", "save_screenshot", "BrowserError"]


class BrowserError(RuntimeError):
    """Chromium did not start, answer or load the page in time."""


@dataclass(frozen=True)
class PageReport:
    """What one page load showed."""

    errors: tuple[str, ...]
    """Console errors, uncaught exceptions and log entries of level error (failed loads)."""
    values: dict[str, Any]
    """Each requested expression's JSON value, by the name it was given."""
    screenshot: bytes | None
    """A PNG of the whole page, when asked for."""


def find_chromium() -> str | None:
    """The path of a Chromium-family browser, or None (the tests then skip)."""
    for name in (os.environ.get("EAT_BENCH_CHROMIUM", ""), "chromium", "chromium-browser", "google-chrome"):
        if name and (path := shutil.which(name)):
            return path
    return None


class _Pipe:
    """One CDP connection: numbered commands out, replies and events in."""

    def __init__(self, to_browser: int, from_browser: int, timeout: float) -> None:
        self._out, self._in = to_browser, from_browser
        self._buffer = b""
        self._next_id = 0
        self.deadline = time.monotonic() + timeout
        self.events: list[dict[str, Any]] = []

    def _read_message(self) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise BrowserError("chromium did not answer in time")
            ready, _, _ = select.select([self._in], [], [], left)
            if ready:
                chunk = os.read(self._in, 1 << 16)
                if not chunk:
                    raise BrowserError("chromium closed the debugging pipe")
                self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send a command and wait for its reply, keeping the events that arrive meanwhile."""
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self._out, json.dumps(command).encode() + b"\0")
        while True:
            message = self._read_message()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self.events.append(message)

    def wait_for(self, method: str) -> dict[str, Any]:
        """The first event of that method (already received or the next to come)."""
        while True:
            for event in self.events:
                if event.get("method") == method:
                    return event
            self.events.append(self._read_message())


def _errors(events: list[dict[str, Any]]) -> tuple[str, ...]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console: " + " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"]))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("exception: " + str(details.get("exception", {}).get("description", details.get("text"))))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append(f"log: {entry.get('text')} {entry.get('url', '')}".strip())
    return tuple(found)


def load_page(
    url: str,
    expressions: dict[str, str] | None = None,
    screenshot: bool = False,
    width: int = 1280,
    height: int = 900,
    timeout: float = 60.0,
    chromium: str | None = None,
) -> PageReport:
    """Load ``url`` in a fresh headless Chromium, then evaluate each expression (its value
    must be JSON-serialisable) and optionally take a full-page screenshot."""
    binary = chromium or find_chromium()
    if binary is None:
        raise BrowserError("no chromium on PATH")
    profile = tempfile.mkdtemp(prefix="eat-bench-chromium-")
    cmd_r, cmd_w = os.pipe()  # we write commands; chromium reads fd 3
    msg_r, msg_w = os.pipe()  # chromium writes fd 4; we read

    def _child_fds() -> None:  # runs in the child between fork and exec
        a, b = os.dup(cmd_r), os.dup(msg_w)
        os.dup2(a, 3)
        os.dup2(b, 4)

    args = [
        binary,
        "--headless",
        "--remote-debugging-pipe",
        "--no-sandbox",  # the CI runs as root, where Chromium's sandbox refuses to start
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--mute-audio",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    process = subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        close_fds=False,
        preexec_fn=_child_fds,
        start_new_session=True,
    )
    os.close(cmd_r)
    os.close(msg_w)
    try:
        pipe = _Pipe(cmd_w, msg_r, timeout)
        target = pipe.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = pipe.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            pipe.send(f"{domain}.enable", session=session)
        pipe.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
            session=session,
        )
        pipe.events.clear()
        navigation = pipe.send("Page.navigate", {"url": url}, session=session)
        if navigation.get("errorText"):
            raise BrowserError(f"navigation to {url} failed: {navigation['errorText']}")
        pipe.wait_for("Page.loadEventFired")
        values: dict[str, Any] = {}
        for name, expression in (expressions or {}).items():
            result = pipe.send(
                "Runtime.evaluate",
                {"expression": expression, "returnByValue": True, "awaitPromise": True},
                session=session,
            )
            if "exceptionDetails" in result:
                raise BrowserError(f"{name}: {result['exceptionDetails'].get('text')}")
            values[name] = result["result"].get("value")
        image = None
        if screenshot:
            shot = pipe.send(
                "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=session
            )
            image = base64.b64decode(shot["data"])
        report = PageReport(_errors(pipe.events), values, image)
        try:
            pipe.send("Browser.close")
        except BrowserError:
            pass
        return report
    finally:
        os.close(cmd_w)
        os.close(msg_r)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the browser's own session (start_new_session)
            process.wait(timeout=10)
        shutil.rmtree(profile, ignore_errors=True)


def save_screenshot(report: PageReport, path: Path) -> Path:
    """Write the report's screenshot to ``path`` (for a person to look at)."""
    if report.screenshot is None:
        raise BrowserError("the page was loaded without a screenshot")
    path.write_bytes(report.screenshot)
    return path

"""Headless Chromium for the tests: load a page, collect what the console and the network
saw, evaluate expressions, take a screenshot.

It speaks the DevTools protocol over ``--remote-debugging-pipe`` (file descriptors 3 and 4,
messages ended by a NUL byte), so it needs nothing beyond the standard library and
Debian's ``chromium``.

    python -m tests.chromium page.html shot.png [--width 1200]   # a screenshot, for docs
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BINARY = "chromium"
TIMEOUT = 30.0  # seconds for one answer of the browser


class BrowserError(Exception):
    """Chromium did not answer, or answered an error."""


def available() -> bool:
    return shutil.which(BINARY) is not None


@dataclass
class Loaded:
    """What loading a page gave: console messages and errors, requests, exceptions."""

    console: list[dict] = field(default_factory=list)  # Runtime.consoleAPICalled
    exceptions: list[dict] = field(default_factory=list)  # Runtime.exceptionThrown
    log: list[dict] = field(default_factory=list)  # Log.entryAdded
    requests: list[str] = field(default_factory=list)  # URLs asked for

    def errors(self) -> list[str]:
        """Every console error, uncaught exception and error log entry, as text."""
        out = [json.dumps(e["exceptionDetails"])[:500] for e in self.exceptions]
        bad = ("error", "assert")
        out += [json.dumps(c["args"])[:500] for c in self.console if c.get("type") in bad]
        out += [e["entry"]["text"] for e in self.log if e["entry"].get("level") == "error"]
        return out


class Browser:
    """One headless Chromium with one page (a context manager)."""

    def __init__(self, width: int = 1200, height: int = 900):
        self._profile = tempfile.mkdtemp(prefix="kit-chromium-")
        ours_read, theirs_write = os.pipe()
        theirs_read, ours_write = os.pipe()

        def pipes() -> None:  # in the child: the protocol's descriptors 3 (in) and 4 (out)
            read = fcntl.fcntl(theirs_read, fcntl.F_DUPFD, 100)
            write = fcntl.fcntl(theirs_write, fcntl.F_DUPFD, 100)
            os.dup2(read, 3)
            os.dup2(write, 4)

        self._process = subprocess.Popen(
            [
                BINARY,
                "--headless",
                "--no-sandbox",
                "--remote-debugging-pipe",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            preexec_fn=pipes,
            close_fds=False,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        os.close(theirs_read)
        os.close(theirs_write)
        self._read, self._write = ours_read, ours_write
        self._buffer = b""
        self._next = 0
        self._events: list[dict] = []
        target = self.call("Target.createTarget", url="about:blank")["targetId"]
        self._session = self.call("Target.attachToTarget", targetId=target, flatten=True)[
            "sessionId"
        ]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable", session=True)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            session=True,
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=width < 700,
        )

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(BrowserError, OSError):
            self.call("Browser.close")
        try:
            self._process.wait(10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        os.close(self._read)
        os.close(self._write)
        shutil.rmtree(self._profile, ignore_errors=True)

    def call(self, method: str, session: bool = False, **params: Any) -> dict:
        """Send one command and return its result (events meanwhile are kept)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params}
        if session:
            message["sessionId"] = self._session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise BrowserError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self._events.append(reply)

    def _message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._read], [], [], left)[0]:
                raise BrowserError("chromium did not answer in time")
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                error = self._process.stderr.read().decode(errors="replace")[-2000:]
                raise BrowserError(f"chromium closed the pipe: {error}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def load(self, path: Path) -> Loaded:
        """Open ``path`` and wait for its load event; what happened on the way."""
        self._events.clear()
        self.call("Page.navigate", session=True, url=path.resolve().as_uri())
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == "Page.loadEventFired" for e in self._events):
            self._events.append(self._message(deadline))
        self.evaluate("1")  # events raised while loading have arrived by now
        loaded = Loaded()
        for event in self._events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled":
                loaded.console.append(params)
            elif method == "Runtime.exceptionThrown":
                loaded.exceptions.append(params)
            elif method == "Log.entryAdded":
                loaded.log.append(params)
            elif method == "Network.requestWillBeSent":
                loaded.requests.append(params["request"]["url"])
        return loaded

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-like values)."""
        result = self.call(
            "Runtime.evaluate", session=True, expression=expression, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def screenshot(self, path: Path, full_page: bool = False) -> None:
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            params["captureBeyondViewport"] = True
            size = self.call("Page.getLayoutMetrics", session=True)["cssContentSize"]
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": size["width"],
                "height": size["height"],
                "scale": 1,
            }
        data = self.call("Page.captureScreenshot", session=True, **params)["data"]
        path.write_bytes(base64.b64decode(data))


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m tests.chromium")
    parser.add_argument("page", type=Path)
    parser.add_argument("png", type=Path)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=900)
    args = parser.parse_args(argv)
    with Browser(args.width, args.height) as browser:
        errors = browser.load(args.page).errors()
        browser.screenshot(args.png)
    for error in errors:
        print(f"console: {error}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

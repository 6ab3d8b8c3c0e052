"""Headless Chromium driven over the DevTools protocol on a pipe (no port, no extra package).

``--remote-debugging-pipe`` makes Chromium read NUL-terminated JSON commands on
file descriptor 3 and write replies and events on descriptor 4. A missing
Chromium is installed (Debian's ``chromium``, apt-get as root) only when asked:
``SOUNDMATCH_INSTALL_BROWSER=1`` (CI's ``.ci/run`` sets it); otherwise the browser
tests skip with a line saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--mute-audio",
    "--remote-debugging-pipe",
]
# what counts as a console error: console.error/assert, uncaught exceptions, error log entries
ERROR_EVENTS = ("Runtime.consoleAPICalled", "Runtime.exceptionThrown", "Log.entryAdded")


INSTALL_ENV = "SOUNDMATCH_INSTALL_BROWSER"
SKIP_REASON = (f"no chromium: install it (apt-get install chromium) or set {INSTALL_ENV}=1 to let the "
               "tests install it (root and apt-get needed)")  # fmt: skip


def find_or_install() -> str | None:
    """Path of a Chromium binary; with ``SOUNDMATCH_INSTALL_BROWSER=1`` Debian's package is installed
    when missing (root and apt-get needed). None when there is none (the caller skips with
    :data:`SKIP_REASON`)."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    if os.environ.get(INSTALL_ENV) != "1" or os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    subprocess.run(["apt-get", *lock, "update", "-qq"], env=env, capture_output=True, timeout=900)
    subprocess.run(
        ["apt-get", *lock, "install", "-y", "--no-install-recommends", "chromium", "chromium-driver"],
        env=env,
        capture_output=True,
        timeout=900,
    )
    return shutil.which("chromium")


class Browser:
    """One headless Chromium; ``open(url)`` returns a page session id."""

    def __init__(self, executable: str):
        self.profile = tempfile.mkdtemp(prefix="soundmatch-chromium-")
        to_chrome_r, self._w = os.pipe()
        self._r, from_chrome_w = os.pipe()

        def wire_fds() -> None:  # in the child: its fd 3 reads our commands, fd 4 writes to us
            # copy above 9 first: a pipe end may itself be fd 3 or 4, and dup2 onto the same
            # number would keep its close-on-exec flag
            read_end = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        self.proc = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            preexec_fn=wire_fds,
            close_fds=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next = 0
        self.events: list[dict[str, Any]] = []

    def _read(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            if select.select([self._r], [], [], left)[0]:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise EOFError("chromium closed its DevTools pipe")
                self._buf += chunk
        message, self._buf = self._buf.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60):
        """Send a command and wait for its result (events arriving meanwhile go to ``events``)."""
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        while True:
            reply = self._read(timeout)
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def open(self, url: str, timeout: float = 60) -> str:
        """Load ``url`` in a new tab with console and log capture on; returns the session id."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page.enable", "Runtime.enable", "Log.enable"):
            self.call(domain, session=session)
        self.call("Page.navigate", {"url": url}, session=session)
        while not any(
            e.get("method") == "Page.loadEventFired" and e.get("sessionId") == session for e in self.events
        ):
            self.events.append(self._read(timeout))
        return session

    def evaluate(self, session: str, expression: str, timeout: float = 60) -> Any:
        """Value of a JavaScript expression (promises awaited)."""
        params = {"expression": expression, "awaitPromise": True, "returnByValue": True}
        result = self.call("Runtime.evaluate", params, session=session, timeout=timeout)
        if "exceptionDetails" in result:
            raise RuntimeError(result["exceptionDetails"])
        return result["result"].get("value")

    def errors(self, session: str) -> list[dict[str, Any]]:
        """Console errors, uncaught exceptions and error log entries of one page so far."""
        found = []
        for e in self.events:
            if e.get("sessionId") != session or e.get("method") not in ERROR_EVENTS:
                continue
            p = e["params"]
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") not in ("error", "assert"):
                continue
            if e["method"] == "Log.entryAdded" and p["entry"].get("level") != "error":
                continue
            found.append(e)
        return found

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, TimeoutError, EOFError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._w)
        os.close(self._r)
        shutil.rmtree(self.profile, ignore_errors=True)


# every <audio> element's state once its metadata loaded (or failed)
AUDIO_STATE_JS = """(async () => {
  const audios = [...document.querySelectorAll('audio')];
  await Promise.all(audios.map(a => a.readyState >= 1 ? null : new Promise(done => {
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
    a.load();
  })));
  return audios.map(a => ({src: a.currentSrc.slice(0, 22), ready: a.readyState,
                           duration: a.duration, error: a.error ? a.error.code : null}));
})()"""

IMAGES_JS = "[...document.images].map(i => ({ok: i.complete && i.naturalWidth > 0, alt: i.alt}))"


def page_url(path: Path) -> str:
    return path.resolve().as_uri()

"""Print report.html to PDF, and check it in a real browser, with headless Chromium.

Why a browser: the compliance reviewer prints report.html, and only a
browser shows what they will see: the print stylesheet, page breaks, inline charts, and whether a
script throws or the page reaches for the network (report.html must be self-contained).

How: one small Chrome DevTools Protocol (CDP) client over ``--remote-debugging-pipe``. Chromium
reads commands on file descriptor 3 and writes replies and events on descriptor 4, each message a
JSON object ended by a NUL byte (Chromium's components/devtools/devtools_pipe; Puppeteer's
PipeTransport; GoogleChromeLabs/carlo#11). The pipe needs no port, no websocket package and no
other Python dependency, and concurrent runs cannot connect to each other's browser. Over it:

- ``Page.printToPDF`` (https://chromedevtools.github.io/devtools-protocol/tot/Page/#method-printToPDF)
  prints with ``printBackground``, A4 unless the page's CSS ``@page`` says otherwise
  (``preferCSSPageSize``), and no header or footer (``displayHeaderFooter`` is false by default,
  so the CLI flag ``--no-pdf-header-footer``, formerly ``--print-to-pdf-no-header``, is not needed);
  the PDF comes back as a stream read with ``IO.read``, so a large report is not one huge message.
- ``Runtime.exceptionThrown``, ``Runtime.consoleAPICalled`` (type error/assert),
  ``Log.entryAdded`` (level error) and the ``Network`` events give the page's console errors.
- ``Fetch.enable`` / ``Fetch.requestPaused`` / ``Fetch.failRequest`` stop every request that is not
  to a ``file:`` or ``data:`` URL before it leaves the machine, and ``--host-resolver-rules`` makes
  every host name unresolvable for anything the Fetch domain does not see.

POSIX only (the pipe is two inherited file descriptors). Nothing runs at import: a subprocess is
started per call, with its own temporary profile that is deleted afterwards.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rightsizer.errors import ConfigError

__all__ = ["BrowserError", "BrowserMissing", "find_chromium", "print_pdf"]

log = logging.getLogger(__name__)

ENV_VAR = "RIGHTSIZER_CHROMIUM"
# Names the browser goes by on Debian/Ubuntu, Fedora, Google's packages, and Homebrew links.
_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
_HOW_TO = (
    "install Chromium (Debian/Ubuntu: apt-get install chromium; "
    "macOS: brew install --cask chromium) or set RIGHTSIZER_CHROMIUM=/path/to/chrome"
)
_LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
# A4 in inches, the unit Page.printToPDF takes.
_A4_WIDTH_IN, _A4_HEIGHT_IN = 8.27, 11.69
# After the load event, how long the page must stay quiet (no new event) before we stop listening:
# long enough for a script's setTimeout(0) error or a late image to show up.
_SETTLE_S = 0.3
_STDERR_TAIL = 3000


class BrowserMissing(ConfigError):
    """No Chromium to print or check the report with; the message says how to get one."""


class BrowserError(ConfigError):
    """Chromium ran but could not load or print the report: it crashed, timed out or refused.

    The message names the file and ends with the tail of Chromium's stderr. A problem of the
    machine's browser, not of rightsizer or its inputs: exit 2, like a missing browser."""


def find_chromium() -> str | None:
    """The Chromium to use: ``$RIGHTSIZER_CHROMIUM`` if set, else the first known name on PATH.

    A set but unusable ``$RIGHTSIZER_CHROMIUM`` gives None rather than a fallback: the user chose
    that browser, and quietly printing with another one would hide their mistake."""
    chosen = os.environ.get(ENV_VAR, "").strip()
    if chosen:
        return shutil.which(chosen)
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def print_pdf(html: Path, pdf: Path, *, chromium: str | None = None, timeout: float = 120,
              on_page_error: Callable[[str], None] | None = None) -> Path:
    """Print the local file ``html`` to ``pdf`` (A4, backgrounds, no header/footer); return pdf.

    While it loads, the page is watched: every error it logs goes to ``on_page_error`` (default:
    a warning in the log), in order, each message once. Reported: uncaught exceptions,
    ``console.error``/``console.assert`` calls, errors the browser logs itself (CSP, markup it
    refuses), local files that fail to load, and every attempt to fetch a URL that is not
    ``file:``/``data:`` ("the report fetched https://..."): the report must be self-contained.
    Such requests are blocked, never sent, so printing never touches the network. The PDF is
    written only once it is complete and starts with ``%PDF``.

    Raises BrowserMissing when no Chromium is found, BrowserError when it fails or times out."""
    html = _existing(html)
    pdf = Path(pdf)
    report = on_page_error or (lambda message: log.warning("%s: %s", html, message))
    seen: set[str] = set()

    def record(event: dict[str, Any]) -> None:
        message = _describe(event)
        if message and message not in seen:
            seen.add(message)
            report(message)

    with _Browser(_resolve(chromium), timeout=timeout, what=html, on_event=record) as browser:
        page = browser.open_page(observe=True)
        browser.load(page, html)
        browser.settle()
        # Fonts can finish after the load event; printing before would lay out with fallbacks.
        browser.call(
            "Runtime.evaluate",
            {"expression": "document.fonts.ready.then(() => true)", "awaitPromise": True},
            session=page,
        )
        printed = browser.call(
            "Page.printToPDF",
            {
                "printBackground": True,
                "paperWidth": _A4_WIDTH_IN,
                "paperHeight": _A4_HEIGHT_IN,
                "preferCSSPageSize": True,
                "displayHeaderFooter": False,
                "transferMode": "ReturnAsStream",
            },
            session=page,
        )
        data = browser.read_stream(printed["stream"], session=page)
    if not data.startswith(b"%PDF"):
        raise BrowserError(f"Chromium printed {html} but the result is not a PDF: {data[:40]!r}")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a reader never sees half a PDF.
    partial = pdf.with_name(f".{pdf.name}.partial")
    partial.write_bytes(data)
    partial.replace(pdf)
    return pdf


# --------------------------------------------------------------------------------------------
# Helpers


def _existing(html: Path) -> Path:
    html = Path(html).resolve()
    if not html.is_file():
        raise BrowserError(f"cannot open {html} in Chromium: no such file")
    return html


def _resolve(chromium: str | None) -> str:
    if chromium is not None:
        found = shutil.which(chromium)
        if found is None:
            raise BrowserMissing(f"Chromium not found at {chromium!r}: {_HOW_TO}")
        return found
    found = find_chromium()
    if found is None:
        chosen = os.environ.get(ENV_VAR, "").strip()
        where = f"{ENV_VAR}={chosen!r} is not an executable" if chosen else "none on PATH"
        raise BrowserMissing(f"Chromium is needed for this ({where}): {_HOW_TO}")
    return found


def _is_local(url: str) -> bool:
    return url.startswith(_LOCAL_SCHEMES)


def _describe(event: dict[str, Any]) -> str | None:
    """The error an event reports, as one line, or None if it reports none."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        exception = details.get("exception", {})
        text = exception.get("description") or details.get("text", "exception")
        where = details.get("url") or ""
        line = details.get("lineNumber")
        # lineNumber is 0-based in CDP; editors count from 1.
        at = f" ({where}:{line + 1})" if where and line is not None else ""
        return f"uncaught {text.splitlines()[0]}{at}"
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        words = [_remote_value(arg) for arg in params.get("args", [])]
        return f"console.{params['type']}: {' '.join(words)}".rstrip()
    if method == "Log.entryAdded":
        entry = params.get("entry", {})
        # Failed loads come from the Network events below with the URL; skip their duplicates.
        if entry.get("level") == "error" and entry.get("source") != "network":
            return f"{entry.get('source', 'browser')}: {entry.get('text', '')}"
    if method == "Network.requestWillBeSent":
        url = params.get("request", {}).get("url", "")
        if not _is_local(url):
            return f"the report fetched {url}"
    if method == "Network.webSocketCreated" and not _is_local(params.get("url", "")):
        return f"the report fetched {params.get('url')}"
    if method == "Network.loadingFailed" and not params.get("canceled"):
        url = params.get("_url", "")
        # Remote URLs were already reported as fetched, and we are the ones who failed them.
        if _is_local(url):
            return f"failed to load {url}: {params.get('errorText', 'error')}"
    return None


def _remote_value(arg: dict[str, Any]) -> str:
    """A console argument as text (a CDP Runtime.RemoteObject)."""
    if "value" in arg:
        value = arg["value"]
        return value if isinstance(value, str) else json.dumps(value)
    return str(arg.get("description") or arg.get("unserializableValue") or arg.get("type", ""))


# --------------------------------------------------------------------------------------------
# The CDP client

_FLAGS = (
    "--headless",
    # Chromium's sandbox needs user namespaces or a setuid helper, and refuses to run as root;
    # neither holds in containers and CI. The pages we open are our own local files.
    "--no-sandbox",
    "--disable-gpu",
    # Containers give /dev/shm 64 MB, which a long report's layers overflow.
    "--disable-dev-shm-usage",
    "--remote-debugging-pipe",
    # No network of its own: no updates, sync, metrics, DNS prefetch or first-run pages.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--disable-domain-reliability",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--mute-audio",
    "--hide-scrollbars",
)

# Runs in the child before Chromium: puts the two pipe ends at descriptors 3 and 4, where
# --remote-debugging-pipe expects them, then becomes Chromium. subprocess can pass descriptors
# but not renumber them, and a preexec_fn is unsafe when the caller has threads (subprocess docs).
# The ends are first moved to 10 and above so neither dup2 can overwrite the other.
_TRAMPOLINE = """\
import fcntl, os, sys
given = {int(sys.argv[1]), int(sys.argv[2])}
r = fcntl.fcntl(int(sys.argv[1]), fcntl.F_DUPFD, 10)
w = fcntl.fcntl(int(sys.argv[2]), fcntl.F_DUPFD, 10)
os.dup2(r, 3)
os.dup2(w, 4)
for fd in (given | {r, w}) - {3, 4}:
    os.close(fd)
os.execv(sys.argv[3], sys.argv[3:])
"""


class _Timeout(Exception):
    pass


class _Browser:
    """One headless Chromium, spoken to over the CDP pipe, with a deadline for everything."""

    def __init__(
        self,
        chromium: str,
        *,
        timeout: float,
        what: Path,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self._chromium = chromium
        self._timeout = timeout
        self._what = what
        self._on_event = on_event
        self._deadline = 0.0
        self._next_id = 0
        self._buffer = bytearray()
        self._events: deque[dict[str, Any]] = deque()
        self._urls: dict[str, str] = {}  # requestId -> URL, for loadingFailed
        self._profile = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: Any = None
        self._to_browser = self._from_browser = -1

    # ---- life cycle

    def __enter__(self) -> _Browser:
        self._deadline = time.monotonic() + self._timeout
        # A fresh profile per run: concurrent runs would otherwise fight over one profile's lock.
        self._profile = tempfile.mkdtemp(prefix="rightsizer-chromium-")
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _start(self) -> None:
        child_reads, self._to_browser = os.pipe()
        self._from_browser, child_writes = os.pipe()
        self._stderr = open(os.path.join(self._profile, "stderr.log"), "w+b")  # noqa: SIM115
        argv = [
            sys.executable,
            "-I",  # isolated and without site: nothing from the environment, quick to start
            "-S",
            "-c",
            _TRAMPOLINE,
            str(child_reads),
            str(child_writes),
            self._chromium,
            *_FLAGS,
            f"--user-data-dir={os.path.join(self._profile, 'profile')}",
            "about:blank",
        ]
        try:
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=self._stderr,
                stderr=self._stderr,
                pass_fds=(child_reads, child_writes),
                # Its own process group, so a hung browser and all its helpers can be killed.
                start_new_session=True,
            )
        except OSError as exc:
            raise BrowserError(
                f"cannot start Chromium {self._chromium} for {self._what}: {exc}"
            ) from exc
        finally:
            # Only the child keeps these ends; then its exit shows up here as end of file.
            os.close(child_reads)
            os.close(child_writes)
        os.set_blocking(self._from_browser, False)

    def _stop(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            with contextlib.suppress(OSError, BrowserError, _Timeout):
                self._send("Browser.close")
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if proc is not None:
            # Helpers (zygote, renderer) may outlive the browser by a moment; reap the group.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        for fd in (self._to_browser, self._from_browser):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._to_browser = self._from_browser = -1
        if self._stderr is not None:
            self._stderr.close()
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)

    def _failure(self, reason: str) -> BrowserError:
        tail = ""
        if self._stderr is not None:
            with contextlib.suppress(OSError, ValueError):
                self._stderr.flush()
                self._stderr.seek(0)
                lines = self._stderr.read().decode("utf-8", "replace").splitlines()
                # Without a desktop session Chromium complains about D-Bus on every start: noise.
                kept = [line for line in lines if "dbus" not in line.lower()]
                tail = "\n".join(kept)[-_STDERR_TAIL:].strip()
        stderr = f"\nChromium's stderr:\n{tail}" if tail else " (Chromium wrote nothing on stderr)"
        return BrowserError(f"Chromium {self._chromium} failed on {self._what}: {reason}{stderr}")

    # ---- messages

    def _send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            # Our commands are small; a blocking write only waits if Chromium stopped reading.
            written = os.write(self._to_browser, data)
            data = data[written:]
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        """The next message from Chromium; events also go to the event hook as they arrive."""
        while (end := self._buffer.find(b"\0")) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _Timeout
            ready, _, _ = select.select([self._from_browser], [], [], remaining)
            if not ready:
                raise _Timeout
            try:
                chunk = os.read(self._from_browser, 1 << 20)
            except BlockingIOError:
                continue
            if not chunk:
                code = self._proc.poll() if self._proc else None
                raise self._failure(f"Chromium exited (status {code})")
            self._buffer += chunk
        message: dict[str, Any] = json.loads(self._buffer[:end])
        del self._buffer[: end + 1]
        if "method" in message:
            self._handle(message)
        return message

    def _handle(self, event: dict[str, Any]) -> None:
        method, params = event["method"], event.get("params", {})
        session = event.get("sessionId", "")
        if method == "Fetch.requestPaused":
            # Answer at once, whatever we are waiting for: a paused request stalls the page.
            url = params.get("request", {}).get("url", "")
            if _is_local(url):
                self._send("Fetch.continueRequest", {"requestId": params["requestId"]}, session)
            else:
                self._send(
                    "Fetch.failRequest",
                    {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
                    session,
                )
        elif method == "Network.requestWillBeSent":
            self._urls[params.get("requestId", "")] = params.get("request", {}).get("url", "")
        elif method == "Network.loadingFailed":
            params["_url"] = self._urls.get(params.get("requestId", ""), "")
        if self._on_event is not None:
            self._on_event(event)
        self._events.append(event)

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str = ""
    ) -> dict[str, Any]:
        """Send one command and wait for its reply; a CDP error becomes a BrowserError."""
        wanted = self._send(method, params, session)
        try:
            while True:
                message = self._receive(self._deadline)
                if message.get("id") == wanted:
                    break
        except _Timeout:
            raise self._failure(f"no reply to {method} within {self._timeout:g} s") from None
        if "error" in message:
            raise self._failure(f"{method}: {message['error'].get('message', message['error'])}")
        result: dict[str, Any] = message.get("result", {})
        return result

    def _wait_for(self, wanted: Callable[[dict[str, Any]], bool], what: str) -> None:
        """Read messages until an event that ``wanted`` accepts has arrived."""
        try:
            while True:
                if any(wanted(event) for event in self._events):
                    self._events.clear()
                    return
                self._events.clear()
                self._receive(self._deadline)
        except _Timeout:
            raise self._failure(f"no {what} within {self._timeout:g} s") from None

    # ---- pages

    def open_page(self, *, observe: bool = False) -> str:
        """A new tab, attached as a flat session; returns the session id for commands."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        session: str = attached["sessionId"]
        self.call("Page.enable", session=session)
        # Lifecycle events carry the navigation's loaderId, so a late "load" of the initial
        # about:blank cannot be mistaken for the report's.
        self.call("Page.setLifecycleEventsEnabled", {"enabled": True}, session=session)
        # Every request that is not local is paused, then failed in _handle.
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=session)
        if observe:
            for domain in ("Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", session=session)
        return session

    def load(self, session: str, html: Path) -> None:
        """Navigate to the file and wait for its load event."""
        self._events.clear()
        result = self.call("Page.navigate", {"url": html.as_uri()}, session=session)
        if result.get("errorText"):
            raise self._failure(f"cannot load it: {result['errorText']}")
        loader = result.get("loaderId")

        def loaded(event: dict[str, Any]) -> bool:
            params = event.get("params", {})
            return (
                event["method"] == "Page.lifecycleEvent"
                and event.get("sessionId") == session
                and params.get("name") == "load"
                and params.get("loaderId") == loader
            )

        self._wait_for(loaded, "load event")

    def settle(self) -> None:
        """Let late work (timers, lazy images) run and report, until the page is quiet a while."""
        while True:
            until = min(time.monotonic() + _SETTLE_S, self._deadline)
            try:
                self._receive(until)
            except _Timeout:
                return
            self._events.clear()

    def read_stream(self, handle: str, *, session: str) -> bytes:
        """Read a CDP IO stream (the printed PDF, owned by the page's session) to the end."""
        chunks: list[bytes] = []
        while True:
            part = self.call("IO.read", {"handle": handle, "size": 1 << 20}, session=session)
            data = part.get("data", "")
            chunks.append(base64.b64decode(data) if part.get("base64Encoded") else data.encode())
            if part.get("eof"):
                break
        with contextlib.suppress(BrowserError):
            self.call("IO.close", {"handle": handle}, session=session)
        return b"".join(chunks)

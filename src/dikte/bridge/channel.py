"""The channel between code in a runtime and the browsers that show its notebook.

Code in a runtime (``google.colab``'s ``eval_js``, ``files.upload``, ``files.download``,
``runtime.unassign``, ``userdata.get``...) talks to the control plane over HTTP at
``DIKTE_CONTROL_URL`` (``/api/runtime-channel/{runtime_id}/...``, see
``dikte.api.runtime_channel``), authenticated by ``DIKTE_RUNTIME_TOKEN``: the HMAC-SHA256 (hex) of
the runtime id under the server key derived for ``"runtime-channel"``. Nothing is stored; the
server recomputes it. It opens only that runtime's channel endpoints, and only while the runtime
is connected. Both go into the kernel's environment when the server configured the channel
(``create_app``); without it (``dikte run``) the helpers in the runtime say they need Dikte's
server.

What needs a browser becomes a *browser request*. It goes, over the notebook's WebSocket, to one
viewer: of the tabs that said they can answer (``channel_ready``), the one used last. The kernel
long-polls for the answer; a tab that closes before answering fails the request with a sentence,
and a request nobody polls for five minutes is dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import posixpath
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from dikte.errors import BadRequest, Conflict, NotFound
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.viewers import Viewer

ABANDONED_SECONDS = 300.0
"""A request whose kernel stopped polling this long ago is dropped (the kernel died)."""
UNPOLLED_AFTER_INTERRUPT = 5.0
"""Seconds after an interrupt when the requests no kernel has begun to wait for are withdrawn."""

NO_VIEWER = {
    "eval_js": "eval_js() runs JavaScript in the notebook's page, and no browser has this "
               "notebook open now. Open it in Dikte and run the cell there.",
    "upload": "files.upload() lets you choose files in the notebook's page, and no browser has "
              "this notebook open now. Open it in Dikte and run the cell there, or put files "
              "into /content with the Files panel.",
    "download": "files.download() saves the file through the notebook's page, and no browser "
                "has this notebook open now. Open it in Dikte and run the cell there, or "
                "download the file from the Files panel.",
}


def runtime_token(key: bytes, runtime_id: str) -> str:
    """The token of ``runtime_id`` under the runtime-channel key."""
    return hmac.new(key, runtime_id.encode(), hashlib.sha256).hexdigest()


def content_relative(path: str, kernel_root: str = "/content") -> str:
    """A path as the kernel sees it, relative to the runtime's /content (``""`` for /content).

    ``kernel_root`` is where the kernel sees /content (``RuntimeBackend.content_root``): in a
    sandbox /content itself; an unsandboxed kernel sees a host path. Anything else is refused
    with a sentence."""
    norm = posixpath.normpath(path) if path.startswith("/") else ""
    for root in ("/content", kernel_root):
        if norm == root:
            return ""
        if norm.startswith(root + "/"):
            return norm[len(root) + 1:]
    raise BadRequest(f"{path} is outside /content; only files in /content (your drive "
                     "included) can go through the notebook's page. Copy it into /content first.",
                     code="outside_content")


@dataclass(eq=False)
class BrowserRequest:
    """One request to a browser, until the kernel has read its answer."""

    request_id: str
    runtime_id: str
    nb: OpenNotebook
    viewer: Viewer
    keep_answer: bool
    """False when the kernel does not wait (``eval_js(ignore_result=True)``)."""
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    value: Any = None
    error: str | None = None
    polled_at: float = field(default_factory=time.monotonic)
    polled: bool = False
    """Whether the kernel has begun to wait for the answer."""


class RuntimeChannel:
    """Tokens, the tabs that can answer, and the requests waiting for them."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.control_url: str | None = None
        self._tabs: dict[OpenNotebook, dict[Viewer, float]] = {}
        self._requests: dict[str, BrowserRequest] = {}
        self.callback_cells: dict[str, str] = {}
        """msg_id of a running JavaScript callback -> the cell whose output shows it."""
        self.tasks: set[asyncio.Task[None]] = set()
        """Callbacks on their way (kept here so they are not garbage-collected mid-run)."""

    def configure(self, key: bytes, control_url: str) -> None:
        """Turn the channel on: runtimes started from now on get the URL and their token."""
        self.key, self.control_url = key, control_url

    def runtime_env(self, runtime_id: str) -> dict[str, str]:
        if self.key is None or self.control_url is None:
            return {}  # e.g. `dikte run`: no server, and the helpers say so
        return {"DIKTE_CONTROL_URL": self.control_url,
                "DIKTE_RUNTIME_TOKEN": runtime_token(self.key, runtime_id)}

    def token_is_valid(self, runtime_id: str, token: str) -> bool:
        if self.key is None:
            return False
        return hmac.compare_digest(runtime_token(self.key, runtime_id).encode(),
                                   token.encode())

    # the tabs

    def ready(self, nb: OpenNotebook, viewer: Viewer) -> None:
        """A browser tab says it can answer requests."""
        self._tabs.setdefault(nb, {})[viewer] = time.monotonic()

    def seen(self, nb: OpenNotebook, viewer: Viewer) -> None:
        tabs = self._tabs.get(nb)
        if tabs is not None and viewer in tabs:
            tabs[viewer] = time.monotonic()

    def left(self, nb: OpenNotebook, viewer: Viewer) -> None:
        tabs = self._tabs.get(nb)
        if tabs is not None:
            tabs.pop(viewer, None)
            if not tabs:
                del self._tabs[nb]
        for req in list(self._requests.values()):
            if req.viewer is viewer and not req.answered.is_set():
                self._finish(req, error="The browser tab that was asked closed before it "
                             "answered. Run the cell again with the notebook open.")

    def _target(self, nb: OpenNotebook) -> Viewer | None:
        tabs = self._tabs.get(nb)
        return max(tabs, key=tabs.__getitem__) if tabs else None

    # requests

    def cell_for(self, nb: OpenNotebook, parent_msg_id: str | None) -> str:
        """The cell whose output area a request belongs to: a callback's cell, else the running
        cell."""
        if parent_msg_id and parent_msg_id in self.callback_cells:
            return self.callback_cells[parent_msg_id]
        if nb.running is None:
            raise Conflict("This was called while no cell runs (from a background thread?); "
                           "call it from a cell.", code="no_running_cell")
        return nb.running

    def open(self, nb: OpenNotebook, runtime_id: str, kind: str, cell_id: str,
             fields: dict[str, Any], keep_answer: bool = True) -> BrowserRequest:
        """Send a request to the tab used last; refused at once when no tab can answer."""
        self._sweep()
        viewer = self._target(nb)
        if viewer is None:
            raise Conflict(NO_VIEWER.get(kind, "No browser has this notebook open now."),
                           code="no_viewer")
        req = BrowserRequest(request_id=secrets.token_urlsafe(12), runtime_id=runtime_id, nb=nb,
                             viewer=viewer, keep_answer=keep_answer)
        self._requests[req.request_id] = req
        nb.send_to(viewer, {"type": "channel_request", "request_id": req.request_id,
                            "kind": kind, "cell_id": cell_id, **fields})
        nb.touch()
        return req

    def get(self, runtime_id: str, request_id: str) -> BrowserRequest:
        req = self._requests.get(request_id)
        if req is None or req.runtime_id != runtime_id:
            raise NotFound(f"There is no request {request_id!r} of this runtime (answered and "
                           "read, cancelled, or dropped).", code="no_such_request")
        return req

    async def wait(self, runtime_id: str, request_id: str, seconds: float) -> BrowserRequest:
        """Wait up to ``seconds`` for the answer; an answer returned is forgotten."""
        req = self.get(runtime_id, request_id)
        req.polled_at = time.monotonic()
        req.polled = True
        try:
            await asyncio.wait_for(req.answered.wait(), seconds)
        except TimeoutError:
            pass
        req.polled_at = time.monotonic()
        if req.answered.is_set():
            self._requests.pop(request_id, None)
        return req

    def answer(self, nb: OpenNotebook, viewer: Viewer, request_id: str, value: Any,
               error: str | None) -> None:
        """The tab's answer; a late one (cancelled, or another tab's) is ignored."""
        req = self._requests.get(request_id)
        if req is None or req.nb is not nb or req.viewer is not viewer or req.answered.is_set():
            return
        self._finish(req, value, error)

    def cancel(self, runtime_id: str, request_id: str) -> None:
        """The kernel gave up (timeout, interrupt): the tab drops its prompt."""
        self._withdraw(self.get(runtime_id, request_id))

    def interrupted(self, nb: OpenNotebook) -> None:
        """The notebook's cell was interrupted: its requests that the kernel has still not begun
        to wait for :data:`UNPOLLED_AFTER_INTERRUPT` seconds later are withdrawn. An interrupt
        landing while the kernel was still opening one (inside that request, before it knew the
        request's id) leaves the kernel nothing to cancel; requests it waits for it cancels
        itself. Not at once: a kernel about to poll when the interrupt comes polls first and
        then hears the interrupt (a request gone before that would fail the cell with "no such
        request" instead of KeyboardInterrupt)."""
        pending = [req for req in self._requests.values() if req.nb is nb and req.keep_answer
                   and not req.polled and not req.answered.is_set()]
        if pending:
            asyncio.get_running_loop().call_later(UNPOLLED_AFTER_INTERRUPT,
                                                  self._withdraw_unpolled, pending)

    def _withdraw_unpolled(self, requests: list[BrowserRequest]) -> None:
        for req in requests:
            if not req.polled and not req.answered.is_set():  # an answer is kept for the kernel
                self._withdraw(req)

    def _withdraw(self, req: BrowserRequest) -> None:
        """Forget ``req``; unless it was answered, its tab drops the prompt."""
        self._requests.pop(req.request_id, None)
        if not req.answered.is_set():
            req.answered.set()
            req.nb.send_to(req.viewer, {"type": "channel_done", "request_id": req.request_id})

    def _finish(self, req: BrowserRequest, value: Any = None, error: str | None = None) -> None:
        req.value, req.error = value, error
        req.answered.set()
        req.nb.send_to(req.viewer, {"type": "channel_done", "request_id": req.request_id})
        if not req.keep_answer:
            self._requests.pop(req.request_id, None)

    def _sweep(self) -> None:
        cutoff = time.monotonic() - ABANDONED_SECONDS
        for req in list(self._requests.values()):
            if req.polled_at < cutoff:
                self._withdraw(req)

    def pending(self) -> int:
        """How many requests wait (for tests and diagnostics)."""
        return len(self._requests)

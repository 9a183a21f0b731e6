"""How ``google.colab`` reaches Dikte's server from inside a runtime: the runtime channel.

The kernel's environment holds ``DIKTE_CONTROL_URL`` (the server: ``unix:<socket>`` when the
runtime has a network of its own and reaches the server through a socket bound into its sandbox,
else an http URL on the loopback it shares with the server), ``DIKTE_RUNTIME_ID`` and
``DIKTE_RUNTIME_TOKEN`` (a token that opens only this runtime's
``/api/runtime-channel/<id>/...`` endpoints, and only while it lives). ``call`` is one request
to them; ``browser_request`` asks the notebook's page (the browser tab used last) for
something and long-polls for its answer.

Colab sends such requests as custom iopub messages answered on stdin; Dikte's server owns the
document and its queue, so the kernel asks the server over HTTP instead, and what needs a browser
goes to the page over the notebook's WebSocket. Standard library only.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import secrets
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from dikte.kernel.errors import NotOffered

POLL_SECONDS = 20.0
"""One long poll waits at most this long; the kernel then asks again."""


class MessageError(Exception):
    """Colab's error for a request the page or the server could not do; ``str()`` says why."""


class TimeoutException(MessageError, TimeoutError):
    """The page did not answer in time."""


class NoServer(MessageError, NotOffered):
    """This runtime has no Dikte server to ask (``dikte run``): shown as its sentence alone."""


# Requests to the server on this machine never go through an HTTP proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _where(what: str) -> tuple[str, str, str]:
    url = os.environ.get("DIKTE_CONTROL_URL")
    runtime_id = os.environ.get("DIKTE_RUNTIME_ID")
    token = os.environ.get("DIKTE_RUNTIME_TOKEN")
    if not url or not runtime_id or not token:
        raise NoServer(
            f"{what} needs Dikte's server, and this runtime has no connection to it (for "
            "example under `dikte run`, which has no browser). Run the notebook in Dikte's web "
            "app.")
    return url.rstrip("/"), runtime_id, token


def available() -> bool:
    """Whether this runtime can reach Dikte's server (not under `dikte run`)."""
    try:
        _where("")
    except MessageError:
        return False
    return True


def _error_sentence(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        return str(body["error"]["message"])
    except (ValueError, KeyError, TypeError, OSError):
        return f"Dikte's server answered {exc.code}."


def call(method: str, path: str, body: Any = None, *, timeout: float = 30.0,
         what: str = "This call") -> Any:
    """One request to this runtime's channel endpoints (``path`` after
    ``/api/runtime-channel/<id>``); returns the JSON answer. A refusal raises
    :class:`MessageError` with the server's sentence."""
    base, runtime_id, token = _where(what)
    data = json.dumps(body).encode() if body is not None else None
    socket_path = base[len("unix:"):] if base.startswith("unix:") else None
    request = urllib.request.Request(
        f"{'http://localhost' if socket_path else base}/api/runtime-channel/"
        f"{urllib.parse.quote(runtime_id)}{path}", data=data,
        method=method, headers={"Authorization": f"Bearer {token}",
                                "Content-Type": "application/json"})
    try:
        if socket_path is not None:
            raw = _over_unix_socket(socket_path, request, timeout)
        else:
            with _opener.open(request, timeout=timeout) as response:
                raw = response.read()
    except urllib.error.HTTPError as exc:
        raise MessageError(_error_sentence(exc)) from None
    except OSError as exc:  # URLError, a refused connection, a timeout
        reason = getattr(exc, "reason", exc)
        raise MessageError(f"{what} could not reach Dikte's server ({reason}).") from None
    return json.loads(raw) if raw else None


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.unix_path)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def _over_unix_socket(path: str, request: urllib.request.Request, timeout: float) -> bytes:
    """``request`` (its path and query only) to the server listening on the unix socket
    ``path``; an error answer raises HTTPError, as urllib does."""
    url = urllib.parse.urlsplit(request.full_url)
    target = url.path + (f"?{url.query}" if url.query else "")
    conn = _UnixConnection(path, timeout)
    try:
        conn.request(request.get_method(), target, body=request.data,
                     headers=dict(request.header_items()))
        response = conn.getresponse()
        raw = response.read()
    finally:
        conn.close()
    if response.status >= 400:
        raise urllib.error.HTTPError(request.full_url, response.status, response.reason,
                                     response.headers, io.BytesIO(raw))
    return raw


def parent_msg_id() -> str | None:
    """The msg_id of the kernel request the caller runs in (a cell, or a JavaScript callback)."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent("shell") if kernel is not None else None
        return str(parent["header"]["msg_id"]) if parent else None
    except Exception:  # not in a kernel, or an ipykernel without get_parent
        return None


def _flush_outputs() -> None:
    """Send what the cell displayed so far before asking the page: ipykernel hands outputs
    to a thread of its own, so a ``display(Javascript(...))`` defining a function that the next
    ``eval_js`` calls could otherwise reach the server after the request. A stream's flush
    waits until that thread has sent everything queued before it."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # a closed or replaced stream: nothing of ours to send
            pass


def _iopub_marker() -> str | None:
    """Publish a marker message on iopub, after everything the cell displayed so far (they go
    out in order, through ipykernel's thread); the server opens the request once it has read the
    marker, so those outputs reach the page before the request does. None outside a kernel."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        if kernel is None:
            return None
        token = secrets.token_hex(8)
        kernel.session.send(kernel.iopub_socket, "dikte_marker", {"token": token},
                            parent=kernel.get_parent("shell"), ident=b"dikte_marker")
        return token
    except Exception:  # an ipykernel without these: the server falls back to a short wait
        return None


def browser_request(kind: str, fields: dict[str, Any], *, timeout: float | None = None,
                    wait: bool = True, what: str) -> Any:
    """Ask the notebook's page for something and return its answer (JSON).

    ``timeout`` None waits until the page answers (or the tab closes, or the cell is
    interrupted: the page then drops its prompt). ``wait`` False returns None at once."""
    _flush_outputs()
    request_id = None
    try:
        opened = call("POST", "/requests", {"kind": kind, "parent": parent_msg_id(),
                                            "marker": _iopub_marker(), **fields}, what=what)
        request_id = urllib.parse.quote(str(opened["request_id"]))
        if not wait:
            return None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = POLL_SECONDS if deadline is None else min(POLL_SECONDS,
                                                             deadline - time.monotonic())
            if left <= 0:
                _cancel(request_id)
                raise TimeoutException(f"{what}: the notebook's page did not answer within "
                                       f"{timeout:g} seconds.")
            answer = call("GET", f"/requests/{request_id}?wait={left:.3f}", timeout=left + 30,
                          what=what)
            if answer.get("done"):
                if answer.get("error") is not None:
                    raise MessageError(str(answer["error"]))
                return answer.get("value")
    except KeyboardInterrupt:
        # interrupted before the answer to the opening request came, the kernel has no id to
        # cancel: the server withdraws requests nobody waits for when it sends an interrupt
        if request_id is not None:
            _cancel(request_id)
        raise


def _cancel(request_id: str) -> None:
    try:
        call("DELETE", f"/requests/{request_id}", timeout=5.0)
    except MessageError:
        pass  # answered meanwhile, or the server is gone: nothing left to cancel

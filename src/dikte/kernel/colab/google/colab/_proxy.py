"""Show a web server the notebook started in this runtime: ``serve_kernel_port_as_iframe`` and
``serve_kernel_port_as_window`` (re-exported by ``google.colab.output``).

The kernel tells Dikte's server that this runtime serves the port (nothing else is ever
proxied), then displays an output naming the runtime and port. The notebook's page asks the
server for a short-lived, signed URL under ``/proxy/`` and shows it in a sandboxed frame (or a
new window): the served page runs in an opaque origin and never sees the app's cookies. The URL
is not stored in the notebook; a saved notebook shows the port again only while the runtime
serves it (or, with ``cache_in_notebook=True``, a copy of the page taken now).

The served site sees itself under ``/proxy/<capability>/``: relative links work, absolute paths
(``/static/app.js``) do not. Only ports above 1024.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

from . import _channel

PORT_MIME = "application/vnd.dikte.port-proxy+json"
_CACHE_BYTES = 5 * 1024 * 1024
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _check_port(port: Any) -> int:
    if isinstance(port, bool) or not isinstance(port, int) or not 1024 < port <= 65535:
        raise ValueError(f"port must be a number from 1025 to 65535, not {port!r}")
    return port


def _serve(port: int, what: str) -> str:
    """Tell the server this runtime serves ``port``; the runtime's id."""
    reply = _channel.call("POST", "/ports", {"port": port}, what=what)
    return str(reply["runtime_id"])


def _cached_page(port: int, path: str) -> str | None:
    """The page as it is now, for a notebook read where the runtime is gone."""
    try:
        with _opener.open(f"http://127.0.0.1:{port}{path}", timeout=10) as response:
            body: bytes = response.read(_CACHE_BYTES + 1)
            charset = response.headers.get_content_charset() or "utf-8"
    except (OSError, ValueError):
        return None
    if len(body) > _CACHE_BYTES:
        return None
    return body.decode(charset, errors="replace")


def _display(bundle: dict[str, Any]) -> None:
    from IPython.display import display

    display(bundle, raw=True)  # type: ignore[no-untyped-call]


def serve_kernel_port_as_iframe(port: int, path: str = "/", width: str | int = "100%",
                                height: str | int = "400", cache_in_notebook: bool = False) -> None:
    """Show ``http://localhost:<port><path>`` of this runtime in a frame in the cell's output."""
    port = _check_port(port)
    path = path if str(path).startswith("/") else f"/{path}"
    runtime_id = _serve(port, "serve_kernel_port_as_iframe()")
    bundle: dict[str, Any] = {
        PORT_MIME: {"runtime_id": runtime_id, "port": port, "path": path, "mode": "iframe",
                    "width": str(width), "height": str(height)},
        "text/plain": f"Port {port} of the runtime (path {path}), shown by Dikte's notebook page.",
    }
    if cache_in_notebook:
        page = _cached_page(port, path)
        if page is not None:
            bundle["text/html"] = page
    _display(bundle)


def serve_kernel_port_as_window(port: int, path: str = "/", anchor_text: str | None = None) -> None:
    """Show a link that opens ``http://localhost:<port><path>`` of this runtime in a new tab."""
    port = _check_port(port)
    path = path if str(path).startswith("/") else f"/{path}"
    runtime_id = _serve(port, "serve_kernel_port_as_window()")
    text = anchor_text or f"https://localhost:{port}{path}"
    _display({
        PORT_MIME: {"runtime_id": runtime_id, "port": port, "path": path, "mode": "window",
                    "anchor_text": text},
        "text/plain": f"{text} (port {port} of the runtime; open it from Dikte's notebook page)",
    })

"""Completion and help from a notebook's kernel: ``complete_request`` and ``inspect_request``.

They go on the kernel's control channel, which ipykernel serves on a thread of its own (its
control channel takes every shell request), so a kernel running a long cell still answers, as
Colab's does. What the kernel sends back is passed on with its fields checked and bounded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dikte.errors import DikteError, RuntimeUnavailable
from dikte.execution.kernel import KernelGone

if TYPE_CHECKING:
    from dikte.notebooks.notebook import OpenNotebook

ASSIST_TIMEOUT = 10.0
"""Seconds a kernel has to answer a completion or help request."""
MAX_CODE = 1 << 20
"""Longest code (characters) sent for completion or help: a cell's source is far shorter."""
MAX_MATCHES = 500


def _kernel(nb: OpenNotebook, what: str) -> Any:
    link = nb.runtime
    if link is None or not link.ready:
        raise RuntimeUnavailable(
            f"{what} comes from the runtime's kernel, and this notebook has no connected runtime. "
            "Connect one first (Connect in the toolbar, or POST /api/notebooks/connect).",
            code="not_connected")
    return link.channel


def _check(code: str, cursor_pos: int | None) -> int:
    if len(code) > MAX_CODE:
        raise DikteError(f"The code is {len(code)} characters; completion and help take at most "
                         f"{MAX_CODE}.", code="too_large", status=413)
    pos = len(code) if cursor_pos is None else cursor_pos
    if not 0 <= pos <= len(code):
        raise DikteError(f"cursor_pos {pos} is outside the code (0 to {len(code)}).",
                         code="bad_request", status=400)
    return pos


async def _ask(nb: OpenNotebook, what: str, msg_type: str,
               content: dict[str, Any]) -> dict[str, Any]:
    channel = _kernel(nb, what)
    try:
        reply = await channel.request("control", msg_type, content, ASSIST_TIMEOUT)
    except KernelGone:
        raise RuntimeUnavailable(
            f"The kernel did not answer within {ASSIST_TIMEOUT:.0f} seconds (it may be stuck "
            "in code that holds Python's lock). Interrupt or restart it, then try again.",
            code="kernel_busy") from None
    result: dict[str, Any] = reply["content"]
    if result.get("status") != "ok":
        raise DikteError(f"The kernel could not answer: {result.get('ename', 'error')}: "
                         f"{result.get('evalue', '')}", code="kernel_error", status=502)
    return result


async def complete(nb: OpenNotebook, code: str, cursor_pos: int | None) -> dict[str, Any]:
    """``{matches, cursor_start, cursor_end, types}``; ``types`` (one per match where the
    kernel says: function, module, instance...) comes from IPython's experimental field."""
    pos = _check(code, cursor_pos)
    reply = await _ask(nb, "Completion", "complete_request", {"code": code, "cursor_pos": pos})
    matches = [m for m in reply.get("matches", []) if isinstance(m, str)][:MAX_MATCHES]
    start = reply.get("cursor_start", pos)
    end = reply.get("cursor_end", pos)
    start = start if isinstance(start, int) and 0 <= start <= len(code) else pos
    end = end if isinstance(end, int) and start <= end <= len(code) else pos
    types: dict[str, str] = {}
    experimental = (reply.get("metadata") or {}).get("_jupyter_types_experimental") or []
    for item in experimental:
        if isinstance(item, dict) and isinstance(item.get("text"), str):
            kind = item.get("type")
            if isinstance(kind, str) and kind != "<unknown>":
                types[item["text"]] = kind
    return {"matches": matches, "cursor_start": start, "cursor_end": end,
            "types": [types.get(m, "") for m in matches]}


async def inspect(nb: OpenNotebook, code: str, cursor_pos: int | None,
                  detail_level: int = 0) -> dict[str, Any]:
    """``{found, data}``: ``data`` is a MIME bundle (text/plain with ANSI colours, and often
    text/html); what ``name?`` (detail 0) or ``name??`` (detail 1) would show."""
    pos = _check(code, cursor_pos)
    reply = await _ask(nb, "Help", "inspect_request",
                       {"code": code, "cursor_pos": pos, "detail_level": 1 if detail_level else 0})
    data = reply.get("data") if isinstance(reply.get("data"), dict) else {}
    return {"found": bool(reply.get("found")) and bool(data), "data": data}


VARIABLES_EXPRESSION = ("__import__('dikte.kernel.variables', fromlist=['summary'])"
                        ".summary(get_ipython().user_ns)")


async def variables(nb: OpenNotebook) -> dict[str, Any]:
    """``{variables: [{name, type, shape, value}], more}``: the Variables panel, from a silent
    request (no history, no execution count) that only reads the namespace. Refused while a
    cell runs or waits: it would wait behind them; the panel asks again when they end."""
    channel = _kernel(nb, "The variables list")
    if nb.running is not None or not nb.idle.is_set():
        raise DikteError("The kernel is running a cell; the variables are listed when it ends.",
                         code="kernel_busy", status=409)
    reply = await _ask_shell(channel, {
        "code": "", "silent": True, "store_history": False,
        "user_expressions": {"v": VARIABLES_EXPRESSION},
        "allow_stdin": False, "stop_on_error": False})
    result = (reply.get("user_expressions") or {}).get("v") or {}
    data = (result.get("data") or {}).get("application/json")
    if result.get("status") != "ok" or not isinstance(data, dict):
        raise DikteError("The kernel could not list its variables: "
                         f"{result.get('ename', 'no answer')}: {result.get('evalue', '')}",
                         code="kernel_error", status=502)
    rows = [{k: str(row.get(k, "")) for k in ("name", "type", "shape", "value")}
            for row in data.get("variables", []) if isinstance(row, dict)]
    return {"variables": rows, "more": int(data.get("more") or 0)}


async def _ask_shell(channel: Any, content: dict[str, Any]) -> dict[str, Any]:
    try:
        reply = await channel.request("shell", "execute_request", content, ASSIST_TIMEOUT)
    except KernelGone:
        raise RuntimeUnavailable(
            f"The kernel did not answer within {ASSIST_TIMEOUT:.0f} seconds. Interrupt or "
            "restart it, then try again.", code="kernel_busy") from None
    result: dict[str, Any] = reply["content"]
    return result

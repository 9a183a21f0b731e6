"""``google.colab.output`` in a Dikte runtime.

- ``eval_js(script)`` runs JavaScript in the cell's output area, inside its sandboxed frame (the
  cell's last HTML or JavaScript output, so functions an earlier ``display(Javascript(...))`` of
  the cell defined are there; a new frame when the cell has none), and returns the JSON of its
  value, awaited when it is a promise. The frame runs in an opaque origin: it cannot read the
  app's cookies or call its API.
- ``register_callback(name, function)``: JavaScript in the cell's output calls it with
  ``google.colab.kernel.invokeFunction(name, args, kwargs)``; the promise resolves to the
  function's result as a MIME bundle (``result.data['application/json']`` for an
  ``IPython.display.JSON``). What the function prints shows in that cell's output.
- ``clear()`` clears the cell's output (output tags are not kept: with ``output_tags`` it still
  clears all of it).
- ``no_vertical_scroll()``, ``enable_custom_widget_manager()`` and
  ``disable_custom_widget_manager()`` do nothing: output frames size to their content, and widgets
  need no third-party manager.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from . import _channel
from ._proxy import serve_kernel_port_as_iframe, serve_kernel_port_as_window  # noqa: F401

_callbacks: dict[str, Callable[..., Any]] = {}
_results: dict[str, Any] = {}


def eval_js(script: str, ignore_result: bool = False, timeout_sec: float | None = None) -> Any:
    """Evaluate ``script`` in the cell's output frame; return its JSON value.

    Raises ``MessageError`` with the JavaScript error, ``TimeoutException`` after
    ``timeout_sec`` seconds (None: wait until the page answers). With ``ignore_result`` it
    returns None at once."""
    return _channel.browser_request("eval_js", {"script": str(script), "wait": not ignore_result},
                                    timeout=timeout_sec, wait=not ignore_result,
                                    what="eval_js()")


def register_callback(function_name: str, callback: Callable[..., Any]) -> None:
    """Let the cell's JavaScript call ``callback`` as
    ``google.colab.kernel.invokeFunction(function_name, args, kwargs)``."""
    _callbacks[function_name] = callback


def unregister_callback(function_name: str) -> None:
    _callbacks.pop(function_name, None)


def _invoke_function(call_id: str, function_name: str, args_json: str, kwargs_json: str) -> None:
    """Called by Dikte's server when the page invokes a callback (see
    dikte.bridge.callbacks); the result waits for :func:`_take_result`."""
    callback = _callbacks.get(function_name)
    if callback is None:
        raise ValueError(f"No Python callback is registered as {function_name!r}; call "
                         f"google.colab.output.register_callback({function_name!r}, function) "
                         "in the notebook first.")
    _results[call_id] = callback(*json.loads(args_json), **json.loads(kwargs_json))


def _take_result(call_id: str) -> Any:
    return _results.pop(call_id, None)


def clear(wait: bool = False, output_tags: str | Iterable[str] = ()) -> None:
    """Clear the output of the cell this runs in (all of it: output tags are not kept)."""
    from IPython.display import clear_output

    clear_output(wait=wait)  # type: ignore[no-untyped-call]


def no_vertical_scroll() -> None:
    """Nothing to do: output frames grow with their content."""


def enable_custom_widget_manager(*args: Any, **kwargs: Any) -> None:
    """Nothing to do in Dikte."""


def disable_custom_widget_manager() -> None:
    """Nothing to do in Dikte."""

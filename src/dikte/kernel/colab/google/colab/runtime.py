"""``google.colab.runtime`` in a Dikte runtime."""

from __future__ import annotations

from . import _channel, errors


def unassign() -> None:
    """End this runtime, as "Disconnect and delete runtime" does: every process stops and
    /content is deleted (your drive is kept). The session records "The notebook's code ended
    its runtime." and the notebook's page shows it. Raises ``RuntimeManagementError`` when the
    server refuses; under `dikte run`, with no server to ask, a ``NotImplementedError`` whose
    sentence says so."""
    try:
        _channel.call("POST", "/unassign", {}, what="runtime.unassign()")
    except _channel.NoServer:
        raise
    except _channel.MessageError as exc:
        raise errors.RuntimeManagementError(str(exc)) from None

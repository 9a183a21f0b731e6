"""WebSocket messages for one open notebook, as tagged unions on ``type``.

Client -> server: ``execute``, ``edit``, ``interrupt``, ``cancel``, ``restart``, ``input_reply``,
``activity``.
Server -> client: ``snapshot`` first, then deltas: ``edited``, ``cell_state``, ``output``,
``execution_count``, ``input_request``, ``input_done``, ``runtime``, ``notice``, ``error``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from dikte.schemas.rest import EditOp


class ExecuteMsg(BaseModel):
    type: Literal["execute"]
    cell_id: str
    source_hash: str | None = Field(None, description="sha256 hex of the source the client ran.")


class EditMsg(BaseModel):
    type: Literal["edit"]
    ops: list[EditOp]


class InterruptMsg(BaseModel):
    type: Literal["interrupt"]


class CancelMsg(BaseModel):
    type: Literal["cancel"]
    cell_ids: list[str] | None = None


class RestartMsg(BaseModel):
    type: Literal["restart"]


class InputReplyMsg(BaseModel):
    type: Literal["input_reply"]
    value: str


class ActivityMsg(BaseModel):
    """The person is here (e.g. answered "Are you still there?"): the idle clock restarts."""

    type: Literal["activity"]


ClientMessage = Annotated[
    ExecuteMsg | EditMsg | InterruptMsg | CancelMsg | RestartMsg | InputReplyMsg | ActivityMsg,
    Field(discriminator="type"),
]


class ServerMessage(BaseModel):
    """Every server message is ``{"type": ..., **fields}``; fields per type are documented in
    docs/api.md. Kept as a loose model because deltas are produced on the hot path."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)

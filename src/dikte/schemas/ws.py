"""WebSocket messages for one open notebook, as tagged unions on ``type``.

Client -> server: ``execute``, ``edit``, ``interrupt``, ``cancel``, ``restart``, ``input_reply``,
``activity``, ``channel_ready``, ``channel_reply``, ``invoke_function``, ``complete``, ``inspect``,
``variables``, ``comm_msg``.
Server -> client: ``snapshot`` first, then deltas: ``edited``, ``cell_state``, ``output``,
``execution_count``, ``input_request``, ``input_done``, ``runtime``, ``notice``, ``error``;
``help`` (a ``name?`` page); to one tab only: ``channel_request``, ``channel_done``,
``invoke_result``, ``complete_reply``, ``inspect_reply``, ``variables_reply``, ``comm_idle``;
widgets: ``comm_open``, ``comm_msg``, ``comm_close``, ``widgets_gone``, ``widgets_restored``.
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


class ChannelReadyMsg(BaseModel):
    """This tab answers requests of the notebook's code (eval_js, files.upload, files.download)."""

    type: Literal["channel_ready"]


class ChannelReplyMsg(BaseModel):
    """The answer to a ``channel_request``: a JSON ``value``, or an ``error`` sentence."""

    type: Literal["channel_reply"]
    request_id: str
    value: Any = None
    error: str | None = None


class InvokeFunctionMsg(BaseModel):
    """A cell's output frame called ``google.colab.kernel.invokeFunction``."""

    type: Literal["invoke_function"]
    call_id: str = Field(max_length=100)
    cell_id: str
    name: str = Field(max_length=1000)
    args: list[Any] = Field(default_factory=list)
    keywords: dict[str, Any] = Field(default_factory=dict, description="The kwargs.")


class CompleteMsg(BaseModel):
    """Completions at ``cursor_pos`` in ``code``; answered by ``complete_reply`` with the same
    ``request_id`` (``matches``, ``cursor_start``, ``cursor_end``, ``types``, or ``error``)."""

    type: Literal["complete"]
    request_id: str = Field(max_length=100)
    code: str
    cursor_pos: int = Field(ge=0)


class InspectMsg(BaseModel):
    """Help for the name at ``cursor_pos``; answered by ``inspect_reply`` (``found``, ``data``
    a MIME bundle, or ``error``)."""

    type: Literal["inspect"]
    request_id: str = Field(max_length=100)
    code: str
    cursor_pos: int = Field(ge=0)
    detail_level: Literal[0, 1] = 0


class VariablesMsg(BaseModel):
    """The Variables panel's rows; answered by ``variables_reply`` (``variables``: name, type,
    shape, value; ``more``: names left out; or ``error``, e.g. while a cell runs)."""

    type: Literal["variables"]
    request_id: str = Field(max_length=100)


class CommMsgMsg(BaseModel):
    """A widget's message to its model in the kernel (a changed value, a click): ``data`` as
    Jupyter's ``comm_msg`` carries it, binary ``buffers`` as base64. The kernel answers with
    ``comm_msg`` (the state it accepted, to every viewer) and ``comm_idle`` to this tab."""

    type: Literal["comm_msg"]
    msg_id: str = Field(max_length=100)
    comm_id: str = Field(max_length=100)
    data: dict[str, Any]
    buffers: list[str] = Field(default_factory=list)


ClientMessage = Annotated[
    ExecuteMsg | EditMsg | InterruptMsg | CancelMsg | RestartMsg | InputReplyMsg | ActivityMsg
    | ChannelReadyMsg | ChannelReplyMsg | InvokeFunctionMsg | CompleteMsg | InspectMsg
    | VariablesMsg | CommMsgMsg,
    Field(discriminator="type"),
]


class ServerMessage(BaseModel):
    """Every server message is ``{"type": ..., **fields}``; fields per type are documented in
    docs/api.md. Kept as a loose model because deltas are produced on the hot path."""

    type: str
    data: dict[str, Any] = Field(default_factory=dict)

"""Wire types of the runtime channel: what code in a runtime sends to the control plane
(``/api/runtime-channel/{runtime_id}/...``, see docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

_PARENT = Field(None, description="msg_id of the kernel request the code runs in (its parent "
                "header); it decides which cell's output area the request belongs to.")

_MARKER = Field(None, description="Token of the marker message the kernel published on iopub just "
                "before this request: the request is opened once the server has read it, so "
                "the outputs the cell displayed before it reach the page first.")


class EvalJsRequest(BaseModel):
    """Evaluate JavaScript in a sandboxed frame of the cell's output area."""

    kind: Literal["eval_js"]
    script: str = Field(description="JavaScript; its completion value (awaited when a promise) "
                        "is the answer, as JSON.")
    wait: bool = Field(True, description="False: the kernel will not read the answer "
                       "(eval_js(ignore_result=True)).")
    parent: str | None = _PARENT
    marker: str | None = _MARKER


class UploadRequest(BaseModel):
    """Let the person choose files; the page uploads them into ``directory``."""

    kind: Literal["upload"]
    directory: str = Field(description="Absolute path, as the kernel sees it, of an empty folder "
                           "in /content the files are uploaded into.")
    parent: str | None = _PARENT
    marker: str | None = _MARKER


class DownloadRequest(BaseModel):
    """Make the page download a file of the runtime."""

    kind: Literal["download"]
    path: str = Field(description="Absolute path, as the kernel sees it, of a file in /content.")
    parent: str | None = _PARENT
    marker: str | None = _MARKER


ChannelRequestBody = Annotated[EvalJsRequest | UploadRequest | DownloadRequest,
                               Field(discriminator="kind")]


class ChannelRequestOpened(BaseModel):
    request_id: str


class ChannelAnswer(BaseModel):
    done: bool = Field(description="False: no answer yet; ask again.")
    value: Any = Field(None, description="The answer (JSON), when done without error.")
    error: str | None = Field(None, description="Why the page could not do it, when done.")


class Unassigned(BaseModel):
    status: Literal["ending"]

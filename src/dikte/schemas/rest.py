"""REST request and response bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field


class ErrorBody(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. not_found, bad_path.")
    message: str = Field(description="A sentence for the person: what happened and what to do.")
    status: int


class ErrorResponse(BaseModel):
    """The one error shape of the whole API."""

    error: ErrorBody


class Health(BaseModel):
    status: Literal["ok"]
    version: str


class Me(BaseModel):
    id: int
    name: str
    is_admin: bool


class LoginBody(BaseModel):
    """Sign in with a name and password, or with a personal API token."""

    name: str | None = Field(None, max_length=200)
    password: str | None = Field(None, max_length=1000)
    token: str | None = Field(None, max_length=200,
                              description="A personal API token instead of name and password.")


Scope = Literal["read", "write", "admin"]


def _read_write() -> list[Scope]:
    return ["read", "write"]


class PersonInfo(BaseModel):
    id: int
    name: str
    is_admin: bool
    tier: str = Field(description="The name of the person's tier (see docs/tiers.md).")
    disabled: bool
    has_password: bool
    created_at: float


class NewPerson(BaseModel):
    name: str = Field(description="1 to 100 letters, digits or . _ @ + -")
    password: str | None = Field(None, description="At least 8 characters; without one the "
                                 "person signs in with a token until a password is set.")
    is_admin: bool = False
    tier: str = "free"


class PersonChange(BaseModel):
    """Only the fields given change. Disabling revokes every session and token at once."""

    tier: str | None = None
    disabled: bool | None = None
    is_admin: bool | None = None
    password: str | None = None


class ApiToken(BaseModel):
    id: int
    name: str
    scopes: list[Scope]
    created_at: float
    expires_at: float | None
    last_used_at: float | None


class NewApiToken(BaseModel):
    name: str = Field(min_length=1, max_length=200, description="What the token is for.")
    scopes: list[Scope] = Field(
        default_factory=_read_write,
        description="read: GET and HEAD only; write: everything a person may do (includes "
        "read); admin: the admin endpoints too (includes write; administrators only).")
    expires_in_days: float | None = Field(None, gt=0, le=3650,
                                          description="Omit for a token that never expires.")


class IssuedApiToken(ApiToken):
    token: str = Field(description="The secret: shown only this once, stored only hashed.")


class DriveEntry(BaseModel):
    name: str
    path: str
    kind: Literal["dir", "notebook", "file"]
    size: int
    modified: float


class DriveListing(BaseModel):
    path: str
    entries: list[DriveEntry]


class PathBody(BaseModel):
    path: str = Field(description="Drive-relative path, e.g. Notebooks/intro.ipynb")


class RenameBody(BaseModel):
    src: str
    dst: str


class Image(BaseModel):
    name: str
    description: str
    default: bool


class CellState(BaseModel):
    state: Literal["idle", "queued", "running"]
    position: int | None = Field(None, description="Place in the queue (1 = next) while queued.")
    last_status: Literal["ok", "error", "cancelled", "interrupted"] | None = None


class RuntimeInfo(BaseModel):
    runtime_id: str
    image: str
    shape: str = "standard"
    background: bool = False
    status: Literal["starting", "connected", "restarting"]
    started_at: float
    memory_bytes: int | None = None
    memory_limit: int | None = None
    disk_bytes: int | None = None
    disk_limit: int | None = None


class NotebookView(BaseModel):
    """An open notebook as the server holds it."""

    path: str
    notebook: dict[str, Any] = Field(description="The nbformat 4 document.")
    cells: dict[str, CellState] = Field(description="Queue state of each cell by cell id.")
    runtime: RuntimeInfo | None
    pending_input: dict[str, Any] | None = None


class EditOp(BaseModel):
    """One edit: insert, delete, move, set_source, set_type, clear_outputs."""

    op: Literal["insert", "delete", "move", "set_source", "set_type", "clear_outputs"]
    cell_id: str | None = Field(None, description="The cell edited (all ops but insert).")
    index: int | None = Field(None, description="Target index for insert and move.")
    cell_type: Literal["code", "markdown", "raw"] | None = None
    source: str | None = None


class EditBody(BaseModel):
    path: str
    ops: list[EditOp]


class EditResult(BaseModel):
    inserted: list[str] = Field(description="Ids of inserted cells, in op order.")


class RunBody(BaseModel):
    path: str
    cell_ids: list[str] = Field(default_factory=list, description="Cells to run, in this order.")
    mode: Literal["cells", "all", "before", "after"] = "cells"
    anchor: str | None = Field(None, description="For before/after: the cell they are relative to.")
    source_hashes: dict[str, str] = Field(
        default_factory=dict,
        description="Optional sha256 of the source the client saw, by cell id; a mismatch "
        "is refused.",
    )


class RunResult(BaseModel):
    queued: list[str]


class CancelBody(BaseModel):
    path: str
    cell_ids: list[str] | None = Field(None, description="Queued cells to cancel; none means all.")


class InputBody(BaseModel):
    path: str
    value: str


class ConnectBody(BaseModel):
    path: str
    image: str | None = None
    shape: Literal["standard", "high_ram"] = Field(
        "standard", description="Runtime shape: standard or high-RAM (the tier sets their RAM).")
    background: bool = Field(
        False, description="Keep running with no browser connected (tiers with background "
        "execution only).")


class SessionInfo(BaseModel):
    runtime_id: str
    notebook_path: str
    image: str
    shape: str = "standard"
    background: bool = False
    backend: str
    started_at: float
    busy: bool
    memory_bytes: int | None
    memory_limit: int | None
    disk_bytes: int | None
    disk_limit: int | None


class AdminSessionInfo(SessionInfo):
    """A session as administrators see it: whose it is too."""

    person_id: int
    person_name: str


class RuntimeDirBody(BaseModel):
    path: str = Field(description="The notebook whose runtime is meant.")
    dir: str = Field(description="Folder relative to /content, e.g. data or drive/MyDrive/x.")


class RuntimeFileBody(BaseModel):
    path: str = Field(description="The notebook whose runtime is meant.")
    file: str = Field(description="File or folder relative to /content.")


class UploadStart(BaseModel):
    target: Literal["drive", "runtime"] = Field(
        description="drive: path is in your drive; runtime: path is relative to the /content "
        "of the notebook's runtime.")
    notebook: str | None = Field(None, description="For target runtime: the notebook whose "
                                 "runtime receives the file.")
    path: str = Field(description="Where the file goes.")
    size: int = Field(ge=0, description="Total bytes the upload will carry.")
    overwrite: bool = Field(True, description="Replace a file already there.")


class UploadInfo(BaseModel):
    upload_id: str
    offset: int = Field(description="Bytes received so far; the next chunk starts here.")
    size: int
    chunk_size: int = Field(description="Recommended bytes per chunk.")


class UploadStatus(BaseModel):
    offset: int = Field(description="Bytes received so far; the next chunk starts here.")
    size: int

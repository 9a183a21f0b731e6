"""REST request and response bodies."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator


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
    next: str | None = Field(None, description="Where the web app goes after signing in; kept "
                             "only when it is a path on this server (else the drive).")


class SignedIn(Me):
    """The person now signed in, and where the web app goes next."""

    next: str = Field(description="A path on this server: the sign-in's safe `next`, or the "
                      "drive.")


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
    tier: str | None = Field(None, description="Their tier; the configured default_tier if none.")


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
    """A runtime image, as Change runtime type shows it (Colab's "runtime version")."""

    name: str
    description: str
    default: bool = Field(description="New runtimes use it unless one asks for another.")
    built: bool = Field(
        description="A runtime can use it now: built (an image Dikte builds) or its python "
        "exists (an environment the admin brings). A connect to an image that is not built is "
        "refused with code image_not_built.")
    version: str | None = Field(
        None, description="The built image's version: a short hash of its requirements and "
        "Python version, changed by every rebuild with other packages; null when not built or "
        "not built by Dikte.")
    python_version: str | None = Field(None, description="Its Python, such as 3.11.7, when built.")
    packages: int | None = Field(None, description="How many packages it has, when built.")
    built_at: str | None = Field(None, description="When it was built (ISO 8601, UTC).")
    build_command: str | None = Field(
        None, description="What an administrator runs on the server to build it, when it is "
        "not built: dikte image build NAME.")


class CellState(BaseModel):
    state: Literal["idle", "queued", "running"]
    position: int | None = Field(None, description="Place in the queue (1 = next) while queued.")
    last_status: Literal["ok", "error", "cancelled", "interrupted"] | None = None


class AcceleratorInfo(BaseModel):
    """An accelerator a runtime holds, with its use when the driver reports it."""

    id: str
    type: str
    model: str
    memory_total: int | None = None
    memory_used: int | None = None
    utilization: int | None = Field(None, description="GPU utilization in percent.")


class RuntimeInfo(BaseModel):
    runtime_id: str
    image: str
    shape: str = "standard"
    background: bool = False
    status: Literal["queued", "starting", "connected", "restarting"] = Field(
        description="queued: waiting for a free accelerator (see queue_position).")
    started_at: float
    queue_position: int | None = Field(
        None, description="While queued: place in the line for this accelerator type, or for "
        "room in the cluster (1 = next).")
    waiting_for: str | None = Field(
        None, description="While queued: what for, in words: \"a T4\", or \"a machine with "
        "room\" when the cluster has none free for the runtime's demands yet.")
    accelerators: list[AcceleratorInfo] = Field(default_factory=list)
    memory_bytes: int | None = None
    memory_limit: int | None = None
    disk_bytes: int | None = None
    disk_limit: int | None = None
    node: str = Field("", description="The cluster node it runs on; empty on one machine.")


class NotebookView(BaseModel):
    """An open notebook as the server holds it."""

    path: str
    notebook: dict[str, Any] = Field(description="The nbformat 4 document.")
    cells: dict[str, CellState] = Field(description="Queue state of each cell by cell id.")
    runtime: RuntimeInfo | None
    pending_input: dict[str, Any] | None = None
    widgets: dict[str, Any] = Field(
        default_factory=dict,
        description="Jupyter widget models by id: model_name, model_module, "
        "model_module_version, state, buffers (as in widget-state+json) and live (backed by "
        "the running kernel; otherwise the last state of a kernel that is gone).")


def _is_text(value: Any) -> bool:
    """Whether every string in ``value`` (JSON data) is valid Unicode; walked without recursion."""
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return False
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
        elif isinstance(item, list):
            todo.extend(item)
    return True


class EditOp(BaseModel):
    """One edit: insert, delete, move, set_source, set_type, clear_outputs, set_metadata."""

    op: Literal["insert", "delete", "move", "set_source", "set_type", "clear_outputs",
                "set_metadata"]
    cell_id: str | None = Field(None, description="The cell edited (all ops but insert).")
    index: int | None = Field(None, description="Target index for insert and move.")
    cell_type: Literal["code", "markdown", "raw"] | None = None
    source: str | None = None
    metadata: dict[str, Any] | None = Field(
        None, description="For set_metadata: keys to set in the cell's metadata; a null value "
        "removes the key (e.g. {\"cellView\": \"form\"} hides a form's code, as Colab stores it).")

    @field_validator("source", "metadata")
    @classmethod
    def _only_text(cls, value: Any) -> Any:
        """Refuse an unpaired surrogate (``"\\udc80"``): JSON can carry one, a notebook file
        cannot store it."""
        if not _is_text(value):
            raise ValueError("it holds an unpaired surrogate (such as \\udc80), which is not "
                             "text; send valid Unicode")
        return value


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


class CompleteBody(BaseModel):
    path: str
    code: str = Field(description="The cell's source (or any code) to complete in.")
    cursor_pos: int | None = Field(None, ge=0, description="Where the cursor is, in "
                                   "characters (Unicode code points); default the end.")


class CompleteResult(BaseModel):
    matches: list[str]
    cursor_start: int = Field(description="The completed text replaces code[cursor_start:cursor_end].")
    cursor_end: int
    types: list[str] = Field(description="One per match: function, module, instance, keyword... "
                             "or empty where the kernel does not say.")


class InspectBody(BaseModel):
    path: str
    code: str
    cursor_pos: int | None = Field(None, ge=0, description="Default the end of the code.")
    detail_level: Literal[0, 1] = Field(0, description="0 as `name?`, 1 as `name??` (source).")


class InspectResult(BaseModel):
    found: bool
    data: dict[str, Any] = Field(description="A MIME bundle: text/plain (with ANSI colours), "
                                 "often text/html.")


class InputBody(BaseModel):
    path: str
    value: str


class ConnectBody(BaseModel):
    path: str
    image: str | None = None
    shape: str = Field(
        "standard", pattern=r"^[A-Za-z0-9_.-]{1,100}$",
        description="Runtime shape: standard, high_ram or an accelerator type such as T4 "
        "(GET /api/shapes lists what this server offers). Waits in line when none is free.")
    background: bool = Field(
        False, description="Keep running with no browser connected (tiers with background "
        "execution only).")


class SessionInfo(BaseModel):
    runtime_id: str
    notebook_path: str
    image: str
    shape: str = "standard"
    background: bool = False
    status: str = "connected"
    queue_position: int | None = None
    accelerators: list[AcceleratorInfo] = Field(default_factory=list)
    backend: str
    started_at: float
    busy: bool
    memory_bytes: int | None
    memory_limit: int | None
    disk_bytes: int | None
    disk_limit: int | None
    node: str = Field("", description="The cluster node it runs on; empty on one machine.")


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


class ImportBody(BaseModel):
    """Copy a notebook from a URL or a git repository into the drive."""

    url: str = Field(max_length=2000, description="An .ipynb URL (http or https), a "
                     "github.com/<user>/<repo>/blob/<ref>/<path> link, or, with repo_path, a git "
                     "repository (https, http or git).")
    repo_path: str | None = Field(None, max_length=1000,
                                  description="The notebook's path inside the git repository.")
    ref: str | None = Field(None, max_length=250,
                            description="Branch or tag of the repository (its default if none).")
    folder: str = Field("Notebooks", max_length=1000,
                        description="Drive folder the copy is saved in.")


class ShapeOffer(BaseModel):
    """A runtime type this server offers, and whether the person's tier allows it."""

    shape: str = Field(description="What to pass as ConnectBody.shape.")
    label: str
    accelerator: str | None = Field(None, description="Accelerator type; none for CPU shapes.")
    devices: int = Field(0, description="Accelerators of this type on the server.")
    free: int = Field(0, description="Of those, free now.")
    waiting: int = Field(0, description="Requests waiting in line for this type.")
    memory: int | None = Field(None, description="RAM of such a runtime in the person's tier.")
    allowed: bool
    reason: str | None = Field(None, description="Why not, naming a tier that has it.")


# ---- secrets (docs/api.md "Secrets") and the port proxy ("Serving a runtime's port") ----

SECRET_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.-]{0,99}$"
SECRET_MAX_CHARS = 65536


class SecretEntry(BaseModel):
    """A secret as listings show it: never its value."""

    name: str
    created_at: float
    updated_at: float
    notebooks: list[str] = Field(description="The notebooks (drive paths) granted access.")


class SecretValueBody(BaseModel):
    value: str = Field(max_length=SECRET_MAX_CHARS,
                       description="The secret's value; stored encrypted, never listed.")


class SecretAccessBody(BaseModel):
    """Colab's "Notebook access" toggle: may this notebook's runtime read the secret?"""

    path: str = Field(min_length=1, max_length=4096, description="The notebook (.ipynb).")
    granted: bool


class SecretReply(BaseModel):
    """A runtime's answer about one secret, as Colab's ``GetSecret`` reply has it."""

    name: str
    exists: bool = Field(description="The runtime's person has a secret of this name.")
    access: bool = Field(description="It is granted to the runtime's notebook.")
    value: str | None = Field(None, description="The value, when it exists and is granted.")
    message: str | None = Field(None, description="Otherwise, a sentence for the person: what "
                                "is missing and where to fix it.")


class ServePortBody(BaseModel):
    port: int = Field(ge=1025, le=65535, description="A port of the runtime, above 1024.")


class ServedPort(BaseModel):
    runtime_id: str
    port: int


class ProxyCapabilityBody(BaseModel):
    runtime_id: str = Field(min_length=1, max_length=64)
    port: int = Field(ge=1025, le=65535)
    path: str = Field("/", max_length=2000, description="Path (and query) on the port to open.")


class ProxyCapability(BaseModel):
    url: str = Field(description="Same-origin URL of the proxied page, capability included.")
    expires_at: float = Field(description="Unix time after which the URL is refused.")


InvitationStatus = Literal["pending", "used", "expired", "revoked"]


class InvitationInfo(BaseModel):
    id: int
    name: str = Field(description="The name the person will sign in with.")
    tier: str
    is_admin: bool
    invited_by: str | None = Field(description="The administrator who invited them.")
    created_at: float
    expires_at: float
    used_at: float | None
    revoked_at: float | None
    status: InvitationStatus


class NewInvitation(BaseModel):
    name: str = Field(max_length=200, description="1 to 100 letters, digits or . _ @ + -")
    tier: str | None = Field(None, max_length=100,
                             description="Their tier; the default tier when omitted.")
    is_admin: bool = False
    expires_in_days: float = Field(7, gt=0, le=30,
                                   description="How long the link works (at most 30 days).")


class IssuedInvitation(InvitationInfo):
    code: str = Field(description="The secret of the link: shown only this once, stored only "
                      "hashed.")
    link: str = Field(description="What to send the person: this server's /invite page with "
                      "the code in the fragment (#), which browsers never send to a server.")


class InvitationCode(BaseModel):
    code: str = Field(min_length=1, max_length=200)


class InvitationPreview(BaseModel):
    name: str
    expires_at: float


class AcceptInvitation(BaseModel):
    code: str = Field(min_length=1, max_length=200)
    password: str = Field(max_length=1000, description="At least 8 characters.")

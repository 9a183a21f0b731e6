"""Jupyter widgets of one open notebook: the server keeps their state and relays their messages.

The server is the kernel's only client, so it does what a Jupyter front end's widget manager does
with the kernel's side: it follows every ``jupyter.widget`` comm (open, update, close), keeps each
model's state, hands that state to every viewer that joins, relays each viewer's changes to the
kernel, and writes the state into the notebook's metadata the standard way
(``metadata.widgets["application/vnd.jupyter.widget-state+json"]``), so a reopened notebook and
``dikte run``'s output show each widget as it last was.

An ``Output`` widget captures what the kernel prints while its ``msg_id`` is set (``with out:``,
``interact``); in JupyterLab its view grabs those messages from the kernel. Here the server does:
output messages whose parent is a capturing widget's ``msg_id`` go into that widget's ``outputs``
state, not into the cell.

Binary buffers (an ``Image`` widget's bytes, ``FileUpload``'s files) travel as base64 text: the
notebook's WebSocket carries JSON only. Pure apart from the clock-free bookkeeping: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import copy
import html
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from dikte.errors import BadRequest, Conflict
from dikte.execution.outputs import DisplayRegistry, OutputLimits, OutputRecorder

TARGET = "jupyter.widget"
CONTROL_TARGET = "jupyter.widget.control"
"""ipywidgets' comm for the whole manager: ``request_states`` answers every model's state."""
STATE_MIME = "application/vnd.jupyter.widget-state+json"
VIEW_MIME = "application/vnd.jupyter.widget-view+json"
OUTPUT_MODEL = ("OutputModel", "@jupyter-widgets/output")
RELAYED_KEPT = 1000
"""Relayed messages remembered for their echo and their idle status (the oldest are forgotten:
their only use is to let a tab's widget stop waiting)."""
MAX_BUFFERS = 64


Path = tuple[str | int, ...]


@dataclass
class Model:
    model_name: str
    model_module: str
    model_module_version: str
    state: dict[str, Any]
    buffers: dict[Path, str] = field(default_factory=dict)
    """base64 of each binary value, by its path in the state."""
    live: bool = True
    """Backed by a comm of the running kernel; otherwise the last state of a kernel gone."""
    recorder: OutputRecorder | None = None

    def serialised(self) -> dict[str, Any]:
        """The model as the widget-state+json schema writes it."""
        out: dict[str, Any] = {"model_name": self.model_name, "model_module": self.model_module,
                               "model_module_version": self.model_module_version,
                               "state": self.state}
        if self.buffers:
            out["buffers"] = [{"path": list(p), "encoding": "base64", "data": d}
                              for p, d in self.buffers.items()]
        return out

    @property
    def is_output(self) -> bool:
        return (self.model_name, self.model_module) == OUTPUT_MODEL


def _paths(raw: Any) -> list[Path]:
    if not isinstance(raw, list):
        return []
    return [tuple(p) for p in raw if isinstance(p, list) and p
            and all(isinstance(x, str | int) for x in p)]


def _b64(buffers: list[bytes] | list[memoryview]) -> list[str]:
    return [base64.b64encode(bytes(b)).decode("ascii") for b in buffers]


def _split(data: dict[str, Any], buffers: list[str]) -> tuple[dict[str, Any], dict[Path, str]]:
    """A message's state and its buffers by path (a path with no buffer is dropped)."""
    state = data.get("state")
    state = dict(state) if isinstance(state, dict) else {}
    return state, dict(zip(_paths(data.get("buffer_paths")), buffers, strict=False))


class WidgetStore:
    """The widget models of one notebook, live and saved."""

    def __init__(self, limits: OutputLimits, saved: Any = None) -> None:
        self.limits = limits
        self.models: dict[str, Model] = {}
        self.capturing: dict[str, list[str]] = {}
        """Output widgets capturing a kernel message's output: its msg_id -> model ids, the
        last entered last (``with`` blocks nest)."""
        self.relayed: OrderedDict[str, tuple[Any, str]] = OrderedDict()
        """msg_id sent to the kernel -> (the viewer that sent it, the id that viewer gave it)."""
        self.changed = False
        """Something to save since the last :meth:`saved_state`."""
        self.control: str | None = None
        """The control comm this server opened to ask for every state, until it answers."""
        self._load(saved)

    # loading and saving

    def _load(self, saved: Any) -> None:
        state = saved.get(STATE_MIME) if isinstance(saved, dict) else None
        models = state.get("state") if isinstance(state, dict) else None
        if not isinstance(models, dict):
            return
        for model_id, raw in models.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("state"), dict):
                continue
            buffers: dict[Path, str] = {}
            for b in raw.get("buffers") or []:
                if isinstance(b, dict) and isinstance(b.get("data"), str) and _paths([b.get("path")]):
                    buffers[_paths([b["path"]])[0]] = b["data"]
            self.models[str(model_id)] = Model(
                str(raw.get("model_name", "")), str(raw.get("model_module", "")),
                str(raw.get("model_module_version", "")), dict(raw["state"]), buffers, live=False)

    def saved_state(self, cells: list[Any]) -> dict[str, Any] | None:
        """The notebook's ``metadata.widgets``: the models its outputs show (and the models
        those refer to), or None when there are none. Models nothing shows any more, and whose
        kernel is gone, are forgotten."""
        self.changed = False
        keep = self.reachable(cells)
        for model_id in [m for m, model in self.models.items() if not model.live
                         and m not in keep]:
            del self.models[model_id]
        if not keep:
            return None
        return {STATE_MIME: {"version_major": 2, "version_minor": 0, "state": {
            m: self.models[m].serialised() for m in sorted(keep)}}}

    def reachable(self, cells: list[Any]) -> set[str]:
        """Ids of the models the cells' outputs show, and of every model those refer to."""
        todo: list[str] = []
        for cell in cells:
            _views(cell.get("outputs") or [], todo)
        seen: set[str] = set()
        while todo:
            model_id = todo.pop()
            model = self.models.get(model_id)
            if model_id in seen or model is None:
                continue
            seen.add(model_id)
            _refs(model.state, todo)
            if model.is_output:
                _views(model.state.get("outputs") or [], todo)
        return seen

    def snapshot(self) -> dict[str, Any]:
        """Every model for a viewer that joins: the serialised form plus ``live``."""
        return {m: {**model.serialised(), "live": model.live} for m, model in self.models.items()}

    # from the kernel

    def on_kernel(self, msg_type: str, content: dict[str, Any], buffers: list[bytes],
                  parent_id: str) -> dict[str, Any] | None:
        """A comm message from the kernel -> the message for the viewers (None: not a widget's)."""
        comm_id = str(content.get("comm_id", ""))
        data = content.get("data") if isinstance(content.get("data"), dict) else {}
        assert isinstance(data, dict)
        encoded = _b64(buffers[:MAX_BUFFERS])
        if msg_type == "comm_open":
            if content.get("target_name") != TARGET:
                return None
            state, bufs = _split(data, encoded)
            old = self.models.get(comm_id)
            if old is not None and old.is_output:
                self._stop_capture(comm_id, old.state.get("msg_id"))
            model = Model(str(state.get("_model_name", "")), str(state.get("_model_module", "")),
                          str(state.get("_model_module_version", "")), state, bufs)
            self.models[comm_id] = model
            self.changed = True
            if model.is_output:
                self._capture(comm_id, None, state.get("msg_id"))
            return {"type": "comm_open", "comm_id": comm_id, "target_name": TARGET,
                    "data": data, "metadata": content.get("metadata") or {}, "buffers": encoded}
        if comm_id == self.control and self.control is not None:
            return self._restored(msg_type, data, encoded)
        found = self.models.get(comm_id)
        if found is None or not found.live:
            return None
        model = found
        if msg_type == "comm_close":
            if model.is_output:
                self._stop_capture(comm_id, model.state.get("msg_id"))
            del self.models[comm_id]
            self.changed = True
            return {"type": "comm_close", "comm_id": comm_id}
        if data.get("method") in ("update", "echo_update"):
            state, bufs = _split(data, encoded)
            self._update(comm_id, model, state, bufs)
        relayed = self.relayed.get(parent_id)
        return {"type": "comm_msg", "comm_id": comm_id, "data": data, "buffers": encoded,
                "parent": relayed[1] if relayed else parent_id}

    def _update(self, comm_id: str, model: Model, state: dict[str, Any],
                buffers: dict[Path, str]) -> None:
        if model.is_output and "msg_id" in state:
            self._capture(comm_id, model.state.get("msg_id"), state["msg_id"])
        if model.is_output and "outputs" in state:
            model.recorder = None  # the kernel set them itself (out.clear_output, append_stdout)
        model.state.update(state)
        for path in [p for p in model.buffers if p[0] in state]:
            del model.buffers[path]
        model.buffers.update(buffers)
        self.changed = True

    def _capture(self, comm_id: str, old: Any, new: Any) -> None:
        self._stop_capture(comm_id, old)
        if isinstance(new, str) and new:
            self.capturing.setdefault(new, []).append(comm_id)

    def _stop_capture(self, comm_id: str, msg_id: Any) -> None:
        stack = self.capturing.get(msg_id) if isinstance(msg_id, str) else None
        if stack and comm_id in stack:
            stack.remove(comm_id)
            if not stack:
                del self.capturing[msg_id]

    def capture(self, parent_id: str, msg_type: str,
                content: dict[str, Any]) -> dict[str, Any] | None:
        """An output message of a kernel request an Output widget captures: into its
        ``outputs``; returns the update for the viewers (None: no widget captures it)."""
        stack = self.capturing.get(parent_id)
        if not stack:
            return None
        comm_id = stack[-1]
        model = self.models[comm_id]
        outputs = model.state.get("outputs")
        if model.recorder is None or not isinstance(outputs, list):
            outputs = list(outputs) if isinstance(outputs, list) else []
            model.state["outputs"] = outputs
            model.recorder = OutputRecorder(f"widget:{comm_id}", outputs, self.limits,
                                            DisplayRegistry())
        if not model.recorder.apply(msg_type, content):
            return {}  # captured, nothing to show yet (clear_output(wait=True))
        self.changed = True
        return {"type": "comm_msg", "comm_id": comm_id, "parent": None, "buffers": [],
                "data": {"method": "update", "state": {"outputs": copy.copy(outputs)},
                         "buffer_paths": []}}

    def control_opened(self) -> str:
        self.control = uuid.uuid4().hex
        return self.control

    def _restored(self, msg_type: str, data: dict[str, Any],
                  buffers: list[str]) -> dict[str, Any] | None:
        """The kernel's answer to ``request_states``: every model it holds, live again."""
        control, self.control = self.control, None
        states = data.get("states")
        if msg_type != "comm_msg" or data.get("method") != "update_states" \
                or not isinstance(states, dict):
            return None  # no ipywidgets in that kernel (it closed the comm): nothing to restore
        by_model: dict[str, dict[Path, str]] = {}
        # one list of paths into the whole answer: [model_id, "state", key, ...]
        for path, buf in zip(_paths(data.get("buffer_paths")), buffers, strict=False):
            if len(path) > 2 and path[1] == "state":
                by_model.setdefault(str(path[0]), {})[path[2:]] = buf
        for model_id, raw in states.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("state"), dict):
                continue
            bufs = by_model.get(str(model_id), {})
            model = Model(str(raw.get("model_name", "")), str(raw.get("model_module", "")),
                          str(raw.get("model_module_version", "")), dict(raw["state"]), bufs)
            self.models[str(model_id)] = model
            if model.is_output:
                self._capture(str(model_id), None, model.state.get("msg_id"))
        self.changed = True
        return {"type": "widgets_restored", "control": control, "widgets": self.snapshot()}

    def kernel_gone(self) -> None:
        """The kernel restarted or stopped: its models keep their last state, without a comm."""
        for model in self.models.values():
            model.live = False
            model.recorder = None
        self.capturing.clear()
        self.relayed.clear()

    # from a viewer

    def from_viewer(self, comm_id: str, data: dict[str, Any], buffers: list[str],
                    ) -> list[bytes]:
        """A viewer's message to a widget's comm: checked, and applied to the kept state
        (the kernel echoes an update to every viewer). Returns the decoded buffers."""
        model = self.models.get(comm_id)
        if model is None or not model.live:
            raise Conflict("This widget is no longer connected to the runtime (its kernel "
                           "restarted, or its cell ran again); run the cell to use it again.",
                           code="widget_gone")
        if len(buffers) > MAX_BUFFERS:
            raise BadRequest(f"A widget message may carry at most {MAX_BUFFERS} binary "
                             "buffers.", code="bad_message")
        try:
            raw = [base64.b64decode(b, validate=True) for b in buffers]
        except (binascii.Error, ValueError):
            raise BadRequest("A widget message's buffers must be base64 text.",
                             code="bad_message") from None
        if data.get("method") == "update":
            state, bufs = _split(data, buffers)
            if model.is_output:
                state.pop("msg_id", None)  # capturing is the kernel's to say
            self._update(comm_id, model, state, bufs)
        return raw

    def remember(self, kernel_msg_id: str, viewer: Any, client_id: str) -> None:
        self.relayed[kernel_msg_id] = (viewer, client_id)
        while len(self.relayed) > RELAYED_KEPT:
            self.relayed.popitem(last=False)


def _views(outputs: list[Any], into: list[str]) -> None:
    for output in outputs:
        data = output.get("data") if isinstance(output, dict) else None
        view = data.get(VIEW_MIME) if isinstance(data, dict) else None
        if isinstance(view, dict) and isinstance(view.get("model_id"), str):
            into.append(view["model_id"])


def _refs(value: Any, into: list[str]) -> None:
    """``IPY_MODEL_<id>`` references anywhere in a state (children, layout, style, links)."""
    if isinstance(value, str):
        if value.startswith("IPY_MODEL_"):
            into.append(value[len("IPY_MODEL_"):])
    elif isinstance(value, dict):
        for v in value.values():
            _refs(v, into)
    elif isinstance(value, list):
        for v in value:
            _refs(v, into)


_TAG = re.compile(r"<[^>]*>")
_BAR_WIDTH = 10


def describe(models: dict[str, Any], model_id: str, depth: int = 0) -> str:
    """A widget as one line of text for a terminal (``dikte run``): what its view shows, e.g.
    ``100%|██████████| 50/50 [00:01<00:00, 40.1it/s]`` for a finished tqdm bar. ``models``
    maps ids to serialised models (``WidgetStore.snapshot()`` or saved metadata)."""
    model = models.get(model_id)
    if not isinstance(model, dict) or depth > 20:
        return ""
    name = str(model.get("model_name", ""))
    state = model.get("state") if isinstance(model.get("state"), dict) else {}
    assert isinstance(state, dict)
    if name == "OutputModel":
        parts = []
        for out in state.get("outputs") or []:
            if isinstance(out, dict) and out.get("output_type") == "stream":
                parts.append(str(out.get("text", "")))
            elif isinstance(out, dict) and isinstance(out.get("data"), dict):
                view = out["data"].get(VIEW_MIME)
                if isinstance(view, dict):
                    parts.append(describe(models, str(view.get("model_id")), depth + 1) + "\n")
                else:
                    parts.append(str(out["data"].get("text/plain", "")) + "\n")
        return "".join(parts).rstrip("\n")
    children = state.get("children")
    if isinstance(children, list):
        texts = [describe(models, str(c).removeprefix("IPY_MODEL_"), depth + 1)
                 for c in children]
        glue = "" if name == "HBoxModel" else "\n"
        return glue.join(t for t in texts if t)
    value = state.get("value")
    if name in ("FloatProgressModel", "IntProgressModel"):
        low, high = state.get("min", 0) or 0, state.get("max", 100) or 100
        try:
            done = (float(value or 0) - float(low)) / (float(high) - float(low))
        except (TypeError, ValueError, ZeroDivisionError):
            done = 0.0
        filled = max(0, min(_BAR_WIDTH, round(done * _BAR_WIDTH)))
        return "|" + "█" * filled + " " * (_BAR_WIDTH - filled) + "|"
    if name in ("HTMLModel", "LabelModel", "HTMLMathModel"):
        return re.sub(r"[\xa0\u2007]", " ", html.unescape(_TAG.sub("", str(value or ""))))
    if name == "ButtonModel":
        return f"[{state.get('description', '')}]"
    if value is None or name in ("LayoutModel",) or name.endswith("StyleModel"):
        return ""
    label = state.get("description")
    return f"{label} {value}" if label else str(value)

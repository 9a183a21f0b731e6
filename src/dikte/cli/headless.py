"""``dikte run NOTEBOOK``: run every cell headless, through the same engine and sandbox.

The runtime gets a fresh, empty drive holding a copy of the notebook and of each ``--with-drive``
file or folder (your own drive is not offered: a headless run touches nothing of yours but the
``-o`` file), and each ``--with`` file or folder in its working directory, ``/content``, where
Colab's uploads land too: ``files.upload()`` returns them. ``--secret NAME`` hands
``google.colab.userdata.get(NAME)`` the value of an environment variable. Outputs print as each
cell finishes; the exit code is 1 when a cell fails, and the failing cell, its output and
traceback are printed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from dikte.app import make_backend, prepare_data_dir
from dikte.config import Settings
from dikte.control.manager import build_spec, new_runtime_id, sandbox_uid
from dikte.control.runtime_link import RuntimeLink, link_of
from dikte.drive import Drive, notebooks
from dikte.errors import DikteError
from dikte.execution.outputs import OutputLimits
from dikte.images import catalog
from dikte.notebooks.document import code_cells
from dikte.notebooks.notebook import OpenNotebook
from dikte.notebooks.widgets import VIEW_MIME, describe

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def output_text(output: dict[str, Any], widgets: dict[str, Any] | None = None) -> str:
    """An output as a terminal shows it; a widget as it is now in ``widgets`` (the models by
    id), e.g. a tqdm bar at 100%."""
    kind = output.get("output_type")
    if kind == "stream":
        return str(output.get("text", ""))
    if kind == "error":
        return ANSI.sub("", "\n".join(output.get("traceback", []))) + "\n"
    data = output.get("data", {})
    view = data.get(VIEW_MIME)
    if widgets and isinstance(view, dict) and view.get("model_id") in widgets:
        shown = describe(widgets, str(view["model_id"]))
        if shown:
            return shown + "\n"
    if "text/plain" in data:
        return str(data["text/plain"]) + "\n"
    return f"[{', '.join(sorted(data))}]\n"


class _Owner:
    """Owns the one runtime of a headless run, as the server's SessionManager owns its
    runtimes (see RuntimeEvents): it alone gives the notebook its runtime and takes it away."""

    def attach(self, link: RuntimeLink) -> None:
        link.nb.runtime = link

    def runtime_detached(self, link: RuntimeLink) -> None:
        if link.nb.runtime is link:
            link.nb.runtime = None

    def runtime_ended(self, link: RuntimeLink) -> None:
        pass  # it holds nothing to give back: a headless run is granted no accelerator


_SECRET_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,99}")  # as the Secrets panel
_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def read_secrets(specs: Sequence[str], environ: Mapping[str, str]) -> dict[str, str] | str:
    """``--secret NAME`` or ``--secret NAME=VARIABLE`` -> {NAME: value of the variable}; or the
    sentence saying what is wrong."""
    secrets: dict[str, str] = {}
    for spec in specs:
        name, _, variable = spec.partition("=")
        variable = variable or name
        if not _SECRET_NAME.fullmatch(name):
            return (f"--secret {spec}: a secret's name is 1 to 100 letters, digits, _ . or -, "
                    "starting with a letter or _.")
        if not _VARIABLE.fullmatch(variable):
            return f"--secret {spec}: {variable} is not an environment variable's name."
        if variable not in environ:
            return (f"--secret {spec}: the environment has no variable {variable}; set it "
                    f"(export {variable}=...) or name another with --secret {name}=VARIABLE.")
        secrets[name] = environ[variable]
    return secrets


def run_notebook(settings: Settings, path: Path, output: Path | None, *, image: str | None,
                 timeout: float | None, with_paths: Sequence[Path] = (),
                 drive_paths: Sequence[Path] = (),
                 secrets: Mapping[str, str] | None = None) -> int:
    try:
        image = image or catalog.choose_default(settings)
        catalog.require_ready(settings, image)
        return asyncio.run(_run(settings, path, output, image,
                                timeout, with_paths, drive_paths, secrets or {}))
    except DikteError as exc:
        print(f"dikte run: {exc.message}", file=sys.stderr)
        return 2


def _copy_into(drive: Drive, source: Path) -> None:
    """``source`` (a file, or a folder and everything in it) into the top folder of ``drive``
    (the run's drive, or the runtime's /content)."""
    if not source.is_dir():
        drive.write_bytes(source.name, source.read_bytes())
        return
    drive.mkdir(source.name)
    for item in sorted(source.rglob("*")):
        rel = f"{source.name}/{item.relative_to(source).as_posix()}"
        if item.is_dir():
            drive.mkdir(rel)
        elif item.is_file():
            drive.write_bytes(rel, item.read_bytes())


async def _run(settings: Settings, path: Path, output: Path | None, image: str,
               timeout: float | None, with_paths: Sequence[Path], drive_paths: Sequence[Path],
               secrets: Mapping[str, str]) -> int:
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as exc:
        print(f"dikte run: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    prepare_data_dir(settings)
    with tempfile.TemporaryDirectory(prefix="dikte-run-") as tmp:
        drive = Drive(Path(tmp) / "drive", owner_uid=sandbox_uid(settings, 0))
        name = path.name if path.name.endswith(".ipynb") else path.name + ".ipynb"
        drive.write_bytes(name, data)
        for option, paths in (("--with", with_paths), ("--with-drive", drive_paths)):
            for extra in paths:
                if not extra.exists():
                    print(f"dikte run: {option} {extra}: no such file or folder",
                          file=sys.stderr)
                    return 2
        for extra in drive_paths:
            try:
                await asyncio.to_thread(_copy_into, drive, extra)
            except OSError as exc:
                print(f"dikte run: cannot copy {extra}: {exc.strerror}", file=sys.stderr)
                return 2
        doc = drive.read_notebook(name)
        nb = OpenNotebook(person_id=0, path=name, drive=drive, doc=doc,
                          limits=OutputLimits(settings.output_max_lines, settings.output_max_bytes),
                          save_interval=settings.save_interval_seconds, autosave=False)
        viewer = nb.join()
        # the run's drive is a folder of its own temporary drives volume
        backend = make_backend(settings.model_copy(update={"drives_dir": Path(tmp)}))
        rid = new_runtime_id()
        owner = _Owner()
        link = RuntimeLink(nb, backend=backend, db=None, events=owner, runtime_id=rid,
                           image=image, disk_limit=settings.runtime_disk,
                           disk_check_seconds=settings.disk_check_seconds)
        owner.attach(link)
        spec = build_spec(settings, nb, rid, image)
        # what google.colab offers with no server: these secrets, and the --with files as
        # files.upload()'s answer (kernel/colab/google/colab/userdata.py, files.py)
        spec = dataclasses.replace(spec, env={
            **spec.env, "DIKTE_RUN_SECRETS": json.dumps(dict(secrets)),
            "DIKTE_RUN_UPLOADS": json.dumps([p.name for p in with_paths if p.is_file()])})
        await link.launch(spec)
        if with_paths:
            assert link.handle is not None
            content = backend.content(link.handle)
            for extra in with_paths:
                try:
                    await asyncio.to_thread(_copy_into, content, extra)
                except (OSError, DikteError) as exc:
                    await link.shutdown("The headless run ended.")
                    why = exc.message if isinstance(exc, DikteError) else exc.strerror
                    print(f"dikte run: cannot copy {extra} into /content: {why}",
                          file=sys.stderr)
                    return 2
        printer = asyncio.create_task(_print_progress(nb, viewer.queue))
        failed = False
        try:
            nb.enqueue(code_cells(doc, "all", None))
            try:
                await asyncio.wait_for(nb.idle.wait(), timeout)
            except TimeoutError:
                print(f"dikte run: the notebook did not finish within {timeout:.0f} s; "
                      "stopping it.", file=sys.stderr)
                failed = True
        finally:
            printer.cancel()
            await link.shutdown("The headless run ended.")
        for i, cell in enumerate(nb.doc.cells):
            if nb.last_status.get(cell["id"]) == "error":
                failed = True
                print(f"\n--- Cell {i + 1} failed ---\n{cell.source}\n--- its output ---",
                      file=sys.stderr)
                for out in cell.get("outputs", []):
                    print(output_text(out, nb.widgets.snapshot()), end="", file=sys.stderr)
        if output is not None:
            # The live document holds plain-dict outputs; normalise it as the drive does.
            nb.widgets_into_metadata()
            data = notebooks.dumps(notebooks.check(nb.doc, output.name))
            tmp_out = output.with_name(f".{output.name}.tmp")
            tmp_out.write_bytes(data)
            tmp_out.replace(output)
        return 1 if failed else 0


async def _print_progress(nb: OpenNotebook, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
    numbers = {c["id"]: i + 1 for i, c in enumerate(nb.doc.cells)}
    while True:
        msg = await queue.get()
        if msg is None:
            return
        if msg["type"] == "input_request":
            prompt = msg.get("prompt", "")
            print(prompt, end="", flush=True)
            line = await asyncio.to_thread(sys.stdin.readline)
            if line:
                nb.input_reply(line.rstrip("\n"))
            elif (link := link_of(nb)) is not None:
                print("\n[no input available: interrupting the cell]", file=sys.stderr)
                await link.interrupt()
        elif msg["type"] == "cell_state" and msg["state"] == "idle" and msg.get("last_status"):
            cid = msg["cell_id"]
            cell = next((c for c in nb.doc.cells if c["id"] == cid), None)
            if cell is None or msg["last_status"] == "cancelled":
                continue
            print(f"[cell {numbers.get(cid, '?')}: {msg['last_status']}]", flush=True)
            if msg["last_status"] != "error":
                widgets = nb.widgets.snapshot()
                for out in cell.get("outputs", []):
                    print(output_text(out, widgets), end="", flush=True)

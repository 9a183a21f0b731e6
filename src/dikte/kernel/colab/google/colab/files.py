"""``google.colab.files`` in a Dikte runtime.

``upload()`` shows a file picker in the cell's output area; the page sends the chosen files to
the server in chunks over HTTP (resumable, up to the server's ``upload_max_bytes``), never through
the kernel, into a hidden folder next to where they go. The kernel then moves each one into the
working directory (``name (1).ext`` when the name is taken), prints ``Saving NAME to NAME`` and
returns ``{name: bytes}`` as Colab does, so the bytes are read into memory: for files larger than
memory, use the Files panel or ignore the result and read the file from disk.

``download(path)`` makes the page download a file of /content (your drive included), streamed
by the server at any size; nothing goes through the kernel.

``view(path)`` is not offered: Dikte has no file viewer (open the file from the Files panel).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

from dikte.kernel.errors import not_offered

from . import _channel

view = not_offered(
    "view",
    "google.colab.files.view() is not offered: Dikte has no file viewer, so open the file from "
    "the Files panel (the folder icon on the left of the notebook) or download it with "
    "files.download().")


def _unique(folder: str, name: str) -> str:
    """``name``, or ``stem (1).ext``, ``stem (2).ext``... if that is taken in ``folder``."""
    path = os.path.join(folder, name)
    stem, ext = os.path.splitext(name)
    n = 1
    while os.path.lexists(path):
        path = os.path.join(folder, f"{stem} ({n}){ext}")
        n += 1
    return path


def _staging_parent(target: str) -> str:
    """Where the page can upload to: /content (the server writes only there), as near the
    target as possible so the final move is a rename."""
    if target == "/content" or target.startswith("/content/") or not os.path.isdir("/content"):
        return target
    return "/content"


def upload(target_dir: str = "") -> dict[str, bytes]:
    """Let the person choose files in the page; save them into ``target_dir`` (the working
    directory by default) and return ``{local name: bytes}``."""
    target = os.path.abspath(target_dir) if target_dir else os.getcwd()
    given = os.environ.get("DIKTE_RUN_UPLOADS")
    if given is not None:
        return _given_uploads(json.loads(given), target, target_dir)
    os.makedirs(target, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".upload-", dir=_staging_parent(target))
    try:
        answer = _channel.browser_request("upload", {"directory": staging},
                                          what="files.upload()")
        names = answer.get("files", []) if isinstance(answer, dict) else []
        uploaded: dict[str, bytes] = {}
        for name in names:
            if not isinstance(name, str) or name in ("", ".", "..") or "/" in name:
                continue
            source = os.path.join(staging, name)
            if not os.path.isfile(source) or os.path.islink(source):
                continue
            dest = _unique(target, name)
            shutil.move(source, dest)
            local = os.path.basename(dest)
            key = os.path.join(target_dir, local) if target_dir else local
            print(f"Saving {name} to {key}")
            with open(dest, "rb") as f:
                uploaded[key] = f.read()
        return uploaded
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _given_uploads(names: list[str], target: str, target_dir: str) -> dict[str, bytes]:
    """``dikte run`` has no page to choose files in: the files of its ``--with`` options are the
    upload (they are in /content already; copied into ``target_dir`` when another is asked)."""
    if not names:
        raise _channel.NoServer(
            "files.upload() under `dikte run` returns the files given with --with, and this run "
            "was given none: run it again with --with PATH.")
    print("files.upload() under `dikte run`: the files given with --with: " + ", ".join(names))
    os.makedirs(target, exist_ok=True)
    uploaded: dict[str, bytes] = {}
    where = "/content" if os.path.isdir("/content") else os.getcwd()  # cwd: without a sandbox
    for name in names:
        source = os.path.join(where, name)
        with open(source, "rb") as f:
            data = f.read()
        dest = os.path.join(target, name)
        if os.path.abspath(source) != dest:
            with open(dest, "wb") as f:
                f.write(data)
        uploaded[os.path.join(target_dir, name) if target_dir else name] = data
    return uploaded


def download(filename: str) -> None:
    """Make the page download ``filename`` (a file in /content, your drive included)."""
    if not os.path.exists(filename):
        raise FileNotFoundError(f"Cannot find file: {filename}")
    if os.path.isdir(filename):
        raise IsADirectoryError(f"{filename} is a folder; download one file (for example an "
                                f"archive: !zip -r folder.zip {filename}).")
    _channel.browser_request("download", {"path": os.path.abspath(filename)},
                             what="files.download()")

"""CLI commands that talk to a running server through its REST + WebSocket API."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from dikte.cli.follow import follow_run


class ApiError(Exception):
    pass


class Api:
    def __init__(self, url: str, token: str | None) -> None:
        if not token:
            raise ApiError("no token: pass --token or set DIKTE_TOKEN (printed by the first "
                           "`dikte serve`).")
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(base_url=self.url, timeout=httpx.Timeout(300.0, connect=10.0),
                                 headers={"Authorization": f"Bearer {token}"})

    def call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.url}: {exc}") from exc
        if r.status_code >= 400:
            try:
                err = r.json()["error"]
                raise ApiError(f"{err['message']} ({err['code']})")
            except (ValueError, KeyError):
                raise ApiError(f"HTTP {r.status_code}: {r.text[:200]}") from None
        if r.status_code == 204 or not r.content:
            return None
        return r.json()


def add_commands(sub: Any) -> None:
    def remote(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--url", default=os.environ.get("DIKTE_URL", "http://127.0.0.1:8750"),
                       help="server URL (DIKTE_URL)")
        p.add_argument("--token", default=os.environ.get("DIKTE_TOKEN"), help="token (DIKTE_TOKEN)")
        return p

    d = sub.add_parser("drive", help="files in your drive").add_subparsers(dest="op", required=True)
    remote(d.add_parser("ls", help="list a folder")).add_argument("path", nargs="?", default="")
    remote(d.add_parser("mkdir", help="create a folder")).add_argument("path")
    p = remote(d.add_parser("upload", help="upload a local file"))
    p.add_argument("local", type=Path)
    p.add_argument("path", nargs="?")
    p = remote(d.add_parser("download", help="download a file"))
    p.add_argument("path")
    p.add_argument("local", type=Path, nargs="?")
    p = remote(d.add_parser("mv", help="rename or move"))
    p.add_argument("src")
    p.add_argument("dst")
    remote(d.add_parser("rm", help="delete a file or folder")).add_argument("path")

    n = sub.add_parser("notebook", help="notebooks and their runtimes").add_subparsers(
        dest="op", required=True)
    for op, helptext in (("create", "create an empty notebook"),
                         ("show", "print cells, their state and outputs"),
                         ("connect", "connect a runtime"),
                         ("disconnect", "disconnect and delete the runtime"),
                         ("interrupt", "interrupt the running cell"),
                         ("cancel", "cancel every queued cell"),
                         ("restart", "restart the kernel")):
        p = remote(n.add_parser(op, help=helptext))
        p.add_argument("path")
        if op == "connect":
            p.add_argument("--image")
        if op == "show":
            p.add_argument("--json", action="store_true", help="print the server's JSON")
    p = remote(n.add_parser("add", help="insert a cell (source '-' reads standard input)"))
    p.add_argument("path")
    p.add_argument("source")
    p.add_argument("--type", default="code", choices=["code", "markdown", "raw"])
    p.add_argument("--index", type=int, help="position (0-based; default: at the end)")
    p = remote(n.add_parser("set", help="replace a cell's source ('-' reads standard input)"))
    p.add_argument("path")
    p.add_argument("cell", help="cell id or 1-based number")
    p.add_argument("source")
    p = remote(n.add_parser("set-type", help="change a cell's type"))
    p.add_argument("path")
    p.add_argument("cell")
    p.add_argument("type", choices=["code", "markdown", "raw"])
    p = remote(n.add_parser("delete-cell", help="delete a cell"))
    p.add_argument("path")
    p.add_argument("cell")
    p = remote(n.add_parser("move-cell", help="move a cell to a 0-based position"))
    p.add_argument("path")
    p.add_argument("cell")
    p.add_argument("index", type=int)
    p = remote(n.add_parser("run", help="run cells and follow their output"))
    p.add_argument("path")
    p.add_argument("cells", nargs="*", help="cell ids or 1-based numbers")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--all", action="store_true", help="run all")
    g.add_argument("--before", metavar="CELL", help="run the cells before CELL")
    g.add_argument("--after", metavar="CELL", help="run CELL and the cells after it")
    p.add_argument("--detach", action="store_true",
                   help="queue and return at once; the cells keep running on the server")
    p = remote(n.add_parser("input", help="answer the running cell's input() prompt"))
    p.add_argument("path")
    p.add_argument("value")

    s = sub.add_parser("sessions", help="list or terminate your sessions")
    s_sub = s.add_subparsers(dest="op")
    remote(s_sub.add_parser("list", help="list sessions"))
    remote(s_sub.add_parser("terminate", help="terminate a session")).add_argument("runtime_id")
    remote(s)


def dispatch(args: argparse.Namespace) -> int:
    try:
        api = Api(args.url, args.token)
        if args.command == "drive":
            return _drive(api, args)
        if args.command == "notebook":
            return _notebook(api, args)
        return _sessions(api, args)
    except ApiError as exc:
        print(f"dikte: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a local file to upload or download into
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"dikte: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


def file_url(path: str) -> str:
    """``/api/drive/files/PATH`` with every character of PATH escaped, dots of ``.`` and ``..``
    included: left bare, the HTTP client would resolve ``a/../b`` into another URL (and act on
    another file), and ``#`` or ``?`` would end the path. The server then judges the path."""
    segments = [quote(s, safe="") for s in path.split("/")]
    segments = [s.replace(".", "%2E") if s in (".", "..") else s for s in segments]
    return "/api/drive/files/" + "/".join(segments)


def _drive(api: Api, a: argparse.Namespace) -> int:
    if a.op == "ls":
        for e in api.call("GET", "/api/drive/list", params={"path": a.path})["entries"]:
            size = "" if e["kind"] == "dir" else str(e["size"])
            print(f"{e['kind']:9} {size:>12}  {e['path']}{'/' if e['kind'] == 'dir' else ''}")
    elif a.op == "mkdir":
        api.call("POST", "/api/drive/dirs", json={"path": a.path})
    elif a.op == "upload":
        target = a.path or a.local.name
        with a.local.open("rb") as f:
            e = api.call("PUT", file_url(target), content=f)
        print(f"uploaded {e['path']} ({e['size']} bytes)")
    elif a.op == "download":
        local = a.local or Path(Path(a.path).name)
        tmp = local.with_name(f".{local.name}.part")
        with api.http.stream("GET", file_url(a.path)) as r:
            if r.status_code >= 400:
                r.read()
                raise ApiError(r.json()["error"]["message"])
            with tmp.open("wb") as f:
                for chunk in r.iter_bytes():
                    f.write(chunk)
        tmp.replace(local)
        print(f"saved {local}")
    elif a.op == "mv":
        api.call("POST", "/api/drive/rename", json={"src": a.src, "dst": a.dst})
    elif a.op == "rm":
        api.call("DELETE", file_url(a.path))
    return 0


def _source(text: str) -> str:
    return sys.stdin.read() if text == "-" else text


def resolve_cell(view: dict[str, Any], ref: str) -> str:
    cells = view["notebook"]["cells"]
    if ref.isdigit() and 1 <= int(ref) <= len(cells):
        return str(cells[int(ref) - 1]["id"])
    if any(c["id"] == ref for c in cells):
        return ref
    raise ApiError(f"no cell {ref!r} in {view['path']} (it has {len(cells)} cells)")


def _edit(api: Api, path: str, op: dict[str, Any]) -> Any:
    return api.call("POST", "/api/notebooks/edit", json={"path": path, "ops": [op]})


def _notebook(api: Api, a: argparse.Namespace) -> int:
    path = a.path
    simple = {"disconnect": "/api/notebooks/disconnect", "interrupt": "/api/notebooks/interrupt",
              "cancel": "/api/notebooks/cancel", "restart": "/api/notebooks/restart"}
    if a.op == "create":
        print(api.call("POST", "/api/notebooks", json={"path": path})["path"])
    elif a.op in simple:
        api.call("POST", simple[a.op], json={"path": path})
    elif a.op == "connect":
        info = api.call("POST", "/api/notebooks/connect", json={"path": path, "image": a.image})
        print(f"connected: runtime {info['runtime_id']} ({info['image']})")
    elif a.op == "show":
        view = api.call("GET", "/api/notebooks/view", params={"path": path})
        if a.json:
            print(json.dumps(view, indent=1))
        else:
            print_view(view)
    elif a.op == "add":
        r = _edit(api, path, {"op": "insert", "index": a.index, "cell_type": a.type,
                              "source": _source(a.source)})
        print(r["inserted"][0])
    elif a.op == "input":
        api.call("POST", "/api/notebooks/input", json={"path": path, "value": a.value})
    else:
        view = api.call("GET", "/api/notebooks/view", params={"path": path})
        if a.op == "run":
            return _run(api, a, view)
        cell = resolve_cell(view, a.cell)
        if a.op == "set":
            _edit(api, path, {"op": "set_source", "cell_id": cell, "source": _source(a.source)})
        elif a.op == "set-type":
            _edit(api, path, {"op": "set_type", "cell_id": cell, "cell_type": a.type})
        elif a.op == "delete-cell":
            _edit(api, path, {"op": "delete", "cell_id": cell})
        elif a.op == "move-cell":
            _edit(api, path, {"op": "move", "cell_id": cell, "index": a.index})
    return 0


def _run(api: Api, a: argparse.Namespace, view: dict[str, Any]) -> int:
    body: dict[str, Any] = {"path": a.path}
    if a.all:
        body["mode"] = "all"
    elif a.before or a.after:
        body["mode"] = "before" if a.before else "after"
        body["anchor"] = resolve_cell(view, a.before or a.after)
    else:
        if not a.cells:
            raise ApiError("name the cells to run, or use --all, --before or --after")
        body["cell_ids"] = [resolve_cell(view, c) for c in a.cells]
    if a.detach:
        queued = api.call("POST", "/api/notebooks/run", json=body)["queued"]
        print(f"queued {len(queued)} cell(s); they run on the server. Follow with "
              f"`dikte notebook show {a.path}`.")
        return 0
    return follow_run(api.url, api.token, a.path, body)


def print_view(view: dict[str, Any]) -> None:
    from dikte.cli.headless import output_text

    rt = view.get("runtime")
    print(f"{view['path']}: " + (f"runtime {rt['runtime_id']} {rt['status']}" if rt
                                 else "no runtime"))
    for i, cell in enumerate(view["notebook"]["cells"]):
        st = view["cells"].get(cell["id"], {})
        state = st.get("state", "idle")
        if state == "queued":
            state = f"queued #{st.get('position')}"
        elif st.get("last_status"):
            state = f"{state}, last {st['last_status']}"
        count = cell.get("execution_count")
        print(f"\n[{i + 1}] {cell['cell_type']} {cell['id']} ({state})"
              + (f" [{count}]" if count else ""))
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        for line in src.splitlines():
            print(f"  | {line}")
        for out in cell.get("outputs", []):
            print(output_text(out, view.get("widgets")), end="")
    if view.get("pending_input"):
        p = view["pending_input"]
        print(f"\nwaiting for input: {p['prompt']!r} (answer with `dikte notebook input`)")


def _sessions(api: Api, a: argparse.Namespace) -> int:
    if getattr(a, "op", None) == "terminate":
        api.call("DELETE", f"/api/sessions/{a.runtime_id}")
        print(f"terminated {a.runtime_id}")
        return 0
    rows = api.call("GET", "/api/sessions")
    if not rows:
        print("no sessions")
    for s in rows:
        mem = s["memory_bytes"]
        disk = s["disk_bytes"]
        print(f"{s['runtime_id']}  {s['notebook_path']}  image={s['image']}  "
              f"{'busy' if s['busy'] else 'idle'}  "
              f"RAM {_mb(mem)}/{_mb(s['memory_limit'])}  disk {_mb(disk)}/{_mb(s['disk_limit'])}")
    return 0


def _mb(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**20:.0f} MiB"

"""The GPU check: run on a machine with an NVIDIA GPU (``bench/gpu_check.sh`` calls it).

It starts ``dikte serve`` on a fresh data dir with a tier that offers every accelerator type NVML
finds, then, through the API, as a person would:

1. lists the shapes the server offers (``GET /api/shapes``);
2. connects a GPU runtime and runs, in cells: ``nvidia-smi -L``, the CUDA/NVIDIA visible-devices
   variables and the device nodes in the sandbox, and a torch CUDA matmul (torch from the
   runtime image, else ``pip install torch``; a missing torch is reported, not hidden);
3. connects a second GPU runtime of the same type: with two or more devices it must get another
   one; with one, it must wait in line (place 1) and start when the first disconnects.

Everything it sees is printed; the exit status is 0 only when every check held.

``--dry-run N`` rehearses the flow on a machine without a GPU: N declared stand-in devices (files
bound at /dev/nvidiaN), and the nvidia-smi and CUDA checks are reported as not applicable.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from dikte.accelerators.model import Device
from dikte.accelerators.nvml import discover, driver_version

CELLS = [
    "!nvidia-smi -L",
    "import glob, os, json\nprint(json.dumps({'CUDA_VISIBLE_DEVICES': "
    "os.environ.get('CUDA_VISIBLE_DEVICES'), 'nodes': sorted(glob.glob('/dev/nvidia*'))}))",
    "try:\n    import torch\nexcept ImportError:\n    import subprocess, sys\n"
    "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', 'torch'], check=False)\n"
    "    import torch\n"
    "print('cuda available', torch.cuda.is_available(), torch.cuda.device_count())\n"
    "a = torch.randn(2048, 2048, device='cuda'); b = a @ a\ntorch.cuda.synchronize()\n"
    "print('matmul ok on', torch.cuda.get_device_name(0), float(b.abs().sum()) > 0)",
]
failures: list[str] = []


def check(ok: bool, what: str) -> None:
    print(("  ok    " if ok else "  FAIL  ") + what, flush=True)
    if not ok:
        failures.append(what)


def config(types: list[str], path: Path, declared: list[Device] | None = None) -> None:
    lines = ["reaper_seconds = 1", 'default_tier = "gpucheck"', "[tiers.gpucheck]",
             'name = "gpucheck"', "idle_timeout_s = 3600", "max_lifetime_s = 7200",
             "disconnect_grace_s = 3600", "daily_accelerator_hours = 24",
             'drive_quota = "50GiB"', "[tiers.gpucheck.shapes.standard]", "max_sessions = 2",
             'memory = "16GiB"', 'disk = "50GiB"']
    for t in types:
        lines += [f"[tiers.gpucheck.shapes.{t}]", "max_sessions = 2", 'memory = "32GiB"',
                  'disk = "50GiB"']
    for d in declared or []:
        lines += ["[[accelerators]]", f'id = "{d.id}"', f'type = "{d.type}"',
                  f"nodes = {json.dumps(list(d.nodes))}"]
    path.write_text("\n".join(lines) + "\n")


def stand_ins(count: int, folder: Path) -> list[Device]:
    out = []
    for i in range(count):
        node = folder / f"stand-in-gpu{i}"
        node.write_text(f"stand-in {i}")
        node.chmod(0o644)
        out.append(Device(f"GPU-stand-in-{i}", "T4", model="stand-in",
                          nodes=(f"{node}:/dev/nvidia{i}",)))
    return out


def text_of(view: dict[str, Any], cell_id: str) -> str:
    cell = next(c for c in view["notebook"]["cells"] if c["id"] == cell_id)
    out = []
    for o in cell.get("outputs", []):
        if o.get("output_type") == "stream":
            out.append("".join(o["text"]) if isinstance(o["text"], list) else o["text"])
        elif o.get("output_type") == "error":
            out.append(f"{o['ename']}: {o['evalue']}")
        elif "data" in o and "text/plain" in o["data"]:
            t = o["data"]["text/plain"]
            out.append("".join(t) if isinstance(t, list) else t)
    return "".join(out)


def run_cells(http: httpx.Client, path: str, ids: list[str], timeout: float = 900) -> dict[str, Any]:
    http.post("/api/notebooks/run", json={"path": path, "cell_ids": ids}).raise_for_status()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view: dict[str, Any] = http.get("/api/notebooks/view", params={"path": path}).json()
        if all(view["cells"][c]["state"] == "idle" for c in ids):
            return view
        time.sleep(0.5)
    raise TimeoutError(f"cells of {path} did not finish in {timeout} s")


def notebook(http: httpx.Client, path: str, sources: list[str]) -> list[str]:
    nb = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
        {"cell_type": "code", "id": f"c{i}", "metadata": {}, "source": s, "outputs": [],
         "execution_count": None} for i, s in enumerate(sources)]}
    http.put(f"/api/drive/files/{path}", content=json.dumps(nb).encode()).raise_for_status()
    return [f"c{i}" for i in range(len(sources))]


def main() -> int:
    dry = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[1] == "--dry-run" else 0
    work = Path(tempfile.mkdtemp(prefix="dikte-gpu-check-"))
    devices = stand_ins(dry, work) if dry else discover()
    print(f"NVIDIA driver: {driver_version()}")
    for d in devices:
        print(f"  {d.type:<10} {d.model} {d.memory_bytes / 2**30:.0f} GiB {d.id} {d.nodes}")
    check(bool(devices), "NVML finds at least one GPU")
    if not devices:
        return 1
    types = sorted({d.type for d in devices})
    kind = types[0]
    count = sum(1 for d in devices if d.type == kind)
    cfg = work / "dikte.toml"
    config(types, cfg, devices if dry else None)
    log = (work / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "dikte.cli.main", "serve", "--port", "0", "--data-dir",
         str(work / "data"), "--config", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    try:
        url = token = ""
        deadline = time.monotonic() + 120
        while not url and time.monotonic() < deadline:
            text = (work / "server.log").read_text(errors="replace")
            if m := re.search(r"^\s+(dk_\S+)\s*$", text, re.M):
                token = m.group(1)
            if m := re.search(r"Dikte is serving at (http://\S+?)/? ", text):
                url = m.group(1)
            if server.poll() is not None:
                print(text)
                return 1
            time.sleep(0.2)
        http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                            timeout=900)
        shapes = http.get("/api/shapes").json()
        print("shapes:", [(s["shape"], s["devices"], s["allowed"]) for s in shapes])
        check(any(s["shape"] == kind and s["allowed"] for s in shapes), f"shape {kind} offered")
        ids = notebook(http, "gpu1.ipynb", CELLS)
        first = http.post("/api/notebooks/connect", json={"path": "gpu1.ipynb", "shape": kind})
        print("connect:", first.status_code, first.text[:300])
        view = run_cells(http, "gpu1.ipynb", ids)
        smi, env, matmul = (text_of(view, c) for c in ids)
        print("--- nvidia-smi -L\n" + smi + "--- environment\n" + env + "--- torch\n" + matmul)
        mine = json.loads(env.strip().splitlines()[-1]) if env.strip() else {}
        check(bool(mine.get("CUDA_VISIBLE_DEVICES")), "CUDA_VISIBLE_DEVICES names the device")
        own = [n for n in mine.get("nodes", []) if n[len("/dev/nvidia"):].isdigit()]
        check(len(own) == 1, f"the sandbox holds exactly one GPU node: {own}")
        if dry:
            print("  n/a   nvidia-smi and CUDA (dry run: no GPU)")
        else:
            check(smi.count("GPU ") == 1, "nvidia-smi in the runtime lists exactly one GPU")
            check("matmul ok" in matmul and "True" in matmul,
                  "torch CUDA matmul ran in the runtime")
        (second_cell,) = notebook(http, "gpu2.ipynb", [CELLS[1]])
        second = http.post("/api/notebooks/connect",
                           json={"path": "gpu2.ipynb", "shape": kind}).json()
        print("second connect:", second.get("status"), second.get("queue_position"))
        if count >= 2:
            other_view = run_cells(http, "gpu2.ipynb", [second_cell])
            other = json.loads(text_of(other_view, second_cell).strip().splitlines()[-1])
            check(other["CUDA_VISIBLE_DEVICES"] != mine.get("CUDA_VISIBLE_DEVICES"),
                  "a second runtime gets a different GPU")
        else:
            check(second.get("status") == "queued" and second.get("queue_position") == 1,
                  "on a one-GPU machine the second runtime waits in line, place 1")
            http.post("/api/notebooks/disconnect", json={"path": "gpu1.ipynb"})
            other_view = run_cells(http, "gpu2.ipynb", [second_cell], timeout=300)
            other = json.loads(text_of(other_view, second_cell).strip().splitlines()[-1])
            check(other["CUDA_VISIBLE_DEVICES"] == mine.get("CUDA_VISIBLE_DEVICES"),
                  "the waiting runtime starts on the freed GPU")
        for s in http.get("/api/sessions").json():
            http.delete(f"/api/sessions/{s['runtime_id']}")
    finally:
        server.terminate()
        server.wait(60)
        log.close()
        print(f"server log: {work / 'server.log'}")
    print("RESULT:", "all checks held" if not failures else f"{len(failures)} failed: {failures}")
    return 0 if not failures else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())

"""The resumable training Colab users write by hand, done with Dikte's helpers, through a real
server: a small torch model trains on CPU in a runtime; the tier's lifetime limit stops the
runtime mid-epoch; its preemption notice makes the training loop checkpoint into the drive; a
new runtime resumes; the final weights equal those of a run that was never stopped.

torch is installed once, offline, by ``pip install torch==2.13.0`` in a first runtime, into the
drive (``--target``), from a folder of wheels in the drive; later runtimes put that folder on
``sys.path``. The server runs with a roomy tier to install and to resume, and is restarted with a
90-second lifetime for the run that gets stopped: its notice comes 10 s after the start, and
the runtime stops 80 s later, time for the set-up (importing torch) on a loaded machine.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.api.test_tiers import tier_config
from tests.support.server import Client, DikteServer, cell_text

HERE = Path(__file__).resolve().parent
D = "/content/drive/MyDrive"
CKPT = f"{D}/run/ckpt.pt"
SETUP = (f"import sys, threading\nsys.path += ['{D}/pylib', '{D}/train']\n"
         "import torch, dikte.kernel\nimport resumable_mlp as rm")


def config(tmp_path: Path, name: str, lifetime: int = 3600, warn: int = 2) -> str:
    folder = tmp_path / name
    folder.mkdir()
    return tier_config(folder, drive_quota='"20GiB"', max_lifetime_s=lifetime,
                       warn_before_stop_s=warn)


def put_wheels(wheelhouse: Path, drive: Path) -> None:
    """The wheels into the drive, as a person's own copy (linked: same disk, no copying)."""
    target = drive / "wheels"
    target.mkdir(parents=True)
    for wheel in wheelhouse.iterdir():
        try:
            os.link(wheel, target / wheel.name)
        except OSError:
            shutil.copy2(wheel, target / wheel.name)


def run(client: Client, path: str, sources: list[str], timeout: float = 240) -> list[str]:
    """Run ``sources`` as the notebook's cells in a new runtime; return each cell's text."""
    ids = client.new_notebook(path, sources)
    client.post("/api/notebooks/connect", {"path": path})
    states = client.run_cells(path, ids, timeout=timeout)
    view = client.view(path)
    texts = [cell_text(view, cid) for cid in ids]
    assert [s["last_status"] for s in states] == ["ok"] * len(ids), texts
    return texts


@pytest.mark.timeout(600)
def test_training_stopped_by_the_lifetime_limit_resumes_to_the_same_weights(
        fresh_server: Callable[..., DikteServer], tmp_path: Path, torch_wheelhouse: Path) -> None:
    roomy = config(tmp_path, "roomy")
    srv = fresh_server(DIKTE_CONFIG=roomy).start()
    client = srv.client()
    client.new_notebook("Notebooks/setup.ipynb", ["1"])  # the drive exists from here on
    drive = srv.data_dir / "drives" / "1"
    put_wheels(torch_wheelhouse, drive)
    try:
        train_stop_and_resume(srv, tmp_path, roomy, drive)
    finally:  # torch in the drive is most of a gigabyte; pytest keeps old temp dirs
        shutil.rmtree(drive / "pylib", ignore_errors=True)


def train_stop_and_resume(srv: DikteServer, tmp_path: Path, roomy: str, drive: Path) -> None:
    client = srv.client()
    client.call("PUT", "/api/drive/files/train/resumable_mlp.py",
                content=(HERE / "programs" / "resumable_mlp.py").read_bytes())

    # 1. install torch into the drive, once
    (installed,) = run(client, "Notebooks/install.ipynb", [
        # --no-compile: compiling torch's thousands of modules would take longer than installing
        f"!pip install -q --no-index --find-links {D}/wheels --no-compile --target {D}/pylib "
        "torch==2.13.0\n"
        f"import sys; sys.path.append('{D}/pylib')\nimport torch; print(torch.__version__)"])
    assert installed.strip().endswith("2.13.0+cpu")
    client.post("/api/notebooks/disconnect", {"path": "Notebooks/install.ipynb"})

    # 2. train until the lifetime limit's notice; checkpoint at the next step and stop
    srv.stop()
    # the notice 10 s after the start, the stop 80 s later: a loaded machine took more than
    # 30 s to import torch, and the runtime stopped before the training began
    srv.env["DIKTE_CONFIG"] = config(tmp_path, "limited", lifetime=90, warn=80)
    srv.start()
    client = srv.client()
    path = "Notebooks/train.ipynb"
    setup, loop = client.new_notebook(path, [
        SETUP,
        "stop = threading.Event()\ndikte.kernel.on_preempt(lambda notice: stop.set())\n"
        f"result = rm.train('{CKPT}', epochs=10**6, stop=stop)\n"
        "print('checkpointed at epoch %d, step %d' % result['stopped_at'])"])
    client.post("/api/notebooks/connect", {"path": path})
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": setup})
        sock.send({"type": "execute", "cell_id": loop})
        assert sock.wait_done(loop, timeout=240)["last_status"] == "ok", cell_text(
            client.view(path), loop)
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=240)
    finally:
        sock.close()
    assert gone["message"] == "Runtime disconnected: maximum lifetime of 90 s reached."
    m = re.fullmatch(r"checkpointed at epoch (\d+), step (\d+)\n", cell_text(client.view(path), loop))
    assert m, cell_text(client.view(path), loop)
    epoch, step = int(m.group(1)), int(m.group(2))
    assert (drive / "run" / "ckpt.pt").is_file()
    assert client.get("/api/sessions") == []

    # 3. a new runtime resumes and finishes; the same training straight through ends equal
    srv.stop()
    srv.env["DIKTE_CONFIG"] = roomy
    srv.start()
    client = srv.client()
    _, compared = run(client, "Notebooks/resume.ipynb", [
        SETUP,
        f"left = dikte.kernel.checkpoint.load('{CKPT}', rng=False)\n"
        "epochs = left['epoch'] + 2\n"
        f"resumed = rm.train('{CKPT}', epochs)['weights']\n"
        "straight = rm.train('/tmp/none.pt', epochs, resume=False)['weights']\n"
        "print(left['epoch'], left['step'], sorted(resumed) == sorted(straight),\n"
        "      all(torch.equal(resumed[k], straight[k]) for k in straight),\n"
        "      any(not torch.equal(resumed[k], rm.build(0)[0].state_dict()[k]) for k in resumed))"])
    assert compared.split() == [str(epoch), str(step), "True", "True", "True"]

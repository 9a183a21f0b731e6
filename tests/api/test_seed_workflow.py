"""The seed workflow: data from the drive, code from git, training that resumes in a new runtime."""

from __future__ import annotations

import io
import socket
import subprocess
import tarfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.net import public_address
from tests.support.server import Client, DikteServer, cell_text

TRAIN = textwrap.dedent('''\
    """A tiny "training" script: one pass over the data per epoch, a checkpoint after each."""
    import argparse, json, os, pathlib

    p = argparse.ArgumentParser()
    p.add_argument("--data_root", required=True)
    p.add_argument("--logdir", required=True)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--resume", action="store_true")
    a = p.parse_args()
    values = [float(x) for f in sorted(pathlib.Path(a.data_root).rglob("*.txt"))
              for x in f.read_text().split()]
    os.makedirs(a.logdir, exist_ok=True)
    ckpt = pathlib.Path(a.logdir) / "checkpoint.json"
    start, weight = 0, 0.0
    if a.resume and ckpt.exists():
        state = json.loads(ckpt.read_text())
        start, weight = state["epoch"], state["weight"]
        print(f"resumed from epoch {start}", flush=True)
    for epoch in range(start + 1, a.epochs + 1):
        weight += sum(values) / len(values)
        print(f"epoch {epoch} weight {weight:.1f}", flush=True)
        ckpt.write_text(json.dumps({"epoch": epoch, "weight": weight}))
''')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def git_server(tmp_path: Path) -> Iterator[str]:
    """A git repository with train.py, served by `git daemon` on the host's public address (a
    runtime's network is its own: the host's loopback is out of its reach)."""
    work = tmp_path / "trainer"
    work.mkdir()
    (work / "train.py").write_text(TRAIN)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(tmp_path)}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "train.py"],
                ["git", "commit", "-q", "-m", "trainer"]):
        subprocess.run(cmd, cwd=work, check=True, env=env)
    serve = tmp_path / "serve"
    serve.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(serve / "trainer.git")],
                   check=True, env=env)
    port = _free_port()
    host = public_address()
    log = (tmp_path / "git-daemon.log").open("wb")
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={serve}",
         f"--listen={host}", f"--port={port}", str(serve)], stdout=log, stderr=log)
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex((host, port)) == 0:
                break
        proc.poll()
        import time

        time.sleep(0.05)
    yield f"git://{host}:{port}/trainer.git"
    proc.terminate()
    proc.wait(10)
    log.close()


def _dataset() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, text in (("train/a.txt", "1 2 3"), ("train/b.txt", "4 5 6")):
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _run_all(client: Client, path: str, ids: list[str]) -> dict:
    for cid, done in zip(ids, client.run_cells(path, ids), strict=True):
        assert done["last_status"] == "ok", cell_text(client.view(path), cid)
    return client.view(path)


def test_seed_workflow(server: DikteServer, client: Client, git_server: str) -> None:
    client.call("PUT", "/api/drive/files/data.tar", content=_dataset())
    path = "Notebooks/seed.ipynb"
    train = ("!python3 /content/trainer/train.py --data_root /content/datasets/train "
             "--logdir /content/drive/MyDrive/logs --resume --epochs {n} "
             "| tee -a /content/drive/MyDrive/log.txt")
    ids = client.new_notebook(path, [
        "!mkdir -p /content/datasets && tar -xf /content/drive/MyDrive/data.tar "
        "-C /content/datasets",
        f"!git clone -q {git_server} /content/trainer",
        train.format(n=2),
    ])
    rid = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    view = _run_all(client, path, ids)
    out = cell_text(view, ids[2]).replace("\r\n", "\n")
    assert out == "epoch 1 weight 3.5\nepoch 2 weight 7.0\n"

    client.post("/api/notebooks/disconnect", {"path": path})
    assert not (server.data_dir / "runtimes" / rid).exists()   # the instance space is gone
    drive = server.data_dir / "drives" / "1"
    assert (drive / "logs" / "checkpoint.json").is_file()      # the drive keeps the logs
    assert "epoch 2" in (drive / "log.txt").read_text()

    # a new runtime: /content is empty again; training resumes from the drive's checkpoint
    client.post("/api/notebooks/edit", {"path": path, "ops": [
        {"op": "set_source", "cell_id": ids[2], "source": train.format(n=4)},
        {"op": "insert", "source": "import os; print(sorted(os.listdir('/content')))",
         "index": 0}]})
    view = client.view(path)
    fresh = view["notebook"]["cells"][0]["id"]
    rid2 = client.post("/api/notebooks/connect", {"path": path})["runtime_id"]
    assert rid2 != rid
    view = _run_all(client, path, [fresh, *ids])
    assert cell_text(view, fresh).strip() == "['drive']"
    out = cell_text(view, ids[2]).replace("\r\n", "\n")
    assert out == "resumed from epoch 2\nepoch 3 weight 10.5\nepoch 4 weight 14.0\n"
    log = (drive / "log.txt").read_text()
    assert log.count("epoch 2 weight") == 1 and "epoch 4 weight 14.0" in log
    client.post("/api/notebooks/disconnect", {"path": path})

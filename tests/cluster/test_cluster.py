"""Runtimes on a real Ray cluster (a head and two worker nodes on loopback, see conftest.py):
placement by demand, notebooks unchanged on a worker, the GPU queue across the cluster, a node
that dies, a node drained with a deadline, a control plane that restarts, and kernel traffic
that no other runtime reaches."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from dikte.runtimes import netns
from dikte.runtimes.relay import new_keypair
from tests.cluster.conftest import Cluster, sessions_by_path, wait_until
from tests.colab.test_notebooks import FIXTURES, check_cell
from tests.support.server import Client, DikteServer, cell_text, make_person

HERE = Path(__file__).resolve().parent
COLAB = HERE.parent / "colab" / "notebooks"
D = "/content/drive/MyDrive"


def connect(client: Client, path: str, sources: list[str], shape: str = "standard"
            ) -> tuple[list[str], dict[str, Any]]:
    ids = client.new_notebook(path, sources)
    return ids, client.post("/api/notebooks/connect", {"path": path, "shape": shape})


def run(client: Client, path: str, ids: list[str], timeout: float = 120) -> list[str]:
    states = client.run_cells(path, ids, timeout=timeout)
    view = client.view(path)
    texts = [cell_text(view, cid) for cid in ids]
    assert [s["last_status"] for s in states] == ["ok"] * len(ids), texts
    return texts


def disconnected_after(client: Client, path: str, act: Callable[[], object],
                       timeout: float = 120) -> tuple[str, list[dict[str, Any]]]:
    """Do ``act`` with the notebook open: the sentence its runtime was then disconnected with,
    and what the notebook's socket got until then."""
    sock = client.socket(path)
    try:
        act()
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout)
        return str(gone["message"]), list(sock.messages)
    finally:
        sock.close()


def disconnect(client: Client, *paths: str) -> None:
    for path in paths:
        client.post("/api/notebooks/disconnect", {"path": path})


def test_runtimes_land_where_their_demands_fit(client: Client) -> None:
    probe = "import os, socket; print(socket.gethostname(), os.environ.get('CUDA_VISIBLE_DEVICES'))"
    cpu_ids, cpu = connect(client, "Notebooks/place-cpu.ipynb", [probe])
    gpu_ids, gpu = connect(client, "Notebooks/place-gpu.ipynb", [probe], shape="T4")
    try:
        assert cpu["status"] == gpu["status"] == "connected"
        assert cpu["node"] in ("node1", "node2")
        assert gpu["node"] == "node1"  # the only node with a T4
        assert [a["id"] for a in gpu["accelerators"]] == ["node1/node1-t4-0"]
        (text,) = run(client, "Notebooks/place-cpu.ipynb", cpu_ids)
        assert text == f"dikte-{cpu['runtime_id']} None\n"
        (text,) = run(client, "Notebooks/place-gpu.ipynb", gpu_ids)
        assert text == f"dikte-{gpu['runtime_id']} node1-t4-0\n"
        listed = sessions_by_path(client)
        assert listed["Notebooks/place-gpu.ipynb"]["node"] == "node1"
        assert listed["Notebooks/place-cpu.ipynb"]["node"] == cpu["node"]
        assert listed["Notebooks/place-cpu.ipynb"]["backend"] == "ray"
        nodes = {n["name"]: n for n in client.get("/api/admin/nodes")}
        assert sorted(nodes) == ["node1", "node2"]
        assert [d["type"] for d in nodes["node1"]["accelerators"]] == ["T4"]
        assert nodes["node2"]["accelerators"] == []
        assert gpu["runtime_id"] in nodes["node1"]["runtimes"]
    finally:
        disconnect(client, "Notebooks/place-cpu.ipynb", "Notebooks/place-gpu.ipynb")


def test_a_runtime_larger_than_every_machine_is_refused_in_a_sentence(cluster: Cluster,
                                                                      client: Client) -> None:
    path = "Notebooks/too-big.ipynb"
    client.new_notebook(path, ["1"])
    r = client.http.post("/api/notebooks/connect", json={"path": path, "shape": "high_ram"})
    assert r.status_code == 503, r.text
    assert r.json()["error"] == {
        "code": "no_machine_fits", "status": 503,
        "message": "This runtime cannot start: it needs 8 GiB of RAM and the largest machine in "
                   "the cluster has 3 GiB of RAM. Ask your administrator to lower what this "
                   "runtime type asks for, or to add a larger machine to the cluster."}
    assert client.view(path)["runtime"] is None and path not in sessions_by_path(client)
    # no placement group was made for it (and no other test holds one now)
    assert cluster.places() == []


def test_a_second_gpu_runtime_waits_and_starts_when_the_first_ends(client: Client) -> None:
    _, first = connect(client, "Notebooks/gpu-first.ipynb", ["print('first')"], "T4")
    assert first["status"] == "connected"
    second_ids, second = connect(client, "Notebooks/gpu-second.ipynb", ["print('second')"],
                                 "T4")
    assert (second["status"], second["queue_position"]) == ("queued", 1)
    sock = client.socket("Notebooks/gpu-second.ipynb")
    try:
        disconnect(client, "Notebooks/gpu-first.ipynb")
        started = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "connected",
                                timeout=120)
        assert started["runtime"]["node"] == "node1"
        assert run(client, "Notebooks/gpu-second.ipynb", second_ids) == ["second\n"]
    finally:
        sock.close()
        disconnect(client, "Notebooks/gpu-second.ipynb")


def git_daemon(cluster: Cluster, tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A git repository with the seed workflow's train.py, served by `git daemon` inside the
    cluster's network on an address of its own beside 127.0.0.1 (a runtime reaches it as it
    would reach any server; the cluster's 127.0.0.1 stays out of its reach)."""
    from tests.api.test_seed_workflow import TRAIN

    work = tmp_path / "trainer"
    work.mkdir()
    (work / "train.py").write_text(TRAIN)
    env = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org", "PATH": "/usr/bin:/bin",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "HOME": str(tmp_path)}
    for cmd in (["git", "init", "-q", "-b", "main"], ["git", "add", "train.py"],
                ["git", "commit", "-q", "-m", "trainer"]):
        subprocess.run(cmd, cwd=work, check=True, env=env)
    serve = tmp_path / "serve"
    serve.mkdir()
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(serve / "trainer.git")],
                   check=True, env=env)
    address = "10.231.0.1"
    if address not in cluster.inside("ip", "-o", "addr", "show", "dev", "lo"):
        cluster.inside("ip", "addr", "add", f"{address}/32", "dev", "lo")
    with (tmp_path / "git-daemon.log").open("wb") as log:
        proc = subprocess.Popen(
            ["nsenter", f"--net={cluster.netns}", "--", "git", "daemon", "--reuseaddr",
             "--export-all", f"--base-path={serve}", f"--listen={address}", "--port=9418",
             str(serve)], stdout=log, stderr=log, env=env)
    wait_until("git daemon listening", lambda: f":{9418:04X} " in cluster.inside("cat", "/proc/net/tcp"),
               timeout=30)
    return proc, f"git://{address}/trainer.git"


def test_the_seed_workflow_runs_unchanged_on_a_worker(cluster: Cluster, client: Client,
                                                      tmp_path: Path) -> None:
    from tests.api.test_seed_workflow import _dataset

    proc, repo = git_daemon(cluster, tmp_path)
    try:
        client.call("PUT", "/api/drive/files/data.tar", content=_dataset())
        path = "Notebooks/seed-cluster.ipynb"
        train = ("!python3 /content/trainer/train.py --data_root /content/datasets/train "
                 "--logdir /content/drive/MyDrive/logs --resume --epochs {n}")
        ids, info = connect(client, path, [
            "!mkdir -p /content/datasets && tar -xf /content/drive/MyDrive/data.tar "
            "-C /content/datasets",
            f"!git clone -q {repo} /content/trainer",
            train.format(n=2)])
        assert info["node"] in ("node1", "node2")
        texts = run(client, path, ids)
        assert texts[2].replace("\r\n", "\n") == "epoch 1 weight 3.5\nepoch 2 weight 7.0\n"
        disconnect(client, path)
        # a new runtime (wherever it lands) resumes from the checkpoint in the shared drive
        client.post("/api/notebooks/edit", {"path": path, "ops": [
            {"op": "set_source", "cell_id": ids[2], "source": train.format(n=3)}]})
        client.post("/api/notebooks/connect", {"path": path})
        texts = run(client, path, ids)
        assert texts[2].replace("\r\n", "\n") == "resumed from epoch 2\nepoch 3 weight 10.5\n"
        disconnect(client, path)
    finally:
        proc.terminate()
        proc.wait(10)


def test_a_colab_notebook_runs_unchanged_on_a_worker(head: DikteServer, client: Client,
                                                    tmp_path: Path) -> None:
    notebook = COLAB / "colab_training_workflow.ipynb"
    doc = json.loads(notebook.read_text())
    client.get("/api/drive/list")  # the drive exists from here on
    drive = head.data_dir / "drives" / "1"  # the shared filesystem, as the nodes mount it
    owner = drive.stat().st_uid
    for name in doc["metadata"]["dikte_test"]["fixtures"]:  # as `dikte run --with-drive` does
        made = FIXTURES[name](tmp_path)
        target = drive / made.name
        if made.is_dir():
            shutil.copytree(made, target, dirs_exist_ok=True)
        else:
            shutil.copy2(made, target)
        for p in [target, *target.rglob("*")]:
            os.chown(p, owner, owner)
    path = "Notebooks/colab_training_workflow.ipynb"
    client.call("PUT", f"/api/drive/files/{path}", content=notebook.read_bytes())
    info = client.post("/api/notebooks/connect", {"path": path})
    assert info["node"] in ("node1", "node2")
    view = client.view(path)
    code = [c for c in view["notebook"]["cells"] if c["cell_type"] == "code"]
    try:
        client.run_cells(path, [c["id"] for c in code], timeout=240)
        ran = [c for c in client.view(path)["notebook"]["cells"] if c["cell_type"] == "code"]
        for number, cell in enumerate(ran, 1):
            check_cell(number, cell, cell["metadata"].get("dikte_test", {}))
    finally:
        disconnect(client, path)


def database(head: DikteServer, sql: str, **params: Any) -> Any:
    """Run ``sql`` on the control plane's database (committed); its first value, if any."""
    from sqlalchemy import create_engine, text

    engine = create_engine(head.env["DIKTE_DATABASE_URL"])
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params)
            return result.scalar_one() if result.returns_rows else None
    finally:
        engine.dispose()


def relay_of(head: DikteServer, runtime_id: str) -> dict[str, Any]:
    """The connection of a runtime's relay as the control plane keeps it (its database)."""
    state = database(head, "SELECT backend_state FROM runtimes WHERE id = :id", id=runtime_id)
    data = json.loads(state) if isinstance(state, str) else state
    return dict(data["connection"])


def relay_peers(cluster: Cluster, conn: dict[str, Any]) -> set[int]:
    """The pids holding a TCP connection to one of the relay's ports, in the cluster's network
    (the node's side: ``ss`` names the process of each end it lists)."""
    ports = {conn[f"{c}_port"] for c in ("shell", "iopub", "control", "stdin", "hb")}
    pids = set()
    for line in cluster.inside("ss", "-Htnp", "state", "established").splitlines():
        fields = line.split()
        peer = fields[3].rsplit(":", 1)[1]
        if int(peer) in ports:
            pids |= {int(p) for p in re.findall(r"pid=(\d+)", line)}
    return pids


def test_no_other_runtime_or_peer_reads_or_sends_kernel_messages(
        cluster: Cluster, head: DikteServer, client: Client) -> None:
    a_ids, a = connect(client, "Notebooks/victim.ipynb",
                       ["import time\nfor i in range(40):\n    print('secret-output', i)\n"
                        "    time.sleep(0.25)"], shape="T4")
    conn = relay_of(head, a["runtime_id"])
    # another person's runtime on the same node tries the relay's ports and the kernel's sockets:
    # a connection that reached the relay would bring its ZMTP greeting (it speaks first);
    # slirp4netns sometimes completes a handshake to 10.0.2.2 that leads nowhere (the first
    # send fails with "Network is unreachable"), so what counts is a byte coming back
    probe = (
        "import socket, glob, os\n"
        f"ports = {[conn[f'{c}_port'] for c in ('shell', 'iopub', 'control', 'stdin', 'hb')]}\n"
        "answered = []\n"
        "for port in ports:\n"
        "    for host in ('127.0.0.1', '10.0.2.2'):\n"
        "        s = socket.socket(); s.settimeout(3)\n"
        "        try:\n"
        "            s.connect((host, port))\n"
        "            s.sendall(bytes([0xff, *[0] * 8, 0x7f, 3]))\n"
        "            got = s.recv(64)\n"
        "            if got: answered.append((host, port, got))\n"
        "        except OSError:\n"
        "            pass\n"
        "        finally:\n"
        "            s.close()\n"
        "print('answered', answered)\n"
        f"print('sockets', glob.glob('/**/*{a['runtime_id']}*', recursive=False))")
    _, intruder = make_person(head, client, f"intruder{int(time.time())}")
    # Ray spreads runtimes: the intruder keeps starting them (each 1 GiB of a node's 3 GiB)
    # until one lands beside the victim's
    held = []
    for attempt in range(5):
        b_path = f"Notebooks/intruder-{attempt}.ipynb"
        b_ids, b = connect(intruder, b_path, [probe])
        held.append(b_path)
        if b["node"] == a["node"]:
            break
    assert b["node"] == a["node"], "no runtime of the intruder landed beside the victim's"
    try:
        (seen,) = run(intruder, b_path, b_ids)
        assert seen == "answered []\nsockets []\n"
        # and on the node: every connection to the relay is the control plane's
        assert head.proc is not None
        assert relay_peers(cluster, conn) == {head.proc.pid}

        # a peer on the cluster's network with the relay's public key but not its secret:
        # CurveZMQ refuses it, so it neither reads IOPub nor gets an answer on shell
        ctx = zmq.Context()
        pub, sec = new_keypair()
        socks = []
        try:
            for kind in (zmq.SUB, zmq.DEALER):
                s = ctx.socket(kind)
                s.linger = 0
                s.curve_publickey, s.curve_secretkey = pub.encode(), sec.encode()
                s.curve_serverkey = conn["curve_publickey"].encode()
                if kind == zmq.SUB:
                    s.setsockopt(zmq.SUBSCRIBE, b"")
                socks.append(s)
            plain = ctx.socket(zmq.SUB)
            plain.linger = 0
            plain.setsockopt(zmq.SUBSCRIBE, b"")
            socks.append(plain)
            def dial() -> None:  # from inside the cluster's network, where the relay listens
                socks[0].connect(f"tcp://{conn['ip']}:{conn['iopub_port']}")
                socks[1].connect(f"tcp://{conn['ip']}:{conn['shell_port']}")
                plain.connect(f"tcp://{conn['ip']}:{conn['iopub_port']}")
                socks[1].send_multipart([b"<IDS|MSG>", b"", b"{}", b"{}", b"{}", b"{}"])

            netns.run_in(cluster.netns, dial)
            # the victim's cell prints while the peers listen; its person sees every line
            (text,) = run(client, "Notebooks/victim.ipynb", a_ids)
            assert text.count("secret-output") == 40
            got = []
            for s in socks:
                while s.poll(500):
                    got.append(s.recv_multipart())
            assert got == []
        finally:
            for s in socks:
                s.close(linger=0)
            ctx.term()
    finally:
        disconnect(intruder, *held)
        disconnect(client, "Notebooks/victim.ipynb")


def test_a_killed_worker_loses_its_runtimes_with_a_sentence(cluster: Cluster, head: DikteServer,
                                                            client: Client) -> None:
    path = "Notebooks/doomed.ipynb"
    # a T4 runtime: on node1, the node that joins again below under the same name
    ids, info = connect(client, path, ["x = 41"], "T4")
    run(client, path, ids)
    node = info["node"]
    assert node == "node1"
    gone, _ = disconnected_after(client, path,
                                 lambda: os.kill(cluster.raylet_pid(node), signal.SIGKILL))
    assert gone == (
        f"The machine this runtime ran on ({node}) stopped answering, so the runtime is lost: "
        "its variables and the files in /content are gone. Your drive and the notebook's saved "
        "outputs are kept; connect again for a new runtime.")
    assert path not in sessions_by_path(client)
    assert client.view(path)["runtime"] is None
    # the node joins again; the next runtime runs there
    cluster.join(node, "T4")
    wait_until(f"{node} back", lambda: node in {n["name"] for n in client.get("/api/admin/nodes")})
    again = client.post("/api/notebooks/connect", {"path": path, "shape": "T4"})
    assert again["node"] == node
    assert run(client, path, ids) == [""]
    # the new node is slow to answer for a while: that is not its dead namesake's death
    host_pid = {n["name"]: n["pid"] for n in client.get("/api/admin/nodes")}[node]
    sock = client.socket(path)
    try:
        seen = len(head.log_text())
        os.kill(host_pid, signal.SIGSTOP)
        try:
            said = wait_until("the control plane's verdict on the silent node", lambda: [
                line for line in head.log_text()[seen:].splitlines()
                if f"node {node} is dead" in line or f"node {node} is slow to answer" in line])
        finally:
            os.kill(host_pid, signal.SIGCONT)
        assert "is slow to answer" in said[-1], said
        assert run(client, path, ids) == [""]
        assert not [m for m in list(sock.messages) if m["type"] == "runtime"
                    and m["status"] == "disconnected"]
    finally:
        sock.close()
    disconnect(client, path)


def test_a_drained_worker_warns_its_runtime_which_checkpoints_and_resumes_elsewhere(
        cluster: Cluster, head: DikteServer, client: Client) -> None:
    client.call("PUT", "/api/drive/files/train/sgd.py",
                content=(HERE / "programs" / "sgd.py").read_bytes())
    ckpt = f"{D}/run/sgd.ckpt"
    setup = f"import sys, threading\nsys.path.append('{D}/train')\nimport dikte.kernel, sgd"
    path = "Notebooks/train-drain.ipynb"
    ids, info = connect(client, path, [
        setup,
        "stop = threading.Event()\ndikte.kernel.on_preempt(lambda notice: stop.set())\n"
        "print('training', flush=True)\n"
        f"result = sgd.train('{ckpt}', epochs=10**6, stop=stop, pause=0.001)\n"
        "print('checkpointed at epoch %d, step %d' % result['stopped_at'])"])
    node = info["node"]
    node_id = {n["name"]: n["node_id"] for n in client.get("/api/admin/nodes")}[node]
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": ids[0]})
        sock.send({"type": "execute", "cell_id": ids[1]})
        wait_until("training began", lambda: "training" in cell_text(client.view(path), ids[1]))
        cluster.ray("drain-node", "--address", "127.0.0.1:6390", "--node-id", node_id,
                    "--reason", "DRAIN_NODE_REASON_PREEMPTION", "--reason-message",
                    "spot instance reclaimed", "--deadline-remaining-seconds", "25")
        notice = sock.wait_for(lambda m: m["type"] == "notice"
                               and m.get("code") == "machine_preempted", timeout=60)
        assert notice["message"].startswith("The machine this runtime runs on is being taken "
                                            "back: the runtime stops in ")
        assert sock.wait_done(ids[1], timeout=60)["last_status"] == "ok"
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=90)
    finally:
        sock.close()
    assert gone["message"] == (
        "The machine this runtime ran on was taken back (drained), so the runtime stopped. "
        "Your drive, with any checkpoint written there, is kept; connect again for a runtime "
        "on another machine.")
    m = re.fullmatch(r"training\ncheckpointed at epoch (\d+), step (\d+)\n",
                     cell_text(client.view(path), ids[1]))
    assert m, cell_text(client.view(path), ids[1])
    assert (head.data_dir / "drives" / "1" / "run" / "sgd.ckpt").is_file()

    # a new runtime lands on the other node (nothing new goes to a draining one) and resumes
    resume = "Notebooks/train-resume.ipynb"
    r_ids, again = connect(client, resume, [
        setup,
        f"left = dikte.kernel.checkpoint.load('{ckpt}', rng=False)\n"
        "epochs = left['epoch'] + 2\n"
        f"resumed = sgd.train('{ckpt}', epochs)['w']\n"
        "straight = sgd.train('/tmp/none.ckpt', epochs, resume=False)['w']\n"
        "print(left['epoch'], left['step'], (resumed == straight).all(), (resumed != 0).any())"])
    assert again["node"] != node
    _, compared = run(client, resume, r_ids)
    assert compared.split() == [m.group(1), m.group(2), "True", "True"]
    disconnect(client, resume)
    # the drained node goes, as its machine would; a fresh one joins in its place
    os.kill(cluster.raylet_pid(node), signal.SIGKILL)
    wait_until(f"{node} gone", lambda: node not in {
        n["name"] for n in client.get("/api/admin/nodes")}, timeout=120)
    cluster.join(node, *(["T4"] if node == "node1" else []))
    wait_until(f"{node} back", lambda: node in {n["name"] for n in client.get("/api/admin/nodes")})


def test_a_restarted_control_plane_reattaches_every_remote_runtime(cluster: Cluster,
                                                                   head: DikteServer) -> None:
    client = head.client()
    paths = {"Notebooks/keep-cpu.ipynb": "standard", "Notebooks/keep-gpu.ipynb": "T4"}
    before = {}
    for path, shape in paths.items():
        ids, info = connect(client, path, ["x = 'kept on ' + __import__('socket').gethostname()",
                                           "print(x)"], shape)
        run(client, path, ids[:1])
        before[path] = (ids, info)
    # one more, which the database says was still starting when the server was killed
    half = "Notebooks/half-started.ipynb"
    _, started = connect(client, half, ["1"])
    set_runtime_status(head, started["runtime_id"], "starting")
    head.stop(signal.SIGKILL)
    head.start(timeout=120)
    client = head.client()
    listed = sessions_by_path(client)
    for path, (ids, info) in before.items():
        assert listed[path]["runtime_id"] == info["runtime_id"]
        assert listed[path]["node"] == info["node"]
        assert run(client, path, ids[1:]) == [f"kept on dikte-{info['runtime_id']}\n"]
    # nobody holds the half-started one: its node ended it, and its place in the cluster is free
    assert half not in listed
    space = cluster.instance_space(started["node"], started["runtime_id"])
    wait_until("its instance space removed", lambda: not space.exists())
    assert cluster.places() == sorted(info["runtime_id"] for _, info in before.values())
    disconnect(client, *paths)


def set_runtime_status(head: DikteServer, runtime_id: str, status: str) -> None:
    database(head, "UPDATE runtimes SET status = :s WHERE id = :id", s=status, id=runtime_id)


def test_secrets_meters_and_the_tier_limits_work_on_a_runtime_on_another_machine(
        head: DikteServer, client: Client) -> None:
    _, person = make_person(head, client, "brief-one", tier="brief")
    secret = f"value-{os.urandom(8).hex()}"
    person.http.put("/api/secrets/TOKEN", json={"value": secret})
    path = "Notebooks/remote-helpers.ipynb"
    ids = person.new_notebook(path, [
        "from google.colab import userdata\nprint(userdata.get('TOKEN'))",
        "open('/content/blob', 'wb').write(b'1' * 64 * 2**20)\n"
        "held = bytearray(300 * 2**20)\nheld[::4096] = b'1' * len(held[::4096])",
        "import dikte.kernel, time\ngot = []\ndikte.kernel.on_preempt(got.append)\n"
        "while not got: time.sleep(0.1)\nprint(got[0].code, 0 < got[0].seconds_left() <= 30)"])
    person.post("/api/secrets/TOKEN/access", {"path": path, "granted": True})
    info = person.post("/api/notebooks/connect", {"path": path})
    assert info["node"] in ("node1", "node2")
    # run with no tab open: the outputs are kept by the server
    person.post("/api/notebooks/run", {"path": path, "cell_ids": ids[:2]})
    view = wait_until("the cells ran", lambda: (v := person.view(path)) and all(
        v["cells"][c]["last_status"] is not None and v["cells"][c]["state"] == "idle"
        for c in ids[:2]) and v)
    assert [view["cells"][c]["last_status"] for c in ids[:2]] == ["ok", "ok"], [
        cell_text(view, c) for c in ids[:2]]
    assert cell_text(view, ids[0]) == f"{secret}\n"
    # the meters: the node measures the runtime's RAM and disk
    session = wait_until("the meters", lambda: [
        s for s in person.get("/api/sessions") if s["notebook_path"] == path
        and (s["memory_bytes"] or 0) >= 300 * 2**20 and (s["disk_bytes"] or 0) >= 64 * 2**20])
    assert session[0]["memory_limit"] == 2**30 and session[0]["node"] == info["node"]
    # the tier's maximum lifetime: warned (the kernel's preemption notice), then stopped
    sock = person.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": ids[2]})
        sock.wait_done(ids[2], timeout=90)
        assert cell_text(person.view(path), ids[2]) == "max_lifetime True\n"
        gone = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "disconnected",
                             timeout=90)
    finally:
        sock.close()
    assert gone["message"].startswith("Runtime disconnected: maximum lifetime of "), gone
    assert path not in sessions_by_path(person)


def test_a_node_ends_a_runtime_whose_place_is_gone_and_a_disconnect_deletes_its_space(
        cluster: Cluster, client: Client) -> None:
    path = "Notebooks/orphan.ipynb"
    ids, info = connect(client, path, ["x = 1"])
    run(client, path, ids)
    space = cluster.instance_space(info["node"], info["runtime_id"])
    assert space.is_dir()
    # its place in the cluster goes behind the control plane's back (as when a control plane
    # freed its place but could not reach the node to stop it)
    gone, seen = disconnected_after(client, path, lambda: cluster.python(
        "from ray.util.placement_group import get_placement_group, remove_placement_group\n"
        f"remove_placement_group(get_placement_group('rt-{info['runtime_id']}'))"))
    assert gone == (
        f"The runtime is no longer running on its machine ({info['node']}): its variables and "
        "the files in /content are gone. Your drive and the notebook's saved outputs are kept; "
        "connect again for a new runtime.")
    assert not [m for m in seen if m["type"] == "runtime"
                and m["status"] == "restarting"]  # the whole runtime went: nothing to restart
    wait_until("its instance space removed", lambda: not space.exists())
    assert path not in sessions_by_path(client)
    # a runtime disconnected on purpose: its instance space on the node goes with it
    again = client.post("/api/notebooks/connect", {"path": path})
    space = cluster.instance_space(again["node"], again["runtime_id"])
    assert run(client, path, ids) == [""] and space.is_dir()
    disconnect(client, path)
    wait_until("its instance space removed", lambda: not space.exists())


def test_the_files_panel_reaches_a_runtime_on_another_machine(client: Client) -> None:
    path = "Notebooks/remote-files.ipynb"
    ids, _ = connect(client, path, [
        "open('/content/made-by-cell.txt', 'w').write('from the kernel')",
        "print(open('/content/up/sent.bin', 'rb').read() == bytes(range(256)) * 40000)"])
    files = "/api/runtime/files"
    try:
        run(client, path, ids[:1])
        listed = client.get(files, params={"path": path, "dir": ""})
        assert sorted(e["name"] for e in listed["entries"]) == ["drive", "made-by-cell.txt"]
        got = client.http.get(f"{files}/download", params={"path": path,
                                                           "file": "made-by-cell.txt"})
        assert got.status_code == 200 and got.content == b"from the kernel"
        # an upload of 10 MiB, in chunks through the node, lands where the kernel reads it
        client.call("POST", f"{files}/mkdir", json={"path": path, "dir": "up"})
        body = bytes(range(256)) * 40000
        up = client.http.put(f"{files}/upload", params={"path": path, "file": "up/sent.bin"},
                             content=body)
        assert up.status_code == 201, up.text
        assert run(client, path, ids[1:]) == ["True\n"]
        got = client.http.get(f"{files}/download", params={"path": path, "file": "up/sent.bin"})
        assert got.content == body
        # the node's local backend walks every path: nothing outside /content is reached
        bad = client.http.get(f"{files}/download", params={"path": path,
                                                           "file": "../../etc/passwd"})
        assert bad.status_code == 400, bad.text
        missing = client.http.get(f"{files}/download", params={"path": path, "file": "nope"})
        assert missing.status_code == 404 and "/content" in missing.json()["error"]["message"]
        client.post(f"{files}/delete", {"path": path, "file": "up"})
        listed = client.get(files, params={"path": path, "dir": ""})
        assert "up" not in [e["name"] for e in listed["entries"]]
        # the drive part of the panel is the person's drive, wherever the runtime runs
        listed = client.get(files, params={"path": path, "dir": "drive/MyDrive"})
        assert "Notebooks" in [e["name"] for e in listed["entries"]]
    finally:
        disconnect(client, path)


def test_a_terminal_and_a_served_port_reach_a_runtime_on_another_machine(
        head: DikteServer, client: Client) -> None:
    import httpx

    from tests.api.test_port_proxy import MARK, SERVER_CELL, _port_output
    from tests.api.test_terminal import terminal

    path = "Notebooks/remote-shell.ipynb"
    ids, info = connect(client, path, [SERVER_CELL])
    try:
        (state,) = client.run_cells(path, ids)
        (cell,) = [c for c in client.view(path)["notebook"]["cells"] if c["id"] == ids[0]]
        assert state["last_status"] == "ok", cell["outputs"]
        spec = _port_output(cell)
        # the page's proxied URL reaches the web server the cell started on the node
        minted = client.post("/api/runtime/proxy", {"runtime_id": spec["runtime_id"],
                                                    "port": spec["port"], "path": "/hello?x=1"})
        r = httpx.get(head.url + minted["url"], timeout=60)
        assert r.status_code == 200 and MARK in r.text and "/hello?x=1" in r.text
        # a shell in the runtime, on its node
        with terminal(client, path) as shell:
            assert shell.run("hostname; pwd; ls /content").split() == [
                f"dikte-{info['runtime_id']}", "/content", "drive"]
    finally:
        disconnect(client, path)


def test_a_runtime_the_cluster_has_no_room_for_waits_in_line_and_starts_when_room_frees(
        client: Client) -> None:
    import concurrent.futures

    # 1 GiB each: three fill a node's 3 GiB, six the cluster
    held = [f"Notebooks/fill-{i}.ipynb" for i in range(6)]
    for path in held:
        connect(client, path, ["1"])
    waiting = "Notebooks/no-room.ipynb"
    ids = client.new_notebook(waiting, ["print('placed')"])
    sock = client.socket(waiting)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    try:
        started = pool.submit(client.post, "/api/notebooks/connect", {"path": waiting})
        queued = sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "queued",
                               timeout=60)
        assert queued["runtime"]["queue_position"] == 1
        assert queued["runtime"]["waiting_for"] == "a machine with room"
        assert not started.done()
        disconnect(client, held.pop())
        info = started.result(timeout=120)
        assert info["status"] == "connected" and info["node"] in ("node1", "node2")
        assert run(client, waiting, ids) == ["placed\n"]
    finally:
        sock.close()
        pool.shutdown()
        disconnect(client, *held)
        if waiting in sessions_by_path(client):
            disconnect(client, waiting)


def test_out_of_memory_interrupt_and_restart_work_on_a_runtime_on_another_machine(
        client: Client) -> None:
    path = "Notebooks/remote-lifecycle.ipynb"
    keep, sleepy, hog, after = client.new_notebook(path, [
        "open('/content/kept.txt', 'w').write('kept'); x = 1",
        "import time; time.sleep(600)",
        "y = b'x' * (3 * 2**30)",
        "import os; print(os.path.exists('/content/kept.txt'), 'x' in dir())"])
    info = client.post("/api/notebooks/connect", {"path": path})
    assert info["node"] in ("node1", "node2")
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": keep})
        assert sock.wait_done(keep)["last_status"] == "ok"
        # interrupt: the running cell stops with KeyboardInterrupt
        sock.send({"type": "execute", "cell_id": sleepy})
        sock.wait_for(lambda m: m["type"] == "cell_state" and m["cell_id"] == sleepy
                      and m["state"] == "running")
        client.post("/api/notebooks/interrupt", {"path": path})
        assert sock.wait_done(sleepy)["last_status"] == "error"
        assert "KeyboardInterrupt" in cell_text(client.view(path), sleepy)
        # the node's memory limit: the kernel restarts, with the local backend's sentence
        sock.send({"type": "execute", "cell_id": hog})
        notice = sock.wait_for(lambda m: m["type"] == "notice" and "RAM" in m["message"])
        assert notice["message"] == ("Your runtime restarted after using all available RAM "
                                     "(limit 1 GiB).")
        sock.wait_for(lambda m: m["type"] == "runtime" and m["status"] == "connected"
                      and m["message"])
        # a restart keeps /content (the instance space) and forgets the variables
        sock.send({"type": "execute", "cell_id": after})
        assert sock.wait_done(after)["last_status"] == "ok"
        assert cell_text(client.view(path), after) == "True False\n"
        restarted = client.post("/api/notebooks/restart", {"path": path})
        assert restarted["runtime_id"] == info["runtime_id"]
        assert restarted["node"] == info["node"]
    finally:
        sock.close()
        disconnect(client, path)

"""The real ``dikte`` command, run as a subprocess against a real server (and headless)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nbformat as _nbformat
import psutil
import pytest

from tests.cli.conftest import COMMAND, Cli
from tests.support.procs import runtime_processes
from tests.support.server import DikteServer

nbformat: Any = _nbformat  # ships no type hints
NotebookFactory = Callable[..., str]
LONG_SLEEP = "import time\nprint('started', flush=True)\ntime.sleep(300)"


def cell(view: dict[str, Any], number: int) -> dict[str, Any]:
    return dict(view["notebook"]["cells"][number - 1])


def state(view: dict[str, Any], number: int) -> dict[str, Any]:
    return dict(view["cells"].get(cell(view, number)["id"], {}))


def finished(view: dict[str, Any], number: int) -> bool:
    st = state(view, number)
    return st.get("state") == "idle" and st.get("last_status") is not None


def text_of(view: dict[str, Any], number: int) -> str:
    parts = []
    for out in cell(view, number).get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(out["text"])
        elif out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
        else:
            parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def runtime_id(connect_stdout: str) -> str:
    m = re.search(r"connected: runtime (\w+)", connect_stdout)
    assert m, connect_stdout
    return m.group(1)


def processes_of(rid: str) -> list[psutil.Process]:
    return runtime_processes(rid)


def assert_gone(rid: str, before: list[psutil.Process]) -> None:
    assert before, f"no process of runtime {rid} was found while it ran"
    alive = [p for p in before if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    assert not alive, alive
    assert not processes_of(rid)


# --- drive -----------------------------------------------------------------------------------


def test_drive_mkdir_upload_ls_download_mv_rm(cli: Cli, server: DikteServer,
                                              tmp_path: Path) -> None:
    drive = server.data_dir / "drives" / "1"
    payload = bytes(range(256)) * 400 + b"\x00end"
    local = tmp_path / "blob.bin"
    local.write_bytes(payload)

    cli.ok("drive", "mkdir", "Data/raw")
    assert (drive / "Data" / "raw").is_dir()
    out = cli.ok("drive", "upload", str(local), "Data/raw/blob.bin")
    assert f"({len(payload)} bytes)" in out
    listing = cli.ok("drive", "ls", "Data/raw")
    assert re.search(rf"^file\s+{len(payload)}\s+Data/raw/blob\.bin$", listing, re.M), listing

    back = tmp_path / "back.bin"
    cli.ok("drive", "download", "Data/raw/blob.bin", str(back))
    assert back.read_bytes() == payload

    cli.ok("drive", "mv", "Data/raw/blob.bin", "Data/moved.bin")
    assert "blob.bin" not in cli.ok("drive", "ls", "Data/raw")
    assert "Data/moved.bin" in cli.ok("drive", "ls", "Data")
    assert (drive / "Data" / "moved.bin").read_bytes() == payload

    cli.ok("drive", "rm", "Data/moved.bin")
    assert not (drive / "Data" / "moved.bin").exists()
    assert "moved.bin" not in cli.ok("drive", "ls", "Data")


def test_drive_file_names_with_url_characters_round_trip(cli: Cli, server: DikteServer,
                                                         tmp_path: Path) -> None:
    name = "odd #1? 100%.txt"
    local = tmp_path / "odd.txt"
    local.write_text("odd\n")
    cli.ok("drive", "upload", str(local), name)
    assert (server.data_dir / "drives" / "1" / name).read_text() == "odd\n"
    back = tmp_path / "back.txt"
    cli.ok("drive", "download", name, str(back))
    assert back.read_text() == "odd\n"
    cli.ok("drive", "rm", name)
    assert not (server.data_dir / "drives" / "1" / name).exists()


@pytest.mark.parametrize("args", [
    ["mkdir", "../x"],
    ["ls", "../x"],
    ["upload", "{local}", "../x"],
    ["download", "../x", "{local}"],
    ["mv", "../x", "y"],
    ["mv", "Notebooks", "../x"],
    ["rm", "../x"],
])
def test_drive_paths_leaving_the_drive_fail_clearly(cli: Cli, server: DikteServer,
                                                    tmp_path: Path, args: list[str]) -> None:
    local = tmp_path / "local.txt"
    local.write_text("local\n")
    r = cli("drive", *(a.replace("{local}", str(local)) for a in args))
    assert r.returncode != 0
    assert "not allowed" in r.stderr and "../x" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not (server.data_dir / "drives" / "x").exists()
    assert local.read_text() == "local\n"


def test_drive_local_file_problems_fail_clearly(cli: Cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing.txt"
    r = cli("drive", "upload", str(missing), "missing.txt")
    assert r.returncode == 1
    assert r.stderr == f"dikte: {missing}: No such file or directory\n"
    assert "missing.txt" not in cli.ok("drive", "ls")

    local = tmp_path / "here.txt"
    local.write_text("here\n")
    cli.ok("drive", "upload", str(local), "here.txt")
    r = cli("drive", "download", "here.txt", str(tmp_path / "no-such-dir" / "here.txt"))
    assert r.returncode == 1
    assert "No such file or directory" in r.stderr and "Traceback" not in r.stderr
    cli.ok("drive", "rm", "here.txt")


def test_drive_rm_with_dot_segments_does_not_delete_another_file(cli: Cli, server: DikteServer,
                                                                 tmp_path: Path) -> None:
    # The URL /api/drive/files/../files/keep.txt must not be normalised into .../files/keep.txt.
    keep = tmp_path / "keep.txt"
    keep.write_text("keep\n")
    cli.ok("drive", "upload", str(keep), "keep.txt")
    r = cli("drive", "rm", "../files/keep.txt")
    assert r.returncode != 0 and "not allowed" in r.stderr, r.stderr
    assert (server.data_dir / "drives" / "1" / "keep.txt").exists()
    cli.ok("drive", "rm", "keep.txt")


# --- notebook editing ------------------------------------------------------------------------


def test_notebook_create_add_set_type_move_delete_show(cli: Cli) -> None:
    path = "Notebooks/edit.ipynb"
    assert cli.ok("notebook", "create", path).strip() == path

    def cells() -> list[tuple[str, str]]:
        return [(c["cell_type"], c["source"]) for c in cli.view(path)["notebook"]["cells"]]

    assert cells() == [("code", "")]
    first = cli.view(path)["notebook"]["cells"][0]["id"]
    a = cli.ok("notebook", "add", path, "a = 1").strip()
    cli.ok("notebook", "add", path, "# Title", "--type", "markdown")
    cli.ok("notebook", "add", path, "top = 0", "--index", "0")
    assert cells() == [("code", "top = 0"), ("code", ""), ("code", "a = 1"),
                       ("markdown", "# Title")]
    assert cli.view(path)["notebook"]["cells"][2]["id"] == a

    cli.ok("notebook", "set", path, a, "a = 10")          # by id
    cli.ok("notebook", "set", path, "2", "print('two')")  # by number
    assert cells() == [("code", "top = 0"), ("code", "print('two')"), ("code", "a = 10"),
                       ("markdown", "# Title")]
    cli.ok("notebook", "set", path, "1", "-", input="from\nstdin\n")
    assert cells()[0] == ("code", "from\nstdin\n")

    cli.ok("notebook", "set-type", path, "4", "raw")
    assert cells()[3] == ("raw", "# Title")
    cli.ok("notebook", "move-cell", path, "4", "0")
    assert cells() == [("raw", "# Title"), ("code", "from\nstdin\n"), ("code", "print('two')"),
                       ("code", "a = 10")]
    cli.ok("notebook", "delete-cell", path, first)
    assert cells() == [("raw", "# Title"), ("code", "from\nstdin\n"), ("code", "a = 10")]

    shown = cli.ok("notebook", "show", path)
    assert shown.startswith(f"{path}: no runtime")
    assert re.search(r"^\[1\] raw \w+ \(idle\)\n  \| # Title$", shown, re.M), shown
    assert re.search(rf"^\[3\] code {a} \(idle\)\n  \| a = 10$", shown, re.M), shown
    assert "print('two')" not in shown

    r = cli("notebook", "set", path, "9", "x")
    assert r.returncode == 1 and "no cell '9'" in r.stderr and "3 cells" in r.stderr


# --- runtimes and sessions -------------------------------------------------------------------


def test_connect_prints_runtime_id_and_sessions_lists_it(cli: Cli,
                                                         notebook: NotebookFactory) -> None:
    path = notebook("x = 1")
    rid = runtime_id(cli.ok("notebook", "connect", path, timeout=120))
    listing = cli.ok("sessions")
    line = next((ln for ln in listing.splitlines() if ln.startswith(rid)), None)
    assert line is not None, listing
    assert path in line
    assert re.search(r"RAM \d+ MiB/2048 MiB", line), line
    assert re.search(r"disk \d+ MiB/\d+ MiB", line), line
    assert rid in cli.ok("sessions", "list")
    assert f"runtime {rid} connected" in cli.ok("notebook", "show", path)
    cli.ok("notebook", "disconnect", path)


def test_sessions_terminate_ends_the_session(cli: Cli, notebook: NotebookFactory,
                                             server: DikteServer) -> None:
    path = notebook("x = 1")
    rid = runtime_id(cli.ok("notebook", "connect", path, timeout=120))
    running = processes_of(rid)
    assert cli.ok("sessions", "terminate", rid).strip() == f"terminated {rid}"
    assert rid not in cli.ok("sessions")
    assert "no runtime" in cli.ok("notebook", "show", path)
    assert not (server.data_dir / "runtimes" / rid).exists()
    assert_gone(rid, running)
    r = cli("sessions", "terminate", rid)
    assert r.returncode == 1 and r.stderr.startswith("dikte: ") and "Traceback" not in r.stderr


def test_disconnect_deletes_the_runtime(cli: Cli, notebook: NotebookFactory,
                                        server: DikteServer) -> None:
    path = notebook("open('/content/made-here.txt', 'w').write('x')")
    rid = runtime_id(cli.ok("notebook", "connect", path, timeout=120))
    cli.ok("notebook", "run", path, "1")
    space = server.data_dir / "runtimes" / rid
    assert space.is_dir()
    running = processes_of(rid)
    assert rid in cli.ok("sessions")

    cli.ok("notebook", "disconnect", path)
    assert rid not in cli.ok("sessions")
    assert not space.exists()
    assert_gone(rid, running)
    assert "no runtime" in cli.ok("notebook", "show", path)


# --- running cells ---------------------------------------------------------------------------


def test_run_prints_outputs_in_order_and_fails_on_error(cli: Cli,
                                                        notebook: NotebookFactory) -> None:
    path = notebook("print('first')", "print('second')\n6 * 7", "1 / 0")
    r = cli("notebook", "run", path, "1", "2", timeout=120)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("--- cell 1 running ---") < out.index("first") \
        < out.index("--- cell 2 running ---") < out.index("second") < out.index("42")

    r = cli("notebook", "run", path, "3")
    assert r.returncode == 1
    assert "ZeroDivisionError" in r.stdout
    assert "first" not in r.stdout

    r = cli("notebook", "run", path)
    assert r.returncode != 0 and "name the cells" in r.stderr


def test_run_all_before_after(cli: Cli, notebook: NotebookFactory) -> None:
    path = notebook("log = ['a']", "log.append('b')", "log.append('c')", "print(log)")
    r = cli("notebook", "run", path, "--all", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "['a', 'b', 'c']" in r.stdout
    assert r.stdout.count("running ---") == 4

    r = cli("notebook", "run", path, "--before", "3")
    assert r.returncode == 0, r.stderr
    assert re.findall(r"--- cell (\d) running", r.stdout) == ["1", "2"]
    assert "['a', 'b']" in cli.ok("notebook", "run", path, "4")

    r = cli("notebook", "run", path, "--after", "3")
    assert r.returncode == 0, r.stderr
    assert re.findall(r"--- cell (\d) running", r.stdout) == ["3", "4"]
    assert "['a', 'b', 'c']" in r.stdout


def test_interrupt_stops_a_detached_cell(cli: Cli, notebook: NotebookFactory) -> None:
    path = notebook(LONG_SLEEP, "print('after')")
    assert "queued 1 cell(s)" in cli.ok("notebook", "run", path, "1", "--detach")
    cli.wait_view(path, lambda v: state(v, 1).get("state") == "running"
                  and "started" in text_of(v, 1), timeout=90)
    cli.ok("notebook", "interrupt", path)
    view = cli.wait_view(path, lambda v: finished(v, 1), timeout=30)
    assert state(view, 1)["last_status"] == "error"
    assert "KeyboardInterrupt" in cli.ok("notebook", "show", path)
    assert "after" in cli.ok("notebook", "run", path, "2")  # the kernel lives on


def test_cancel_drops_queued_cells(cli: Cli, notebook: NotebookFactory) -> None:
    path = notebook(LONG_SLEEP, "print('never')", "print('never either')")
    assert "queued 3 cell(s)" in cli.ok("notebook", "run", path, "--all", "--detach")
    cli.wait_view(path, lambda v: state(v, 1).get("state") == "running"
                  and state(v, 3).get("state") == "queued", timeout=90)
    cli.ok("notebook", "cancel", path)
    view = cli.view(path)
    for n in (2, 3):
        assert state(view, n).get("state") == "idle"
        assert state(view, n).get("last_status") == "cancelled"
    assert state(view, 1)["state"] == "running"
    shown = cli.ok("notebook", "show", path)
    assert "never" not in shown.replace("print('never')", "").replace("print('never either')", "")
    cli.ok("notebook", "interrupt", path)
    cli.wait_view(path, lambda v: finished(v, 1), timeout=30)
    assert text_of(cli.view(path), 2) == ""


def test_restart_forgets_variables(cli: Cli, notebook: NotebookFactory) -> None:
    path = notebook("x = 41", "print(x + 1)")
    assert "42" in cli.ok("notebook", "run", path, "1", "2", timeout=120)
    cli.ok("notebook", "restart", path, timeout=120)
    r = cli("notebook", "run", path, "2")
    assert r.returncode == 1
    assert "NameError" in r.stdout


def test_interrupt_and_restart_without_runtime_fail_clearly(cli: Cli,
                                                            notebook: NotebookFactory) -> None:
    path = notebook("x = 1")
    for op in ("interrupt", "restart"):
        r = cli("notebook", op, path)
        assert r.returncode == 1
        assert "no connected runtime" in r.stderr and "Traceback" not in r.stderr


# --- input() ---------------------------------------------------------------------------------


def test_run_answers_input_from_stdin(cli: Cli, notebook: NotebookFactory) -> None:
    path = notebook("name = input('Your name? ')\nprint('hello', name.upper())")
    r = cli("notebook", "run", path, "1", input="ada\n", timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Your name? " in r.stdout
    assert "hello ADA" in r.stdout


def test_run_with_no_stdin_left_for_input_fails_cleanly(cli: Cli,
                                                        notebook: NotebookFactory) -> None:
    path = notebook("name = input('Your name? ')\nprint('hello', name)", "print('next')")
    r = cli("notebook", "run", path, "1", input="", timeout=120)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr, r.stderr
    assert "no input" in r.stderr
    view = cli.wait_view(path, lambda v: finished(v, 1), timeout=30)
    assert view.get("pending_input") is None
    assert "next" in cli.ok("notebook", "run", path, "2")


def test_detached_input_answered_from_another_terminal(cli: Cli,
                                                       notebook: NotebookFactory) -> None:
    path = notebook("name = input('Your name? ')\nprint('hello', name.upper())")
    cli.ok("notebook", "run", path, "1", "--detach")
    cli.wait_view(path, lambda v: v.get("pending_input") is not None, timeout=90)
    assert "waiting for input: 'Your name? '" in cli.ok("notebook", "show", path)
    cli.ok("notebook", "input", path, "grace")
    view = cli.wait_view(path, lambda v: finished(v, 1), timeout=30)
    assert state(view, 1)["last_status"] == "ok"
    assert "hello GRACE" in text_of(view, 1)


# --- detach, wait, show ----------------------------------------------------------------------


def test_detached_run_keeps_going_and_show_has_its_outputs(cli: Cli,
                                                           notebook: NotebookFactory) -> None:
    path = notebook("import time\nfor i in range(5):\n    print('tick', i, flush=True)\n"
                    "    time.sleep(0.5)")
    cli.ok("notebook", "connect", path, timeout=120)
    out = cli.ok("notebook", "run", path, "1", "--detach")
    assert "queued 1 cell(s)" in out
    assert not finished(cli.view(path), 1)  # returned at once, while the cell runs
    view = cli.wait_view(path, lambda v: finished(v, 1), timeout=60)
    assert state(view, 1)["last_status"] == "ok"
    assert text_of(view, 1) == "".join(f"tick {i}\n" for i in range(5))
    shown = cli.ok("notebook", "show", path)
    assert "(idle, last ok)" in shown and "tick 4" in shown


# --- headless run ----------------------------------------------------------------------------


def headless(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, "run", "--data-dir", str(tmp_path / "data"), *args],
                          capture_output=True, text=True, timeout=150,
                          stdin=subprocess.DEVNULL)


def write_notebook(path: Path, *sources: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, path)
    return path


@pytest.mark.timeout(180)
def test_headless_run_writes_outputs(tmp_path: Path) -> None:
    src = write_notebook(tmp_path / "good.ipynb", "print('hello from headless')",
                         "x = 6 * 7\nx")
    before = src.read_bytes()
    out = tmp_path / "out.ipynb"
    r = headless(tmp_path, str(src), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "hello from headless" in r.stdout
    assert src.read_bytes() == before
    done = nbformat.read(out, as_version=4)
    assert done.cells[0].outputs[0]["text"] == "hello from headless\n"
    assert done.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert [c.execution_count for c in done.cells] == [1, 2]


@pytest.mark.timeout(180)
def test_headless_run_saves_widget_state_and_prints_progress_bars(tmp_path: Path) -> None:
    src = write_notebook(tmp_path / "bars.ipynb",
                         "from tqdm.auto import tqdm\nfor i in tqdm(range(50)):\n    pass",
                         "import ipywidgets as w\nw.IntSlider(value=7, description='n')")
    out = tmp_path / "out.ipynb"
    r = headless(tmp_path, str(src), "-o", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "100%|██████████| 50/50" in r.stdout  # the bar as it ended, not as it began
    assert "n 7" in r.stdout
    done = nbformat.read(out, as_version=4)
    state = done.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bar = done.cells[0].outputs[-1]["data"]["application/vnd.jupyter.widget-view+json"]
    assert state[bar["model_id"]]["model_name"] == "HBoxModel"
    values = [m["state"].get("value") for m in state.values()]
    assert 50 in values and 7 in values


@pytest.mark.timeout(180)
def test_headless_run_reports_the_failing_cell(tmp_path: Path) -> None:
    src = write_notebook(tmp_path / "bad.ipynb", "print('before')",
                         "def boom():\n    raise LookupError('no such thing')\nboom()",
                         "print('after')")
    out = tmp_path / "out.ipynb"
    r = headless(tmp_path, str(src), "-o", str(out))
    assert r.returncode == 1, r.stdout + r.stderr
    assert "--- Cell 2 failed ---" in r.stderr
    assert "raise LookupError('no such thing')" in r.stderr
    assert "LookupError" in r.stderr.split("--- its output ---")[1]
    assert "after" not in r.stdout
    done = nbformat.read(out, as_version=4)
    assert done.cells[1].outputs[-1]["ename"] == "LookupError"


@pytest.mark.parametrize("content", [b'{"cells": [', b"not a notebook at all\n",
                                     b'{"nbformat": 4, "cells": "nope"}'])
def test_headless_run_rejects_a_malformed_notebook(tmp_path: Path, content: bytes) -> None:
    src = tmp_path / "broken.ipynb"
    src.write_bytes(content)
    out = tmp_path / "out.ipynb"
    r = headless(tmp_path, str(src), "-o", str(out))
    assert r.returncode not in (0, None)
    assert r.stderr.startswith("dikte run: "), r.stderr
    assert "Traceback" not in r.stderr
    assert "notebook" in r.stderr.lower()
    assert src.read_bytes() == content
    assert not out.exists()


@pytest.mark.timeout(180)
def test_headless_run_gives_secrets_from_the_environment(tmp_path: Path) -> None:
    src = write_notebook(
        tmp_path / "secrets.ipynb",
        "from google.colab import userdata\nprint(userdata.get('API_KEY'), "
        "userdata.get('OTHER'))",
        "try:\n    userdata.get('MISSING')\nexcept userdata.SecretNotFoundError as e:\n"
        "    print(type(e).__name__, e)")
    r = subprocess.run(
        [*COMMAND, "run", "--data-dir", str(tmp_path / "data"), str(src),
         "--secret", "API_KEY", "--secret", "OTHER=MY_OTHER_VARIABLE"],
        capture_output=True, text=True, timeout=150, stdin=subprocess.DEVNULL,
        env={**os.environ, "API_KEY": "k-123", "MY_OTHER_VARIABLE": "o-456"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "k-123 o-456" in r.stdout
    assert "SecretNotFoundError Secret MISSING does not exist: this is a `dikte run` run; give " \
           "it with --secret MISSING" in r.stdout
    r = subprocess.run([*COMMAND, "run", "--data-dir", str(tmp_path / "data"), str(src),
                        "--secret", "API_KEY"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL,
                       env={k: v for k, v in os.environ.items() if k != "API_KEY"})
    assert r.returncode == 2
    assert r.stderr == ("dikte run: --secret API_KEY: the environment has no variable API_KEY; "
                        "set it (export API_KEY=...) or name another with --secret "
                        "API_KEY=VARIABLE.\n")


def test_headless_run_of_a_missing_file_fails_clearly(tmp_path: Path) -> None:
    r = headless(tmp_path, str(tmp_path / "nope.ipynb"))
    assert r.returncode == 2
    assert "cannot read" in r.stderr and "nope.ipynb" in r.stderr


# --- doctor ----------------------------------------------------------------------------------


def test_doctor_reports_a_ready_sandbox() -> None:
    r = subprocess.run([*COMMAND, "doctor"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "bubblewrap" in r.stdout
    assert "cgroup" in r.stdout
    assert "Sandboxed runtimes: ready." in r.stdout


def test_serve_refuses_to_start_without_a_sandbox_and_prints_the_report(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path / "empty-bin")}  # no bwrap, no setpriv
    r = subprocess.run([sys.executable, "-m", "dikte.cli.main", "serve", "--port", "0",
                        "--data-dir", str(tmp_path / "data")], env=env, capture_output=True,
                       text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode == 2
    assert "Dikte host report" in r.stderr and "bubblewrap" in r.stderr
    assert "apt-get install bubblewrap" in r.stderr
    assert "will not start without a working sandbox" in r.stderr
    assert "--unsafe-no-sandbox" in r.stderr
    assert "Dikte is serving" not in r.stdout

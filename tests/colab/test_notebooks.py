"""Every notebook in tests/colab/notebooks runs unchanged through ``dikte run``, and its expected
outputs are there.

Expectations live in the notebook itself, where Colab keeps metadata it does not know:

- notebook metadata ``dikte_test`` (optional): ``fixtures`` (names from ``FIXTURES`` below: files
  and folders the test builds and puts in the run's drive with ``dikte run --with-drive``),
  ``uploads`` (fixtures given with ``--with``: in the working directory, what
  ``files.upload()`` returns), ``secrets`` and ``granted`` (the granted ones are given with
  ``--secret NAME`` from the environment),
  ``exit_code`` (default 0) and ``timeout`` (seconds, default 240).
- a code cell's metadata ``dikte_test`` (optional): ``output`` (its exact text: streams and
  text/plain results), ``contains`` (strings its text holds), ``error`` (the cell fails with
  exactly this sentence as its whole error output) or ``not_run`` (the run stopped before it).

A cell with no expectation must have run without an error. Add a notebook to the folder and it
is picked up; add a builder to ``FIXTURES`` for new files it needs in the drive.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.colab.wheels import make_wheel

HERE = Path(__file__).resolve().parent
NOTEBOOKS = sorted((HERE / "notebooks").glob("*.ipynb"))
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _wheels(where: Path) -> Path:
    folder = where / "wheels"
    folder.mkdir()
    make_wheel(folder, "colab-demo-utils", "0.1", {
        "demo_utils.py": "def mean(xs):\n    return sum(xs) / len(xs)\n"})
    return folder


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=Dikte tests", "-c", "user.email=tests@dikte.invalid",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True, env={"PATH": "/usr/bin:/bin", "HOME": str(cwd)},
                   timeout=60)


def _trainer_repo(where: Path) -> Path:
    """A bare git repository of fixtures/trainer, as a project a notebook clones."""
    work = where / "trainer-work"
    shutil.copytree(HERE / "fixtures" / "trainer", work)
    _git("init", "-q", cwd=work)
    _git("add", ".", cwd=work)
    _git("commit", "-q", "-m", "A training script that resumes", cwd=work)
    _git("clone", "-q", "--bare", str(work), str(where / "trainer.git"), cwd=where)
    return where / "trainer.git"


def _data_archive(where: Path) -> Path:
    csv = where / "points.csv"
    csv.write_text("x,y\n" + "".join(f"{x / 10},{2 * x / 10 + 1}\n" for x in range(20)))
    archive = where / "data.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(csv, arcname="points.csv")
    return archive


FIXTURES: dict[str, Callable[[Path], Path]] = {
    "wheels": _wheels,
    "trainer.git": _trainer_repo,
    "data.tar.gz": _data_archive,
}


def _joined(value: str | list[str]) -> str:
    """A notebook file keeps multi-line text as a list of lines."""
    return value if isinstance(value, str) else "".join(value)


def cell_text(cell: dict[str, Any]) -> str:
    parts = []
    for out in cell.get("outputs", []):
        if out["output_type"] == "stream":
            parts.append(_joined(out["text"]))
        elif "data" in out:
            parts.append(_joined(out["data"].get("text/plain", "")))
    return ANSI.sub("", "".join(parts))


def check_cell(number: int, cell: dict[str, Any], expect: dict[str, Any]) -> None:
    where = f"cell {number}: {_joined(cell['source'])[:60]!r}"
    errors = [o for o in cell.get("outputs", []) if o["output_type"] == "error"]
    text = cell_text(cell)
    if expect.get("not_run"):
        assert cell.get("execution_count") is None and not cell.get("outputs"), where
        return
    assert cell.get("execution_count") is not None, f"{where} did not run"
    if "error" in expect:
        assert len(errors) == 1, f"{where}: {errors}"
        assert [ANSI.sub("", line) for line in errors[0]["traceback"]] == [expect["error"]], where
        return
    assert not errors, f"{where} failed: {errors}"
    if "output" in expect:
        assert text == expect["output"], where
    for piece in expect.get("contains", []):
        assert piece in text, f"{where}: {piece!r} not in {text!r}"


@pytest.mark.timeout(300)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_unchanged_with_dikte_run(notebook: Path, tmp_path: Path,
                                                sandbox_host: None) -> None:
    original = notebook.read_bytes()
    doc = json.loads(original)
    spec: dict[str, Any] = doc["metadata"].get("dikte_test", {})
    fixtures = tmp_path / "fixtures"
    fixtures.mkdir()
    extra = [arg for name in spec.get("fixtures", [])
             for arg in ("--with-drive", str(FIXTURES[name](fixtures)))]
    extra += [arg for name in spec.get("uploads", [])
              for arg in ("--with", str(FIXTURES[name](fixtures)))]
    secrets = {f"TEST_SECRET_{name}": spec["secrets"][name] for name in spec.get("granted", [])}
    extra += [arg for name in spec.get("granted", [])
              for arg in ("--secret", f"{name}=TEST_SECRET_{name}")]
    out = tmp_path / "out.ipynb"
    r = subprocess.run(
        [sys.executable, "-m", "dikte.cli.main", "run", "--data-dir", str(tmp_path / "data"),
         str(notebook), "-o", str(out), "--timeout", str(spec.get("timeout", 240)), *extra],
        capture_output=True, text=True, timeout=spec.get("timeout", 240) + 30,
        stdin=subprocess.DEVNULL, env={**os.environ, **secrets})
    report = f"dikte run exited {r.returncode}\n--- stdout\n{r.stdout}\n--- stderr\n{r.stderr}"
    assert r.returncode == spec.get("exit_code", 0), report
    assert notebook.read_bytes() == original  # unchanged
    ran = json.loads(out.read_text())
    code = [c for c in ran["cells"] if c["cell_type"] == "code"]
    assert len(code) == sum(c["cell_type"] == "code" for c in doc["cells"])
    for number, cell in enumerate(code, 1):
        check_cell(number, cell, cell["metadata"].get("dikte_test", {}))
    if spec.get("exit_code", 0):
        assert "Traceback" not in r.stderr, report  # the failing cell shows its sentence only


def test_a_missing_with_path_fails_before_anything_runs(tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "dikte.cli.main", "run", "--data-dir", str(tmp_path / "data"),
         str(NOTEBOOKS[0]), "--with", str(tmp_path / "nope.tar.gz")],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert (r.returncode, r.stdout) == (2, "")
    assert r.stderr == f"dikte run: --with {tmp_path / 'nope.tar.gz'}: no such file or folder\n"

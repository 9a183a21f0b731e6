"""``dikte.kernel.checkpoint`` without torch: plain state, random generators, atomic writes,
keeping the last k, and resuming in one call."""

from __future__ import annotations

import os
import pickle
import random
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dikte.kernel import checkpoint
from dikte.kernel.checkpoint import CheckpointError


@pytest.fixture(autouse=True)
def no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a runtime without torch installed (``import torch`` fails), whatever else ran."""
    monkeypatch.setitem(sys.modules, "torch", None)


class Counter:
    """Anything with state_dict/load_state_dict is stored by its state dict."""

    def __init__(self, n: int = 0) -> None:
        self.n = n

    def state_dict(self) -> dict[str, int]:
        return {"n": self.n}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.n = state["n"]


def test_save_and_load_restore_live_objects_and_return_the_rest(tmp_path: Path) -> None:
    ckpt = tmp_path / "run" / "ckpt.pkl"  # the folder is made
    saved = checkpoint.save(ckpt, counter=Counter(7), epoch=3, step=120,
                            history=[0.9, 0.5], rng_gen=np.random.default_rng(5))
    assert saved == ckpt and checkpoint.exists(ckpt)
    fresh = Counter()
    rest = checkpoint.load(ckpt, counter=fresh)
    assert fresh.n == 7
    assert {k: v for k, v in rest.items() if k != "rng_gen"} == {
        "epoch": 3, "step": 120, "history": [0.9, 0.5]}
    assert rest["rng_gen"].integers(1000) == np.random.default_rng(5).integers(1000)
    # an object not passed back comes back as its state dict
    assert checkpoint.load(ckpt)["counter"] == {"n": 7}


def test_random_generators_continue_where_they_were(tmp_path: Path) -> None:
    random.seed(1)
    np.random.seed(2)
    random.random()
    np.random.rand()
    checkpoint.save(tmp_path / "c", step=1)
    expected = (random.random(), float(np.random.rand()))
    random.seed(99)
    np.random.seed(99)
    checkpoint.load(tmp_path / "c")
    assert (random.random(), float(np.random.rand())) == expected
    random.seed(99)
    checkpoint.load(tmp_path / "c", rng=False)  # left alone when asked
    assert random.random() == random.Random(99).random()


def test_a_first_run_has_nothing_to_resume(tmp_path: Path) -> None:
    assert checkpoint.load(tmp_path / "none.pkl", counter=Counter(), missing_ok=True) == {}
    with pytest.raises(FileNotFoundError, match="There is no checkpoint at"):
        checkpoint.load(tmp_path / "none.pkl")
    assert not checkpoint.exists(tmp_path / "none.pkl")


def test_keep_keeps_the_last_k(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pkl"
    for epoch in range(1, 6):
        checkpoint.save(ckpt, epoch=epoch, keep=3)
    assert [p.name for p in checkpoint.history(ckpt)] == ["ckpt.pkl", "ckpt.pkl.1", "ckpt.pkl.2"]
    assert [checkpoint.load(p)["epoch"] for p in checkpoint.history(ckpt)] == [5, 4, 3]
    checkpoint.save(ckpt, epoch=6)  # keep=1: the older ones go
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pkl"]


def test_the_newest_kept_one_is_read_when_the_file_itself_is_missing(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pkl"
    checkpoint.save(ckpt, epoch=1, keep=2)
    checkpoint.save(ckpt, epoch=2, keep=2)
    ckpt.unlink()  # e.g. stopped between the two renames on a filesystem without hard links
    assert checkpoint.load(ckpt)["epoch"] == 1


def test_a_save_that_fails_leaves_the_previous_checkpoint_whole(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pkl"
    checkpoint.save(ckpt, epoch=1, keep=2)
    with pytest.raises(CheckpointError, match=r"^'lock' cannot be saved: cannot pickle"):
        checkpoint.save(ckpt, epoch=2, lock=threading.Lock(), keep=2)
    assert sorted(os.listdir(tmp_path)) == ["ckpt.pkl"]  # no temporary file, nothing rotated
    assert checkpoint.load(ckpt) == {"epoch": 1}


def test_temporary_files_of_a_killed_save_are_cleaned_up(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pkl"
    import socket

    dead = tmp_path / f".ckpt.pkl.{socket.gethostname()}-{2**22 + 12345}-0a0b0c0d.tmp"
    dead.write_bytes(b"half a checkpoint")
    alive = tmp_path / f".ckpt.pkl.{socket.gethostname()}-{os.getpid()}-0a0b0c0d.tmp"
    alive.write_bytes(b"being written")
    checkpoint.save(ckpt, epoch=1)
    assert sorted(os.listdir(tmp_path)) == [alive.name, "ckpt.pkl"]


def test_the_file_is_replaced_by_rename_after_an_fsync(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        calls.append("fsync-dir" if os.path.isdir(f"/proc/self/fd/{fd}") else "fsync-file")
        real_fsync(fd)

    def replace(src: Any, dst: Any) -> None:
        calls.append(f"replace {Path(src).name[:6]} -> {Path(dst).name}")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    checkpoint.save(tmp_path / "ckpt.pkl", epoch=1)
    assert calls == ["fsync-file", "replace .ckpt. -> ckpt.pkl", "fsync-dir"]


def test_mistakes_are_named(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pkl"
    checkpoint.save(ckpt, counter=Counter(1), epoch=2)
    with pytest.raises(CheckpointError, match=r"has no optimizer; it holds counter, epoch\.$"):
        checkpoint.load(ckpt, counter=Counter(), optimizer=Counter())
    with pytest.raises(CheckpointError, match="'epoch' was saved as a plain value"):
        checkpoint.load(ckpt, epoch=Counter())
    with pytest.raises(CheckpointError, match="Cannot load 'counter' into a list"):
        checkpoint.load(ckpt, counter=[])
    with pytest.raises(ValueError, match="keep must be a whole number"):
        checkpoint.save(ckpt, epoch=1, keep=0)
    with pytest.raises(CheckpointError, match="Nothing to save"):
        checkpoint.save(ckpt)
    (tmp_path / "other.pkl").write_bytes(pickle.dumps({"epoch": 1}))
    with pytest.raises(CheckpointError, match="is not a checkpoint saved by dikte"):
        checkpoint.load(tmp_path / "other.pkl")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(CheckpointError, match="is not a checkpoint"):
        checkpoint.load(tmp_path / "text")


def test_a_torch_checkpoint_without_torch_says_what_to_install(tmp_path: Path) -> None:
    ckpt = tmp_path / "ckpt.pt"
    ckpt.write_bytes(b"PK\x03\x04 a zip archive torch.save would write")
    with pytest.raises(CheckpointError, match="was saved with PyTorch; install torch to load it"):
        checkpoint.load(ckpt)

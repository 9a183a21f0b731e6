"""``dikte.kernel.checkpoint`` with PyTorch (installed offline for the test run): modules,
optimizers, LR schedulers, AMP grad scalers and torch's random generator round-trip exactly."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from dikte.kernel import checkpoint


@pytest.fixture(scope="module")
def torch(torch_site: Path) -> Iterator[ModuleType]:
    sys.path.append(str(torch_site))  # after the venv: torch and what it lacks, nothing else
    try:
        import torch

        torch.set_num_threads(1)
        yield torch
    finally:
        sys.path.remove(str(torch_site))


def parts(torch: Any, seed: int) -> tuple[Any, Any, Any, Any]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Dropout(0.2),
                                torch.nn.Linear(8, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0, growth_interval=1)
    return model, opt, sched, scaler


def train(torch: Any, model: Any, opt: Any, sched: Any, scaler: Any, steps: int) -> None:
    for _ in range(steps):
        x = torch.randn(16, 4)  # draws from torch's generator, as dropout does
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        sched.step()


def test_training_resumed_from_a_checkpoint_matches_training_straight_through(
        torch: Any, tmp_path: Path) -> None:
    straight = parts(torch, seed=3)
    train(torch, *straight, steps=10)

    first = parts(torch, seed=3)
    train(torch, *first, steps=4)
    model, opt, sched, scaler = first
    ckpt = checkpoint.save(tmp_path / "ckpt.pt", model=model, optimizer=opt, scheduler=sched,
                           scaler=scaler, step=4)
    assert ckpt.read_bytes()[:4] == b"PK\x03\x04"  # torch's format when torch is in use
    torch.manual_seed(12345)  # a new process starts from somewhere else

    resumed = parts(torch, seed=99)  # fresh objects, different weights
    model, opt, sched, scaler = resumed
    rest = checkpoint.load(ckpt, model=model, optimizer=opt, scheduler=sched, scaler=scaler)
    assert rest == {"step": 4}
    assert scaler.get_scale() == first[3].get_scale() and sched.last_epoch == 4
    train(torch, *resumed, steps=6)

    for a, b in zip(straight[0].state_dict().values(), resumed[0].state_dict().values(),
                    strict=True):
        assert torch.equal(a, b)
    assert straight[1].state_dict()["state"][0]["step"] == resumed[1].state_dict()["state"][0][
        "step"]


def test_tensors_among_the_values_and_a_map_location(torch: Any, tmp_path: Path) -> None:
    ckpt = checkpoint.save(tmp_path / "t.pt", perm=torch.randperm(10), note="epoch 3", keep=2)
    rest = checkpoint.load(ckpt, map_location="cpu", rng=False)
    assert rest["note"] == "epoch 3" and sorted(rest["perm"].tolist()) == list(range(10))

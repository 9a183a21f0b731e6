"""A small PyTorch model trained on CPU in a runtime, checkpointed into the drive when the
runtime's preemption notice comes, and resumed in a later runtime.

Every source of randomness is pinned down so two runs can be compared bit for bit: the data and
the initial weights come from seeds, each epoch's batch order from a generator seeded by the
epoch, and dropout from torch's global generator, whose state the checkpoint keeps. One CPU
thread, so sums are added in the same order every time.
"""

from __future__ import annotations

import threading
from typing import Any

import torch

from dikte.kernel import checkpoint

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

SAMPLES = 4096
BATCH = 16
STEPS_PER_EPOCH = SAMPLES // BATCH


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1234)
    x = torch.randn(SAMPLES, 8, generator=g)
    y = (x @ torch.linspace(-1, 1, 8) + 0.1 * torch.randn(SAMPLES, generator=g)).unsqueeze(1)
    return x, y


def build(seed: int) -> tuple[torch.nn.Module, torch.optim.Optimizer, Any]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Dropout(0.1),
                                torch.nn.Linear(32, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.8)
    return model, opt, sched


def train(ckpt: str, epochs: int, *, stop: threading.Event | None = None,
          resume: bool = True, seed: int = 0) -> dict[str, Any]:
    """Train up to ``epochs``, resuming from ``ckpt`` when asked and it exists. When ``stop`` is
    set, save a checkpoint at the next step boundary and return where it stopped; otherwise
    return the final weights."""
    x, y = data()
    model, opt, sched = build(seed)
    state = checkpoint.load(ckpt, model=model, optimizer=opt, scheduler=sched,
                            missing_ok=True) if resume else {}
    epoch, done = state.get("epoch", 0), state.get("step", 0)
    model.train()
    while epoch < epochs:
        order = torch.randperm(SAMPLES, generator=torch.Generator().manual_seed(1000 + epoch))
        for step in range(done, STEPS_PER_EPOCH):
            batch = order[step * BATCH:(step + 1) * BATCH]
            loss = torch.nn.functional.mse_loss(model(x[batch]), y[batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if stop is not None and stop.is_set():
                checkpoint.save(ckpt, model=model, optimizer=opt, scheduler=sched, epoch=epoch,
                                step=step + 1)
                return {"stopped_at": (epoch, step + 1)}
        sched.step()
        epoch, done = epoch + 1, 0
    return {"weights": {k: v.clone() for k, v in model.state_dict().items()}}

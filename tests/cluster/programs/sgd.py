"""Linear regression by minibatch SGD in NumPy, checkpointed into the drive when the runtime's
preemption notice comes, and resumed in a later runtime (on another machine) to the same weights.

Everything is seeded: the data, and each epoch's batch order from a generator seeded by the
epoch; the weights are the whole state, saved with ``dikte.kernel.checkpoint``."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np

from dikte.kernel import checkpoint

SAMPLES, BATCH, RATE = 2048, 16, 0.01
STEPS = SAMPLES // BATCH


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1234)
    x = rng.normal(size=(SAMPLES, 8))
    return x, x @ np.linspace(-1, 1, 8) + 0.1 * rng.normal(size=SAMPLES)


def train(path: str, epochs: int, stop: threading.Event | None = None, resume: bool = True,
          pause: float = 0.0) -> dict[str, Any]:
    """Train up to ``epochs``; when ``stop`` is set, checkpoint after the current step and
    return ``stopped_at`` (epoch, step)."""
    x, y = data()
    w, epoch0, step0 = np.zeros(8), 0, 0
    if resume:
        state = checkpoint.load(path, missing_ok=True, rng=False)
        if state:
            w, epoch0, step0 = state["w"], state["epoch"], state["step"]
    for epoch in range(epoch0, epochs):
        order = np.random.default_rng(epoch).permutation(SAMPLES)
        for step in range(step0 if epoch == epoch0 else 0, STEPS):
            batch = order[step * BATCH:(step + 1) * BATCH]
            w = w - RATE * 2 * x[batch].T @ (x[batch] @ w - y[batch]) / BATCH
            if stop is not None and stop.is_set():
                checkpoint.save(path, w=w, epoch=epoch, step=step + 1, rng=False)
                return {"stopped_at": (epoch, step + 1), "w": w}
            if pause:
                time.sleep(pause)
    checkpoint.save(path, w=w, epoch=epochs, step=0, rng=False)
    return {"w": w}

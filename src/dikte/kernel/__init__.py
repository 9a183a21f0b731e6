"""Dikte's helpers for the code that runs in a runtime: ``import dikte.kernel``.

- :func:`on_preempt` and :func:`preemption_notice`: the warning Dikte gives before it stops a
  runtime (time limit, quota, an administrator's stop), so training can save a checkpoint.
- :mod:`dikte.kernel.checkpoint`: ``save(path, **state)`` / ``load(path, **live)`` for PyTorch
  modules, optimizers, schedulers, grad scalers, random number generators and any picklable value.
- :class:`NotOffered`: what a Colab feature Dikte does not offer raises.

The Colab compatibility package ``google.colab`` lives beside this one (``kernel/colab``) and is
on a runtime's path only. Everything here is standard library only and never imports the server;
the runtime's IPython extension is :mod:`dikte.kernel.extension`.
"""

from dikte.kernel import checkpoint
from dikte.kernel.errors import NotOffered
from dikte.kernel.preempt import Notice, on_preempt, preemption_notice

__all__ = ["NotOffered", "Notice", "checkpoint", "on_preempt", "preemption_notice"]

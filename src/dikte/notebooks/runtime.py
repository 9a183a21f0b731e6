"""What an open notebook needs of the runtime attached to it (``dikte.control`` attaches one).

A small interface passed down, so the notebook never imports the control layer that owns it:
the notebook sends cells through ``channel`` when the runtime is ``ready``, records its queue
through ``persist_exec_state`` and shows ``info()`` to its viewers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from dikte.execution.kernel import KernelChannel


class AttachedRuntime(Protocol):
    runtime_id: str

    @property
    def ready(self) -> bool:
        """Connected, with a kernel channel open."""
        ...

    @property
    def channel(self) -> KernelChannel:
        """The kernel's channel; raises RuntimeUnavailable while not connected."""
        ...

    def info(self) -> dict[str, Any]:
        """What the viewers are shown of the runtime (``runtime`` in a snapshot)."""
        ...

    def persist_exec_state(self, state: dict[str, Any],
                           after: Callable[[], None] | None = None) -> None:
        """Record the queue for a restarted control plane; ``after`` runs once it is."""
        ...

    def interrupt_soon(self) -> None:
        """The cell an interrupt waited for has begun: interrupt it a moment later."""
        ...

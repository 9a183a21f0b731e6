"""Pure policy: snapshot in, :class:`Decision` out; no I/O, no clock (``now`` is in the snapshot).

- :mod:`.tiers` - the tier model (:class:`Tier`, :class:`ShapeLimits`, :class:`UsageReset`) and
  :func:`default_tiers`.
- :mod:`.admission` - :func:`decide_admission`: may a new runtime start?
- :mod:`.lifecycle` - :func:`decide_lifecycle`: warn or stop a running runtime, drive quota.
- :mod:`.ledger` - usage per day and shape from start/stop events; :func:`next_reset`.
"""

from dikte.policy.admission import AdmissionSnapshot, decide_admission
from dikte.policy.decisions import Decision, Kind
from dikte.policy.ledger import (
    DayUsage,
    RuntimeInterval,
    daily_usage,
    next_reset,
    reset_window,
    split_by_day,
    usage_today,
)
from dikte.policy.lifecycle import PRECEDENCE, RuntimeSnapshot, decide_lifecycle, lifecycle_decisions
from dikte.policy.tiers import (
    CPU_SHAPES,
    ShapeLimits,
    Tier,
    UsageReset,
    default_tiers,
    is_accelerator_shape,
    shape_label,
)
from dikte.policy.units import format_duration, format_size, parse_size

__all__ = [
    "CPU_SHAPES", "PRECEDENCE", "AdmissionSnapshot", "DayUsage", "Decision", "Kind", "RuntimeInterval",
    "RuntimeSnapshot", "ShapeLimits", "Tier", "UsageReset", "daily_usage", "decide_admission",
    "decide_lifecycle", "default_tiers", "format_duration", "format_size", "is_accelerator_shape",
    "lifecycle_decisions", "next_reset", "parse_size", "reset_window", "shape_label", "split_by_day",
    "usage_today",
]

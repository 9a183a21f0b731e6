"""Tiers: the limits an administrator publishes, as validated data.

A :class:`Tier` holds per-shape limits (:class:`ShapeLimits`) and the time and quota limits the
reaper enforces. Shapes are named by key: ``"standard"`` and ``"high_ram"`` are CPU runtimes of the
two memory classes; every other key (``"T4"``, ``"A100"``, ...) is an accelerator type and its
running time counts against ``daily_accelerator_hours``. :func:`default_tiers` is the shipped,
Colab-like table; ``dikte.config`` reads tiers from the config file into these models.
"""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dikte.policy.units import GiB, Size

CPU_SHAPES = ("standard", "high_ram")
"""Shape keys that are CPU runtimes; every other key names an accelerator type."""

_DATA = ConfigDict(extra="forbid", frozen=True)


def is_accelerator_shape(shape: str) -> bool:
    """Whether a runtime of ``shape`` uses an accelerator (any shape but standard and high-RAM)."""
    return shape not in CPU_SHAPES


def shape_label(shape: str) -> str:
    """The shape as people read it: ``"standard"``, ``"high-RAM"``, ``"T4"``."""
    return "high-RAM" if shape == "high_ram" else shape


class ShapeLimits(BaseModel):
    """What one tier allows for one shape."""

    model_config = _DATA
    max_sessions: int = Field(ge=0, description="Most runtimes of this shape a person may hold at once.")
    memory: Size = Field(0, description="RAM per runtime in bytes; accepts sizes such as 12GiB.")
    disk: Size = Field(0, description="Disk per runtime in bytes (/content, /tmp, /root, installed "
                       "packages); accepts 100GiB. Writes past it fail with 'No space left on "
                       "device'.")
    available: bool = Field(True, description="Whether the tier offers this shape at all.")

    @property
    def offered(self) -> bool:
        """Available with at least one session: a person of the tier can get one."""
        return self.available and self.max_sessions > 0

    @model_validator(mode="after")
    def _sized_when_available(self) -> ShapeLimits:
        if self.available and (self.memory <= 0 or self.disk <= 0):
            raise ValueError("an available shape needs memory and disk greater than 0")
        return self


class Tier(BaseModel):
    """A named policy: limits per shape, timeouts, background execution, drive and GPU time."""

    model_config = _DATA
    name: str = Field(min_length=1, description="The tier's name, as people and admins see it.")
    shapes: dict[str, ShapeLimits] = Field(
        description="Limits per shape: 'standard', 'high_ram' and accelerator types such as 'T4'. "
        "A shape missing here is not offered.")
    background_execution: bool = Field(
        False, description="Whether runtimes may keep running with no browser connected.")
    background_sessions: int = Field(
        0, ge=0, description="Most runtimes that may run with background execution at once.")
    idle_timeout_s: int = Field(
        ge=1, description="Seconds with no cell executing and no interaction before a runtime stops.")
    max_lifetime_s: int = Field(ge=1, description="Seconds a runtime may live at most, busy or not.")
    disconnect_grace_s: int = Field(
        ge=0, description="Seconds a runtime with no viewer lives when background execution is off.")
    daily_accelerator_hours: float = Field(
        ge=0, description="Hours of accelerator runtime per person per day (see UsageReset).")
    drive_quota: Size = Field(description="Drive size in bytes; accepts sizes such as 15GiB.")
    warn_before_stop_s: int = Field(
        60, ge=0, description="Seconds before a time or quota stop that viewers and the kernel are "
        "warned (0: no warning).")
    queue_priority: int = Field(
        0, description="Place in the line for accelerators when none is free: a higher "
        "priority is served first, equal priorities in order of arrival.")
    connect_limit: int = Field(
        10, ge=1, description="Most connects allowed within connect_window_s; one more is refused.")
    connect_window_s: int = Field(
        60, ge=1, description="The window, in seconds, over which connect_limit counts connects.")
    max_processes: int = Field(
        2048, ge=32, description="Most processes and threads one runtime may run at once (its "
        "cgroup's pids limit); past it a new process or thread fails with 'Resource temporarily "
        "unavailable'.")

    @field_validator("shapes")
    @classmethod
    def _shape_names(cls, v: dict[str, ShapeLimits]) -> dict[str, ShapeLimits]:
        for key in v:
            if not re.fullmatch(r"[A-Za-z0-9_.-]+", key):
                raise ValueError(f"shape name {key!r} may hold only letters, digits, '_', '.', '-'")
        return v

    @model_validator(mode="after")
    def _background_consistent(self) -> Tier:
        if self.background_sessions > 0 and not self.background_execution:
            raise ValueError(f"background_sessions is {self.background_sessions} "
                             "but background_execution is off")
        return self

    @property
    def daily_accelerator_s(self) -> float:
        """``daily_accelerator_hours`` in seconds."""
        return self.daily_accelerator_hours * 3600

    def offers(self, shape: str) -> bool:
        """Whether a person of this tier can get a runtime of ``shape``."""
        limits = self.shapes.get(shape)
        return limits is not None and limits.offered

    @property
    def offers_background(self) -> bool:
        """Whether any runtime of this tier may run with background execution."""
        return self.background_execution and self.background_sessions > 0


class UsageReset(BaseModel):
    """When daily usage (accelerator hours) starts again: a wall-clock time in a time zone."""

    model_config = _DATA
    time: str = Field("00:00", description="Wall-clock time of the daily reset, HH:MM (24-hour).")
    timezone: str = Field("UTC", description="IANA time zone of the reset time, e.g. Europe/Berlin.")

    @field_validator("time")
    @classmethod
    def _hhmm(cls, v: str) -> str:
        m = re.fullmatch(r"([01]\d|2[0-3]):([0-5]\d)", v)
        if not m:
            raise ValueError(f"expected a time such as 00:00 or 06:30, got {v!r}")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r}; expected an IANA name such as UTC") from None
        return v

    @property
    def hour(self) -> int:
        return int(self.time[:2])

    @property
    def minute(self) -> int:
        return int(self.time[3:])

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def label(self) -> str:
        """``"00:00 UTC"``, as in "Resets at 00:00 UTC."."""
        return f"{self.time} {self.timezone}"


def _shape(sessions: int, memory_gib: int, disk_gib: int) -> ShapeLimits:
    return ShapeLimits(max_sessions=sessions, memory=memory_gib * GiB, disk=disk_gib * GiB)


_NONE = ShapeLimits(max_sessions=0, available=False)


def default_tiers() -> dict[str, Tier]:
    """The shipped tiers, modelled on Colab: ``free``, ``pro`` and ``pro_plus``.

    =====================================  ===========  =============  ==============
    \\                                      free         pro            pro_plus
    =====================================  ===========  =============  ==============
    sessions standard / high-RAM            1 / 0        2 / 1          3 / 3
    background sessions                     0            0              2
    RAM standard / high-RAM                 12 GiB / -   12 / 25 GiB    12 / 52 GiB
    T4 sessions (RAM)                       1 (12 GiB)   2 (12 GiB)     3 (25 GiB)
    A100 sessions (RAM)                     -            1 (25 GiB)     2 (52 GiB)
    maximum lifetime                        12 h         24 h           24 h
    idle timeout                            90 min       180 min        180 min
    disconnect grace (our choice)           30 min       60 min         60 min
    daily accelerator hours                 4            12             24
    drive                                   15 GiB       100 GiB        200 GiB
    =====================================  ===========  =============  ==============

    Our choices where the issue's table is silent: disk per runtime is 100 GiB for CPU shapes and
    80 GiB for accelerator shapes (close to what Colab gives); disconnect grace lets a closed tab
    come back within half an hour (free) or an hour (paid) before the runtime goes; the accelerator
    shapes T4 and A100 are offered as above (a shape the hardware lacks is simply never granted).
    Every tier warns 60 s before a stop and allows 10 connects a minute. When no accelerator is
    free, pro_plus waits ahead of pro, and pro ahead of free (``queue_priority`` 2, 1, 0). A
    runtime may run 2,048 processes and threads at once (``max_processes``): far above what
    notebooks, pip builds and data loaders use, far below what would trouble the host.
    """
    free = Tier(
        name="free", shapes={"standard": _shape(1, 12, 100), "high_ram": _NONE,
                             "T4": _shape(1, 12, 80), "A100": _NONE},
        idle_timeout_s=90 * 60, max_lifetime_s=12 * 3600, disconnect_grace_s=30 * 60,
        daily_accelerator_hours=4, drive_quota=15 * GiB, queue_priority=0)
    pro = Tier(
        name="pro", shapes={"standard": _shape(2, 12, 100), "high_ram": _shape(1, 25, 100),
                            "T4": _shape(2, 12, 80), "A100": _shape(1, 25, 80)},
        idle_timeout_s=180 * 60, max_lifetime_s=24 * 3600, disconnect_grace_s=60 * 60,
        daily_accelerator_hours=12, drive_quota=100 * GiB, queue_priority=1)
    pro_plus = Tier(
        name="pro_plus", shapes={"standard": _shape(3, 12, 100), "high_ram": _shape(3, 52, 100),
                                 "T4": _shape(3, 25, 80), "A100": _shape(2, 52, 80)},
        background_execution=True, background_sessions=2,
        idle_timeout_s=180 * 60, max_lifetime_s=24 * 3600, disconnect_grace_s=60 * 60,
        daily_accelerator_hours=24, drive_quota=200 * GiB, queue_priority=2)
    return {t.name: t for t in (free, pro, pro_plus)}

"""Sizes, durations and hours: parsing for tier data, wording for the sentences people read.

The one parser and wording of sizes (``dikte.config`` uses them too), so tier files and settings
accept ``"12GiB"`` as well as a number of bytes.
"""

from __future__ import annotations

import math
import re
from typing import Annotated

from pydantic import BeforeValidator

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}

GiB = 2**30


def parse_size(value: object) -> int:
    """``"12GiB"``, ``"500 MB"``, ``1024`` -> bytes; anything else raises ``ValueError``."""
    if isinstance(value, bool):
        raise ValueError("expected a size such as 12GiB or 500MB")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a size cannot be negative")
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        if m and m.group(2).upper() in _UNITS:
            return int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    raise ValueError("expected a size such as 12GiB, 500MB or a number of bytes")


def format_size(n: float) -> str:
    """Bytes -> ``"12 GiB"`` / ``"1.5 MiB"`` for messages people read."""
    for unit, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            v = n / scale
            return f"{v:.0f} {unit}" if v == int(v) else f"{v:.1f} {unit}"
    return f"{int(n)} B"


def format_duration(seconds: float) -> str:
    """Seconds -> ``"12 h"``, ``"90 min"`` or ``"45 s"``: the largest unit that divides it evenly.

    Fractions of a second are rounded up (a countdown never says less time than is left).
    """
    s = max(0, math.ceil(seconds))
    if s and s % 3600 == 0:
        return f"{s // 3600} h"
    if s and s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def format_hours(seconds: float) -> str:
    """Seconds -> hours with one decimal, as in ``"4.0"``."""
    return f"{seconds / 3600:.1f}"


Size = Annotated[int, BeforeValidator(parse_size)]
"""Bytes in a model field; accepts ``"12GiB"``, ``"500MB"`` or an integer."""

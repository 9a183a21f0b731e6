"""Size limits on what one person may send in one edit, checked before any of it is applied.

A batch of 100,000 inserts or a cell of 30 MB is parsed, applied, broadcast and saved on the
control plane's event loop, where it would stall every other notebook; these limits keep each
edit small enough that it cannot. Each refusal names the limit and what to do instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dikte.config import Settings, format_size
from dikte.errors import BadRequest, PayloadTooLarge
from dikte.schemas.rest import EditOp


@dataclass(frozen=True)
class EditLimits:
    max_ops: int = 1000
    max_source_bytes: int = 2 * 2**20
    max_message_bytes: int = 10 * 2**20

    @classmethod
    def of(cls, settings: Settings) -> EditLimits:
        return cls(max_ops=settings.edit_max_ops,
                   max_source_bytes=settings.cell_source_max_bytes,
                   max_message_bytes=settings.websocket_max_message_bytes)


def check_message_size(size: int, limits: EditLimits) -> None:
    """A WebSocket message of ``size`` bytes (checked before it is parsed)."""
    if size > limits.max_message_bytes:
        raise PayloadTooLarge(
            f"This message is {format_size(size)}, over the limit of "
            f"{format_size(limits.max_message_bytes)} per WebSocket message "
            "(websocket_max_message_bytes); it was not applied. Upload big data as a file "
            "instead.", code="message_too_large")


def check_edit(ops: Sequence[EditOp], limits: EditLimits) -> None:
    """Refuse a whole edit batch that is too long or would make a cell too large."""
    if len(ops) > limits.max_ops:
        raise BadRequest(
            f"This edit has {len(ops):,} operations, over the limit of {limits.max_ops:,} per "
            "edit (edit_max_ops); none was applied. Split it into several edits.",
            code="edit_too_large")
    for op in ops:
        if op.source is None or len(op.source) * 4 <= limits.max_source_bytes:
            continue  # a str of n characters is at most 4n bytes of UTF-8: no need to encode
        size = len(op.source.encode("utf-8", "surrogatepass"))
        if size > limits.max_source_bytes:
            raise PayloadTooLarge(
                f"A cell's source of {format_size(size)} is over the limit of "
                f"{format_size(limits.max_source_bytes)} per cell (cell_source_max_bytes); "
                "the edit was not applied. Keep data in a file on the drive and read it from "
                "the cell.", code="cell_too_large")

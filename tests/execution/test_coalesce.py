"""Merged output deltas (dikte.execution.coalesce): a viewer applying the merged changes ends
exactly where it would have with every change, and a fast cell's changes merge to a few."""

from __future__ import annotations

import random
from typing import Any

import pytest

from dikte.execution.coalesce import PendingOutputs
from dikte.execution.outputs import DisplayRegistry, OutputChange, OutputLimits, OutputRecorder
from tests.execution.test_outputs import Msg, clear, display, out, replay, update


def _random_message(rng: random.Random) -> Msg:
    roll = rng.random()
    if roll < 0.55:
        pieces = ["line\n", "x", "\r", "\b", "\r\n", "\x1b[1A", "\x1b[", "2A", "é", "\n\n"]
        return out("".join(rng.choice(pieces) for _ in range(rng.randint(1, 6))),
                   rng.choice(["stdout", "stdout", "stderr"]))
    if roll < 0.7:
        return display({"text/plain": str(rng.random())}, rng.choice([None, "a", "b"]))
    if roll < 0.85:
        return update({"text/plain": str(rng.random())}, rng.choice(["a", "b"]))
    return clear(wait=rng.random() < 0.5)


@pytest.mark.parametrize("seed", range(40))
def test_merged_changes_rebuild_the_stored_outputs(seed: int) -> None:
    rng = random.Random(seed)
    displays = DisplayRegistry()
    stored: dict[str, list[dict[str, Any]]] = {"c1": [], "c2": []}
    recorders = {cid: OutputRecorder(cid, outs, OutputLimits(max_lines=200, max_bytes=4000),
                                     displays) for cid, outs in stored.items()}
    viewer: dict[str, list[dict[str, Any]]] = {}
    pending = PendingOutputs()
    for _ in range(400):
        cid = rng.choice(["c1", "c1", "c2"])
        for change in recorders[cid].apply(*_random_message(rng)):
            pending.add(change)
        if rng.random() < 0.05:  # a flush: the window ended or another message went out
            replay(viewer, pending.take())
            assert {c: viewer.get(c, []) for c in stored} == stored
    merged = pending.merged
    replay(viewer, pending.take())
    assert {c: viewer.get(c, []) for c in stored} == stored
    assert not pending and merged > 50


def test_fifty_thousand_lines_merge_to_one_change() -> None:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, OutputLimits(max_lines=100_000, max_bytes=10**7),
                         DisplayRegistry())
    viewer: dict[str, list[dict[str, Any]]] = {}
    replay(viewer, rec.apply(*out("first\n")))
    pending = PendingOutputs()
    for i in range(50_000):
        for change in rec.apply(*out(f"line {i}\n")):
            pending.add(change)
    (merged,) = pending.take()
    assert merged.kind == "text_tail" and merged.keep == len("first\n")
    replay(viewer, [merged])
    assert viewer["c1"] == outputs


def test_clear_drops_what_was_pending_for_the_cell_only() -> None:
    pending = PendingOutputs()
    pending.add(OutputChange("a", "append", 0, {"output_type": "stream", "name": "stdout",
                                                "text": "x"}))
    pending.add(OutputChange("b", "text_tail", 0, keep=1, text="y"))
    pending.add(OutputChange("a", "clear"))
    assert [(c.cell_id, c.kind) for c in pending.take()] == [("a", "clear"), ("b", "text_tail")]


def test_a_progress_bar_rewriting_its_line_keeps_only_the_last_state() -> None:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, OutputLimits(), DisplayRegistry())
    viewer: dict[str, list[dict[str, Any]]] = {}
    replay(viewer, rec.apply(*out("start\n")))
    pending = PendingOutputs()
    for i in range(1000):
        for change in rec.apply(*out(f"\r{i}/999")):
            pending.add(change)
    (merged,) = pending.take()
    assert merged.to_dict() == {"cell_id": "c1", "kind": "text_tail", "index": 0,
                                "keep": len("start\n"), "text": "999/999"}
    replay(viewer, [merged])
    assert viewer["c1"] == outputs

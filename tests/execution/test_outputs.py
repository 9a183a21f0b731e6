"""Table tests for iopub -> nbformat outputs (dikte.execution.outputs).

Every run is also replayed the way a viewer applies the deltas (from their JSON form) and must
reproduce the stored outputs exactly; most tests validate the result with nbformat.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from dikte.execution.outputs import (
    DisplayRegistry,
    OutputChange,
    OutputLimits,
    OutputRecorder,
)

Msg = tuple[str, dict[str, Any]]


def out(text: str, name: str = "stdout") -> Msg:
    return ("stream", {"name": name, "text": text})


def err(text: str) -> Msg:
    return out(text, "stderr")


def display(data: dict[str, Any], display_id: str | None = None) -> Msg:
    content: dict[str, Any] = {"data": data, "metadata": {}}
    if display_id:
        content["transient"] = {"display_id": display_id}
    return ("display_data", content)


def update(data: dict[str, Any], display_id: str) -> Msg:
    return (
        "update_display_data",
        {"data": data, "metadata": {}, "transient": {"display_id": display_id}},
    )


def clear(wait: bool = False) -> Msg:
    return ("clear_output", {"wait": wait})


def stream_out(text: str, name: str = "stdout") -> dict[str, Any]:
    return {"output_type": "stream", "name": name, "text": text}


def appended(index: int, output: dict[str, Any]) -> dict[str, Any]:
    return {"cell_id": "c1", "kind": "append", "index": index, "output": output}


def replaced(index: int, output: dict[str, Any]) -> dict[str, Any]:
    return {"cell_id": "c1", "kind": "replace", "index": index, "output": output}


def tail(index: int, keep: int, text: str) -> dict[str, Any]:
    return {"cell_id": "c1", "kind": "text_tail", "index": index, "keep": keep, "text": text}


CLEARED = {"cell_id": "c1", "kind": "clear"}


def display_out(data: dict[str, Any]) -> dict[str, Any]:
    return {"output_type": "display_data", "data": data, "metadata": {}}


ERROR = (
    "error",
    {"ename": "ValueError", "evalue": "bad", "traceback": ["Traceback", "ValueError: bad"]},
)
RESULT_OUT = {
    "output_type": "execute_result",
    "data": {"text/plain": "42"},
    "metadata": {},
    "execution_count": 3,
}
ERROR_OUT = {
    "output_type": "error",
    "ename": "ValueError",
    "evalue": "bad",
    "traceback": ["Traceback", "ValueError: bad"],
}


def replay(viewer: dict[str, list[dict[str, Any]]], changes: list[OutputChange]) -> None:
    """Apply deltas as a browser would: from their JSON form, to its own copy of the outputs."""
    for change in changes:
        d = json.loads(json.dumps(change.to_dict()))
        cell = viewer.setdefault(d["cell_id"], [])
        if d["kind"] == "clear":
            cell.clear()
        elif d["kind"] == "append":
            assert d["index"] == len(cell)
            cell.append(d["output"])
        elif d["kind"] == "replace":
            cell[d["index"]] = d["output"]
        else:
            assert d["kind"] == "text_tail"
            old = cell[d["index"]]["text"]
            assert 0 <= d["keep"] <= len(old)
            cell[d["index"]]["text"] = old[: d["keep"]] + d["text"]


def run(
    msgs: list[Msg], limits: OutputLimits | None = None
) -> tuple[list[dict[str, Any]], list[OutputChange]]:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, limits or OutputLimits(), DisplayRegistry())
    changes: list[OutputChange] = []
    viewer: dict[str, list[dict[str, Any]]] = {}
    for msg_type, content in msgs:
        new = rec.apply(msg_type, content)
        replay(viewer, new)
        assert viewer.get("c1", []) == outputs  # in step after every message
        changes += new
    return outputs, changes


def assert_valid(outputs: list[dict[str, Any]]) -> None:
    cell = new_code_cell(source="x", execution_count=1, outputs=copy.deepcopy(outputs))
    nbformat.validate(nbformat.from_dict(new_notebook(cells=[cell])))


CASES: list[tuple[str, list[Msg], list[dict[str, Any]], list[dict[str, Any]]]] = [
    (
        "coalesce same stream",
        [out("a\n"), out("b\n")],
        [stream_out("a\nb\n")],
        [
            appended(0, stream_out("a\n")),
            tail(0, 2, "b\n"),
        ],
    ),
    (
        "stdout stderr stdout stay three outputs",
        [out("a"), err("e\n"), out("b")],
        [stream_out("a"), stream_out("e\n", "stderr"), stream_out("b")],
        [
            appended(0, stream_out("a")),
            appended(1, stream_out("e\n", "stderr")),
            appended(2, stream_out("b")),
        ],
    ),
    (
        "carriage return rewrites only the last line",
        [out("head\n 10%"), out("\r 20%")],
        [stream_out("head\n 20%")],
        [
            appended(0, stream_out("head\n 10%")),
            tail(0, 5, " 20%"),
        ],
    ),
    (
        "carriage return replaces the whole line, not a prefix",
        [out("abcdef\rXY")],
        [stream_out("XY")],
        [appended(0, stream_out("XY"))],
    ),
    (
        "crlf split across messages is a newline",
        [out("a\r"), out("\nb")],
        [stream_out("a\nb")],
        [
            appended(0, stream_out("a")),
            tail(0, 1, "\nb"),
        ],
    ),
    (
        "trailing bare cr keeps the line",
        [out("abc\r")],
        [stream_out("abc")],
        [appended(0, stream_out("abc"))],
    ),
    (
        "lone cr alone changes nothing until decided",
        [out("abc"), out("\r")],
        [stream_out("abc")],
        [appended(0, stream_out("abc"))],
    ),
    (
        "backspace deletes previous characters of the line only",
        [out("ab\ncd\b\b\bX")],
        [stream_out("ab\nX")],
        [appended(0, stream_out("ab\nX"))],
    ),
    (
        "backspace in a later message",
        [out("abc"), out("\bZ")],
        [stream_out("abZ")],
        [
            appended(0, stream_out("abc")),
            tail(0, 2, "Z"),
        ],
    ),
    (
        "ansi colours kept as text",
        [out("\x1b[31mred\x1b[0m\n")],
        [stream_out("\x1b[31mred\x1b[0m\n")],
        [appended(0, stream_out("\x1b[31mred\x1b[0m\n"))],
    ),
    (
        "two tqdm bars with cursor up",
        [
            out("\rA 0%"),
            out("\n\rB 0%\x1b[A"),
            out("\rA 50%"),
            out("\n\rB 50%\x1b[A"),
            out("\rA 100%"),
            out("\n\n"),
        ],
        [stream_out("A 100%\nB 50%\n")],
        [
            appended(0, stream_out("A 0%")),
            tail(0, 4, "\nB 0%"),
            tail(0, 0, "A 50%\nB 0%"),
            tail(0, 6, "B 50%"),
            tail(0, 0, "A 100%\nB 50%"),
            tail(0, 12, "\n"),
        ],
    ),
    (
        "cursor up past the start of the chunk sends only from the line it reaches",
        [out("A\n"), out("B\x1b[A"), out("\rC")],
        [stream_out("C\nB")],
        [appended(0, stream_out("A\n")), tail(0, 2, "B"), tail(0, 0, "C\nB")],
    ),
    (
        "display, execute_result and error",
        [
            display({"text/plain": "fig"}),
            (
                "execute_result",
                {"data": {"text/plain": "42"}, "metadata": {}, "execution_count": 3},
            ),
            ERROR,
        ],
        [display_out({"text/plain": "fig"}), RESULT_OUT, ERROR_OUT],
        [
            appended(0, display_out({"text/plain": "fig"})),
            appended(1, RESULT_OUT),
            appended(2, ERROR_OUT),
        ],
    ),
    (
        "display_id is not stored (transient)",
        [display({"text/plain": "1"}, "d1")],
        [display_out({"text/plain": "1"})],
        [appended(0, display_out({"text/plain": "1"}))],
    ),
    (
        "update_display_data replaces in place and appends nothing",
        [display({"text/plain": "1"}, "d1"), out("x"), update({"text/plain": "2"}, "d1")],
        [display_out({"text/plain": "2"}), stream_out("x")],
        [
            appended(0, display_out({"text/plain": "1"})),
            appended(1, stream_out("x")),
            replaced(0, display_out({"text/plain": "2"})),
        ],
    ),
    (
        "update for an unknown display id does nothing",
        [display({"text/plain": "1"}, "d1"), update({"text/plain": "2"}, "nope")],
        [display_out({"text/plain": "1"})],
        [appended(0, display_out({"text/plain": "1"}))],
    ),
    (
        "clear_output now",
        [out("a"), clear(), out("b")],
        [stream_out("b")],
        [
            appended(0, stream_out("a")),
            CLEARED,
            appended(0, stream_out("b")),
        ],
    ),
    (
        "clear_output on nothing sends nothing",
        [clear()],
        [],
        [],
    ),
    (
        "clear_output wait waits for the next output",
        [out("a"), clear(wait=True), out("b")],
        [stream_out("b")],
        [
            appended(0, stream_out("a")),
            CLEARED,
            appended(0, stream_out("b")),
        ],
    ),
    (
        "clear_output wait keeps outputs if nothing follows",
        [out("a"), clear(wait=True)],
        [stream_out("a")],
        [appended(0, stream_out("a"))],
    ),
    (
        "clear_output wait is not triggered by update_display_data",
        [display({"text/plain": "1"}, "d1"), clear(wait=True), update({"text/plain": "2"}, "d1")],
        [display_out({"text/plain": "2"})],
        [
            appended(0, display_out({"text/plain": "1"})),
            replaced(0, display_out({"text/plain": "2"})),
        ],
    ),
    (
        "clear_output wait then display loop keeps one output",
        [display({"text/plain": "1"}), clear(wait=True), display({"text/plain": "2"})],
        [display_out({"text/plain": "2"})],
        [
            appended(0, display_out({"text/plain": "1"})),
            CLEARED,
            appended(0, display_out({"text/plain": "2"})),
        ],
    ),
    (
        "clear forgets display ids of the cell",
        [display({"text/plain": "1"}, "d1"), clear(), update({"text/plain": "2"}, "d1")],
        [],
        [
            appended(0, display_out({"text/plain": "1"})),
            CLEARED,
        ],
    ),
    (
        "other message types are ignored",
        [("status", {"execution_state": "busy"}), ("execute_input", {"code": "1"})],
        [],
        [],
    ),
]


@pytest.mark.parametrize(
    ("msgs", "outputs", "changes"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_messages_become_outputs(
    msgs: list[Msg], outputs: list[dict[str, Any]], changes: list[dict[str, Any]]
) -> None:
    got_outputs, got_changes = run(msgs)
    assert got_outputs == outputs
    assert [c.to_dict() for c in got_changes] == changes
    assert_valid(got_outputs)


def test_tqdm_loop_collapses_to_its_last_state() -> None:
    msgs = [out(f"\r{i:3d}%|{'#' * (i // 10):<10}| {i}/100") for i in range(101)] + [out("\n")]
    outputs, changes = run(msgs)
    assert outputs == [stream_out("100%|##########| 100/100\n")]
    # each rewrite sends only the line, never the whole text
    assert all(len(c.text) <= 30 for c in changes if c.kind == "text_tail")


def test_tqdm_in_one_message_collapses_too() -> None:
    text = "".join(f"\r{i}/5" for i in range(6)) + "\n"
    outputs, _ = run([out("before\n"), out(text)])
    assert outputs == [stream_out("before\n5/5\n")]


def test_appending_to_a_large_stream_sends_only_the_new_line() -> None:
    big = "".join(f"line {i}\n" for i in range(9_000))
    outputs, changes = run([out(big), out("one more\n")])
    assert changes[-1].to_dict() == {
        "cell_id": "c1",
        "kind": "text_tail",
        "index": 0,
        "keep": len(big),
        "text": "one more\n",
    }
    assert outputs[0]["text"] == big + "one more\n"


def test_update_display_data_reaches_every_cell_with_that_id() -> None:
    displays = DisplayRegistry()
    a: list[dict[str, Any]] = []
    b: list[dict[str, Any]] = []
    rec_a = OutputRecorder("a", a, OutputLimits(), displays)
    rec_b = OutputRecorder("b", b, OutputLimits(), displays)
    viewer: dict[str, list[dict[str, Any]]] = {}
    replay(viewer, rec_a.apply(*out("hello\n")))
    replay(viewer, rec_a.apply(*display({"text/plain": "v1"}, "progress")))
    replay(viewer, rec_b.apply(*display({"text/plain": "v1"}, "progress")))

    changes = rec_b.apply(*update({"text/plain": "v2"}, "progress"))
    replay(viewer, changes)

    assert [(c.cell_id, c.kind, c.index) for c in changes] == [
        ("a", "replace", 1),
        ("b", "replace", 0),
    ]
    assert a == [stream_out("hello\n"), display_out({"text/plain": "v2"})]
    assert b == [display_out({"text/plain": "v2"})]
    assert viewer == {"a": a, "b": b}

    displays.forget_cell("a")
    changes = rec_b.apply(*update({"text/plain": "v3"}, "progress"))
    assert [(c.cell_id, c.kind) for c in changes] == [("b", "replace")]
    assert a[1]["data"] == {"text/plain": "v2"}


def test_change_snapshots_do_not_follow_later_mutation() -> None:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, OutputLimits(), DisplayRegistry())
    (first,) = rec.apply(*display({"text/plain": "1"}, "d"))
    rec.apply(*update({"text/plain": "2"}, "d"))
    assert first.output == display_out({"text/plain": "1"})


def test_line_limit_truncates_once_and_keeps_errors() -> None:
    msgs = [out(f"line {i}\n") for i in range(1000)]
    msgs += [display({"text/plain": "late"}), ERROR, out("more\n")]
    outputs, changes = run(msgs, OutputLimits(max_lines=100))

    assert outputs[0]["text"] == "".join(f"line {i}\n" for i in range(100))
    note = (
        "[Output truncated: this cell printed more than 100 lines; later output was not kept. "
        "Write large output to a file instead.]\n"
    )
    assert outputs[1:] == [stream_out(note, "stderr"), ERROR_OUT]
    assert sum("Output truncated" in json.dumps(c.to_dict()) for c in changes) == 1
    assert_valid(outputs)


def test_line_limit_cuts_inside_one_big_message() -> None:
    outputs, _ = run([out("x" * 10 + "\n" * 50)], OutputLimits(max_lines=20))
    assert outputs[0] == stream_out("x" * 10 + "\n" * 20)
    assert "more than 20 lines" in outputs[1]["text"]


def test_byte_limit_counts_streams_and_display_data() -> None:
    msgs = [out("a" * 99 + "\n") for _ in range(5)] + [display({"image/png": "A" * 1000})]
    outputs, _ = run(msgs, OutputLimits(max_bytes=800))
    assert [o["output_type"] for o in outputs] == ["stream", "stream"]
    assert outputs[0]["text"] == ("a" * 99 + "\n") * 5
    assert "more than 800 bytes" in outputs[1]["text"]
    assert_valid(outputs)


def test_byte_limit_cuts_stream_at_a_line_end() -> None:
    outputs, _ = run([out("é" * 30 + "\n" + "b" * 200)], OutputLimits(max_bytes=100))
    assert outputs[0]["text"] == "é" * 30 + "\n"
    assert "more than 100 bytes" in outputs[1]["text"]


def test_clear_resets_the_limit() -> None:
    msgs = [out("x\n" * 5), clear(wait=True), out("y\n" * 3)]
    outputs, _ = run(msgs, OutputLimits(max_lines=4))
    assert outputs == [stream_out("y\n" * 3)]


def test_two_hundred_thousand_lines_keep_the_cap() -> None:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, OutputLimits(), DisplayRegistry())
    notes = 0
    for i in range(200_000):
        notes += sum(c.kind == "append" and i > 0 for c in rec.apply(*out(f"{i}\n")))
    assert outputs[0]["text"].count("\n") == 10_000
    assert notes == 1
    assert "more than 10,000 lines" in outputs[1]["text"]


def test_note_starts_on_a_fresh_line_and_coalesces_into_stderr() -> None:
    outputs: list[dict[str, Any]] = []
    rec = OutputRecorder("c1", outputs, OutputLimits(), DisplayRegistry())
    viewer: dict[str, list[dict[str, Any]]] = {}
    replay(viewer, rec.apply(*err("warn\r")))
    replay(viewer, rec.note("The server restarted while this cell ran.\n"))
    replay(viewer, rec.note("Again.\n"))
    replay(viewer, rec.apply(*out("out")))
    replay(viewer, rec.note("Last."))
    assert outputs == [
        stream_out("warn\nThe server restarted while this cell ran.\nAgain.\n", "stderr"),
        stream_out("out"),
        stream_out("Last.", "stderr"),
    ]
    assert viewer["c1"] == outputs


def test_existing_outputs_are_continued() -> None:
    outputs = [stream_out("a\n")]
    rec = OutputRecorder("c1", outputs, OutputLimits(), DisplayRegistry())
    changes = rec.apply(*out("b"))
    assert outputs == [stream_out("a\nb")]
    assert [c.to_dict() for c in changes] == [tail(0, 2, "b")]


def test_outputs_cleared_by_the_session_mid_run_start_a_new_stream() -> None:
    outputs: list[dict[str, Any]] = []
    displays = DisplayRegistry()
    rec = OutputRecorder("c1", outputs, OutputLimits(), displays)
    rec.apply(*out("a\nb"))
    outputs.clear()  # "Clear outputs" pressed while the cell runs
    displays.forget_cell("c1")
    changes = rec.apply(*out("c\n"))
    assert outputs == [stream_out("c\n")]
    assert [c.to_dict() for c in changes] == [appended(0, stream_out("c\n"))]


TERMINAL_TEXT = (
    "start\r\nfirst line\n 10%\r 20%\r 30%\n\x1b[31mred\x1b[0m\n"
    "typo\b\b\bext\r\nbar1\nbar2\x1b[A\rBAR1\n\rBAR2\r\n"
    "\r\r\nend\b!\r"
)
TERMINAL_RESULT = "start\nfirst line\n 30%\n\x1b[31mred\x1b[0m\ntext\nBAR1\nBAR2\n\nen!"


def test_random_chunkings_give_the_same_text_and_viewers_follow() -> None:
    assert run([out(TERMINAL_TEXT)])[0] == [stream_out(TERMINAL_RESULT)]
    rng = random.Random(1234)
    for _ in range(400):
        cuts = sorted(rng.sample(range(1, len(TERMINAL_TEXT)), rng.randint(1, 25)))
        pieces = [
            TERMINAL_TEXT[i:j] for i, j in zip([0, *cuts], [*cuts, len(TERMINAL_TEXT)], strict=True)
        ]
        outputs, _ = run([out(p) for p in pieces])  # run() checks the viewer after every message
        assert outputs == [stream_out(TERMINAL_RESULT)], pieces


def test_random_message_mixes_keep_viewers_in_step_and_the_notebook_valid() -> None:
    rng = random.Random(99)
    alphabet = ["a", "bc", "\n", "\r", "\r\n", "\b", "\x1b[A", "\x1b[", "2A", "é"]
    for _ in range(200):
        msgs: list[Msg] = []
        for _ in range(rng.randint(1, 30)):
            roll = rng.random()
            if roll < 0.75:
                text = "".join(rng.choices(alphabet, k=rng.randint(0, 6)))
                msgs.append(out(text, rng.choice(["stdout", "stdout", "stderr"])))
            elif roll < 0.85:
                msgs.append(display({"text/plain": str(rng.random())}, rng.choice([None, "d"])))
            elif roll < 0.9:
                msgs.append(update({"text/plain": "u"}, "d"))
            else:
                msgs.append(clear(wait=rng.random() < 0.5))
        outputs, _ = run(msgs, OutputLimits(max_lines=rng.choice([5, 10_000]), max_bytes=200))
        assert_valid(outputs)
        assert all("\r" not in o.get("text", "") and "\b" not in o.get("text", "") for o in outputs)

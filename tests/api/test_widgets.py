"""Jupyter widgets through the server: the kernel's comms relayed to every viewer, a viewer's
change relayed to the kernel (whose echo reaches every viewer), Output widgets capturing what
the kernel prints, and the state saved in the notebook's metadata the standard way."""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

from tests.support.server import Client, DikteServer

STATE = "application/vnd.jupyter.widget-state+json"
VIEW = "application/vnd.jupyter.widget-view+json"


def _connected(client: Client, sources: list[str]) -> tuple[str, list[str]]:
    path = f"Notebooks/widgets-{uuid.uuid4().hex[:8]}.ipynb"
    cells = client.new_notebook(path, sources)
    client.post("/api/notebooks/connect", {"path": path})
    return path, cells


def _model_of(output: dict[str, Any]) -> str:
    return str(output["data"][VIEW]["model_id"])


def test_a_slider_moved_in_one_tab_moves_in_the_other_and_drives_the_kernel(
        client: Client) -> None:
    path, (make, read) = _connected(client, [
        "import ipywidgets as w\nseen = []\n"
        "s = w.IntSlider(value=3, max=50, description='n')\n"
        "s.observe(lambda ch: seen.append(ch['new']), 'value')\ns",
        "print('value', s.value, 'seen', seen)",
    ])
    one, two = client.socket(path), client.socket(path)
    try:
        one.send({"type": "execute", "cell_id": make})
        opened = one.wait_for(lambda m: m["type"] == "comm_open"
                              and m["data"]["state"].get("_model_name") == "IntSliderModel")
        slider = opened["comm_id"]
        two.wait_for(lambda m: m["type"] == "comm_open" and m["comm_id"] == slider)
        one.wait_done(make)
        outputs = client.view(path)["notebook"]["cells"][0]["outputs"]
        assert _model_of(outputs[-1]) == slider

        one.send({"type": "comm_msg", "msg_id": "tab-1", "comm_id": slider,
                  "data": {"method": "update", "state": {"value": 17}, "buffer_paths": []}})
        # the kernel accepted it and echoed it: the other tab moves too
        echo = two.wait_for(lambda m: m["type"] == "comm_msg" and m["comm_id"] == slider
                            and m["data"].get("method") == "echo_update")
        assert echo["data"]["state"]["value"] == 17
        assert echo["parent"] == "tab-1"
        one.wait_for(lambda m: m["type"] == "comm_idle" and m["msg_id"] == "tab-1")

        one.send({"type": "execute", "cell_id": read})
        one.wait_done(read)
        printed = client.view(path)["notebook"]["cells"][1]["outputs"][0]["text"]
        assert printed == "value 17 seen [17]\n"

        # a joining tab gets the state as it is now
        three = client.socket(path)
        snap = three.wait_for(lambda m: m["type"] == "snapshot")
        three.close()
        assert snap["widgets"][slider]["state"]["value"] == 17
        assert snap["widgets"][slider]["live"] is True
    finally:
        one.close()
        two.close()


def _saved(server: DikteServer, path: str, pred: Any) -> dict[str, Any]:
    """The notebook as saved on the drive, once ``pred`` holds for it."""
    on_disk = server.data_dir / "drives" / "1" / path
    deadline = time.monotonic() + 60
    while True:
        nb = json.loads(on_disk.read_text())
        if pred(nb) or time.monotonic() > deadline:
            return dict(nb)
        time.sleep(0.2)


def test_widget_state_is_saved_in_the_notebook_metadata(server: DikteServer,
                                                        client: Client) -> None:
    path, (cell,) = _connected(client, [
        "from tqdm.auto import tqdm\nfor i in tqdm(range(50)):\n    pass"])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cell})
        sock.wait_done(cell)
    finally:
        sock.close()
    saved = _saved(server, path, lambda nb: "widgets" in nb["metadata"])
    widgets = saved["metadata"]["widgets"][STATE]
    assert widgets["version_major"] == 2
    bar = _model_of(saved["cells"][0]["outputs"][-1])
    box = widgets["state"][bar]
    assert box["model_name"] == "HBoxModel"
    parts = [widgets["state"][ref.removeprefix("IPY_MODEL_")]
             for ref in box["state"]["children"]]
    progress = next(p for p in parts if p["model_name"] == "FloatProgressModel")
    assert progress["state"]["value"] == 50
    assert any("100%" in str(p["state"].get("value")) for p in parts
               if p["model_name"] == "HTMLModel")
    # every model a saved view refers to is there (layouts and styles too)
    for model in widgets["state"].values():
        for key in ("layout", "style"):
            ref = model["state"].get(key)
            if isinstance(ref, str) and ref.startswith("IPY_MODEL_"):
                assert ref.removeprefix("IPY_MODEL_") in widgets["state"]


def test_output_widgets_and_interact_capture_what_the_kernel_prints(client: Client) -> None:
    path, (cell, later) = _connected(client, [
        "import ipywidgets as w\nfrom IPython.display import display\n"
        "out = w.Output()\ndisplay(out)\n"
        "with out:\n    print('inside')\nprint('outside')\n"
        "@w.interact(x=(0, 10))\ndef show(x=4):\n    print('x is', x)",
        "with out:\n    print('later')",
    ])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cell})
        sock.wait_done(cell)
        outputs = client.view(path)["notebook"]["cells"][0]["outputs"]
        texts = [o.get("text") for o in outputs if o["output_type"] == "stream"]
        assert texts == ["outside\n"]  # 'inside' went into the widget
        models = client.view(path)["widgets"]
        out = _model_of(outputs[0])
        assert models[out]["state"]["outputs"] == [
            {"output_type": "stream", "name": "stdout", "text": "inside\n"}]
        captured = [m for m in models.values() if m["model_name"] == "OutputModel"
                    and any("x is 4" in str(o) for o in m["state"]["outputs"])]
        assert len(captured) == 1  # interact's own Output widget

        # moving interact's slider runs the function again: its Output widget shows the new value
        slider = next(i for i, m in models.items() if m["model_name"] == "IntSliderModel")
        sock.send({"type": "comm_msg", "msg_id": "m1", "comm_id": slider,
                   "data": {"method": "update", "state": {"value": 9}, "buffer_paths": []}})
        sock.wait_for(lambda m: m["type"] == "comm_msg"
                      and "x is 9" in str(m["data"].get("state", {}).get("outputs")))

        sock.send({"type": "execute", "cell_id": later})
        sock.wait_done(later)
        assert client.view(path)["notebook"]["cells"][1]["outputs"] == []
        final = client.view(path)["widgets"][out]["state"]["outputs"]
        assert "".join(o["text"] for o in final) == "inside\nlater\n"
    finally:
        sock.close()


def test_buttons_uploads_and_refusals(client: Client) -> None:
    path, (cell, check) = _connected(client, [
        "import ipywidgets as w\nclicks = []\nb = w.Button(description='go')\n"
        "b.on_click(lambda _: clicks.append(1))\nup = w.FileUpload()\ndisplay(b, up)",
        "print(len(clicks), [(f.name, bytes(f.content)) for f in up.value])",
    ])
    sock = client.socket(path)
    try:
        sock.send({"type": "execute", "cell_id": cell})
        sock.wait_done(cell)
        models = client.view(path)["widgets"]
        button = next(i for i, m in models.items() if m["model_name"] == "ButtonModel")
        upload = next(i for i, m in models.items() if m["model_name"] == "FileUploadModel")
        sock.send({"type": "comm_msg", "msg_id": "c1", "comm_id": button,
                   "data": {"method": "custom", "content": {"event": "click"}}})
        sock.wait_for(lambda m: m["type"] == "comm_idle" and m["msg_id"] == "c1")
        content = b"\x00\x01binary\xff"
        sock.send({"type": "comm_msg", "msg_id": "u1", "comm_id": upload, "data": {
            "method": "update", "buffer_paths": [["value", 0, "content"]],
            "state": {"value": [{"name": "a.bin", "type": "application/octet-stream",
                                 "size": len(content), "last_modified": 0}]}},
            "buffers": [base64.b64encode(content).decode()]})
        sock.wait_for(lambda m: m["type"] == "comm_idle" and m["msg_id"] == "u1")
        sock.send({"type": "execute", "cell_id": check})
        sock.wait_done(check)
        text = client.view(path)["notebook"]["cells"][1]["outputs"][0]["text"]
        assert text == f"1 [('a.bin', {content!r})]\n"

        sock.send({"type": "comm_msg", "msg_id": "x", "comm_id": "no-such-comm",
                   "data": {"method": "update", "state": {}}})
        refused = sock.wait_for(lambda m: m["type"] == "error")
        assert refused["code"] == "widget_gone" and "run the cell" in refused["message"]
        sock.send({"type": "comm_msg", "msg_id": "y", "comm_id": upload,
                   "data": {"method": "update", "state": {}}, "buffers": ["not base64!"]})
        refused = sock.wait_for(lambda m: m["type"] == "error" and m["code"] == "bad_message")
        assert "base64" in refused["message"]

        # a restart ends the comms: the state stays, marked as no longer connected
        client.post("/api/notebooks/restart", {"path": path})
        sock.wait_for(lambda m: m["type"] == "widgets_gone")
        assert client.view(path)["widgets"][button]["live"] is False
        sock.send({"type": "comm_msg", "msg_id": "z", "comm_id": button,
                   "data": {"method": "custom", "content": {"event": "click"}}})
        refused = sock.wait_for(lambda m: m["type"] == "error" and m["code"] == "widget_gone")
    finally:
        sock.close()


def test_colab_tabbar_and_grid_route_ordinary_output(client: Client) -> None:
    path, (cell,) = _connected(client, [
        "from google.colab import widgets\nimport matplotlib.pyplot as plt\n"
        "tb = widgets.TabBar(['data', 'plot'])\n"
        "with tb.output_to('data'):\n    print('rows: 3')\n"
        "with tb.output_to(1, select=True):\n    plt.plot([1, 2, 3])\n"
        "grid = widgets.Grid(2, 2)\nfor row, col in grid:\n    print(f'cell {row},{col}')\n"
        "with grid.output_to(1, 1):\n    grid.clear_cell()\n    print('replaced')\n"
        "print('after')"])
    (done,) = client.run_cells(path, [cell])
    assert done["last_status"] == "ok", client.view(path)["notebook"]["cells"][0]["outputs"]
    view = client.view(path)
    outputs = view["notebook"]["cells"][0]["outputs"]
    assert [o["output_type"] for o in outputs] == ["display_data", "display_data", "stream"]
    assert outputs[2]["text"] == "after\n"  # nothing else escaped into the cell
    models = view["widgets"]
    tab = models[_model_of(outputs[0])]
    assert tab["model_name"] == "TabModel"
    assert tab["state"]["titles"] == ["data", "plot"] and tab["state"]["selected_index"] == 1
    data, plot = (models[ref.removeprefix("IPY_MODEL_")] for ref in tab["state"]["children"])
    assert data["state"]["outputs"] == [
        {"output_type": "stream", "name": "stdout", "text": "rows: 3\n"}]
    assert "image/png" in plot["state"]["outputs"][0]["data"]  # the figure went to its tab
    grid = models[_model_of(outputs[1])]
    assert grid["model_name"] == "GridBoxModel"
    cells = [models[ref.removeprefix("IPY_MODEL_")]["state"]["outputs"]
             for ref in grid["state"]["children"]]
    assert ["".join(o["text"] for o in c) for c in cells] == [
        "cell 0,0\n", "cell 0,1\n", "cell 1,0\n", "replaced\n"]


def test_widgets_keep_working_after_the_server_restarts(
        fresh_server: Callable[..., DikteServer]) -> None:
    srv = fresh_server().start()
    token = srv.token
    client = srv.client()
    path, (make, read) = _connected(client, [
        "import ipywidgets as w\nimport numpy as np\n"
        "s = w.IntSlider(value=4)\nimg = w.Image(value=bytes(range(8)), format='png')\n"
        "display(s, img)",
        "print(s.value)"])
    (done,) = client.run_cells(path, [make])
    assert done["last_status"] == "ok"
    slider = next(i for i, m in client.view(path)["widgets"].items()
                  if m["model_name"] == "IntSliderModel")
    srv.stop()  # the runtime and its widgets live on
    srv.start()
    client = srv.client(token)
    sock = client.socket(path)
    try:
        snap = sock.wait_for(lambda m: m["type"] == "snapshot")
        if not snap["widgets"][slider]["live"]:  # the kernel's answer is on its way
            restored = sock.wait_for(lambda m: m["type"] == "widgets_restored")
            assert restored["widgets"][slider]["live"] is True
        models = client.view(path)["widgets"]
        assert models[slider]["state"]["value"] == 4 and models[slider]["live"]
        image = next(m for m in models.values() if m["model_name"] == "ImageModel")
        assert image["buffers"] == [{"path": ["value"], "encoding": "base64",
                                     "data": base64.b64encode(bytes(range(8))).decode()}]
        sock.send({"type": "comm_msg", "msg_id": "after", "comm_id": slider,
                   "data": {"method": "update", "state": {"value": 11}, "buffer_paths": []}})
        sock.wait_for(lambda m: m["type"] == "comm_idle" and m["msg_id"] == "after")
        sock.send({"type": "execute", "cell_id": read})
        sock.wait_done(read)
    finally:
        sock.close()
    assert client.view(path)["notebook"]["cells"][1]["outputs"][0]["text"] == "11\n"

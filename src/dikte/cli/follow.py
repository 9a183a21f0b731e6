"""Follow a run over the notebook's WebSocket: print outputs live, answer input() prompts."""

from __future__ import annotations

import getpass
import json
import sys
from typing import Any

from websockets.sync.client import connect


def follow_run(url: str, token: str, path: str, body: dict[str, Any]) -> int:
    """Queue the cells through the REST API, then print until they have all finished."""
    import httpx

    ws_url = url.replace("http://", "ws://").replace("https://", "wss://")
    from urllib.parse import quote

    with connect(f"{ws_url}/api/notebooks/ws?path={quote(path)}",
                 additional_headers={"Authorization": f"Bearer {token}"},
                 max_size=None) as ws:
        snapshot = json.loads(ws.recv())
        texts: dict[tuple[str, int], str] = {}
        r = httpx.post(f"{url}/api/notebooks/run", json=body, timeout=60,
                       headers={"Authorization": f"Bearer {token}"})
        if r.status_code >= 400:
            print(f"dikte: {r.json()['error']['message']}", file=sys.stderr)
            return 1
        waiting = set(r.json()["queued"])
        if not waiting:
            print("nothing to run")
            return 0
        numbers = {c["id"]: i + 1 for i, c in enumerate(snapshot["notebook"]["cells"])}
        failed = False
        echo: list[str] = []  # the server writes an answered prompt into the output: shown here already
        while waiting:
            msg = json.loads(ws.recv())
            kind = msg["type"]
            if kind == "output" and msg["cell_id"] in numbers:
                _print_change(msg["cell_id"], msg["change"], texts, echo)
            elif kind == "cell_state" and msg["cell_id"] in waiting:
                if msg["state"] == "running":
                    print(f"--- cell {numbers.get(msg['cell_id'])} running ---", flush=True)
                elif msg["state"] == "idle":
                    waiting.discard(msg["cell_id"])
                    failed |= msg.get("last_status") == "error"
            elif kind == "input_request":
                prompt = msg.get("prompt", "")
                try:
                    value = getpass.getpass(prompt) if msg.get("password") else input(prompt)
                except EOFError:
                    # Standard input is spent: the cell would wait forever; stop it instead.
                    print("\n[no input available: interrupting the cell]", file=sys.stderr,
                          flush=True)
                    httpx.post(f"{url}/api/notebooks/interrupt", json={"path": path},
                               timeout=60, headers={"Authorization": f"Bearer {token}"})
                    continue
                ws.send(json.dumps({"type": "input_reply", "value": value}))
                echo[:] = [prompt + ("" if msg.get("password") else value) + "\n"]
            elif kind == "help":
                from dikte.cli.headless import output_text

                print(output_text({"output_type": "display_data", "data": msg["data"]}),
                      flush=True)
            elif kind in ("notice", "runtime") and msg.get("message"):
                print(f"[{msg['message']}]", file=sys.stderr, flush=True)
        return 1 if failed else 0


def _unechoed(text: str, echo: list[str]) -> str:
    """``text`` without the answered prompt the terminal shows already."""
    if echo and text.startswith(echo[0]):
        text = text[len(echo.pop()):]
    return text


def _print_change(cell_id: str, change: dict[str, Any], texts: dict[tuple[str, int], str],
                  echo: list[str]) -> None:
    kind = change["kind"]
    key = (cell_id, change.get("index", 0))
    if kind == "text_tail":
        old = texts.get(key, "")
        keep = change["keep"]
        new = old[:keep] + change["text"]
        texts[key] = new
        if keep >= len(old):
            sys.stdout.write(_unechoed(change["text"], echo))
        else:
            sys.stdout.write("\r" + new[new.rfind("\n", 0, keep) + 1:])
    elif kind == "append":
        out = change["output"]
        if out.get("output_type") == "stream":
            texts[key] = out["text"]
            sys.stdout.write(_unechoed(out["text"], echo))
        else:
            from dikte.cli.headless import output_text

            sys.stdout.write(output_text(out))
    sys.stdout.flush()

"""Running one cell in a kernel and keeping everything it produced (tracebacks included)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tests.runtimes.runtime_helpers import Kernel


@dataclass
class Ran:
    status: str = ""
    stdout: str = ""
    stderr: str = ""
    results: list[str] = field(default_factory=list)
    """text/plain of execute_result and display_data outputs."""
    ename: str = ""
    evalue: str = ""
    traceback: list[str] = field(default_factory=list)

    def ok(self) -> str:
        assert self.status == "ok", f"cell failed: {self.ename}: {self.evalue}\n" + \
            "\n".join(self.traceback) + self.stderr
        return self.stdout


async def run_cell(k: Kernel, code: str, within: float = 60) -> Ran:
    ran = Ran()

    def hook(msg: dict[str, Any]) -> None:
        kind, content = msg["header"]["msg_type"], msg["content"]
        if kind == "stream":
            if content["name"] == "stdout":
                ran.stdout += content["text"]
            else:
                ran.stderr += content["text"]
        elif kind in ("execute_result", "display_data"):
            ran.results.append(content["data"].get("text/plain", ""))
        elif kind == "error":
            ran.ename, ran.evalue = content["ename"], content["evalue"]
            ran.traceback = list(content["traceback"])

    reply = await k.client.execute_interactive(code, output_hook=hook, timeout=within)
    ran.status = reply["content"]["status"]
    return ran

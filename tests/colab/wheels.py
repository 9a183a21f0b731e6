"""Small, valid pure-Python wheels built in a test, to install offline in a runtime."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path


def make_wheel(directory: Path, name: str, version: str, files: dict[str, str]) -> Path:
    """Write ``{name}-{version}-py3-none-any.whl`` holding ``files`` (archive path -> text)."""
    dist = f"{name.replace('-', '_')}-{version}.dist-info"
    content = {path: text.encode() for path, text in files.items()}
    content[f"{dist}/METADATA"] = (f"Metadata-Version: 2.1\nName: {name}\n"
                                   f"Version: {version}\n").encode()
    content[f"{dist}/WHEEL"] = (b"Wheel-Version: 1.0\nGenerator: dikte-tests\n"
                                b"Root-Is-Purelib: true\nTag: py3-none-any\n")
    record = []
    for path, data in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    content[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in content.items():
            zf.writestr(path, data)
    return wheel

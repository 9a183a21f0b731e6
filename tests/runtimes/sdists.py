"""A source-only package (no wheel) and the small build backend it needs, built in a test, so that
``pip install`` in a runtime has to build it offline, with build isolation, as for many packages
on PyPI that publish no wheel."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from tests.colab.wheels import make_wheel

BACKEND = '''
import base64, hashlib, os, tarfile, zipfile

def _meta(name, version):
    return f"Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n"

def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version = open("NAME").read().split()
    files = {f: open(f, "rb").read() for f in os.listdir(".") if f.endswith(".py")}
    dist = f"{name}-{version}.dist-info"
    files[f"{dist}/METADATA"] = _meta(name, version).encode()
    files[f"{dist}/WHEEL"] = b"Wheel-Version: 1.0\\nRoot-Is-Purelib: true\\nTag: py3-none-any\\n"
    def digest(d):
        return base64.urlsafe_b64encode(hashlib.sha256(d).digest()).rstrip(b"=").decode()
    rec = [f"{p},sha256={digest(d)},{len(d)}" for p, d in files.items()]
    files[f"{dist}/RECORD"] = ("\\n".join(rec + [f"{dist}/RECORD,,"]) + "\\n").encode()
    whl = f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(os.path.join(wheel_directory, whl), "w") as zf:
        for p, d in files.items():
            zf.writestr(p, d)
    return whl

def get_requires_for_build_wheel(config_settings=None):
    return []
'''


def make_sdist_with_backend(directory: Path, name: str, version: str, module: str) -> Path:
    """Put a wheel of the build backend ``dikte_tinyback`` and an sdist of ``name`` (one module
    ``{name}.py`` holding ``module``) that needs it into ``directory``; return the sdist."""
    make_wheel(directory, "dikte_tinyback", "1.0", {"dikte_tinyback.py": BACKEND})
    base = f"{name}-{version}"
    files = {
        "pyproject.toml": '[build-system]\nrequires = ["dikte_tinyback"]\n'
                          'build-backend = "dikte_tinyback"\n',
        "NAME": f"{name} {version}\n",
        f"{name}.py": module,
        "PKG-INFO": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
    }
    sdist = directory / f"{base}.tar.gz"
    with tarfile.open(sdist, "w:gz") as tf:
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{path}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return sdist

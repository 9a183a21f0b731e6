"""``pip install`` in a runtime as Colab users type it: packages without wheels get built (with
pip's build isolation), and what the image already has is "already satisfied", not reinstalled.

The package layer is pip's *prefix* (``PIP_PREFIX=/opt/dikte/site``). It used to be a target
(``PIP_TARGET``), which pip passes on to the pip it runs to install build requirements: that one
is also given ``--prefix`` and refused ("Cannot set --home and --prefix together"), so every
package published only as source failed to install.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from dikte.runtimes.base import RuntimeSpec
from dikte.runtimes.local import LocalBackend
from tests.runtimes.runtime_helpers import Runtimes, kernel
from tests.runtimes.sdists import make_sdist_with_backend


async def test_a_package_without_a_wheel_is_built_and_installed(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Callable[..., RuntimeSpec],
    drive: Path,
) -> None:
    pkgs = drive / "pkgs"
    pkgs.mkdir()
    make_sdist_with_backend(pkgs, "hello_sdist", "1.0", "GREETING = 'built from source'\n")
    handle = await runtimes.start(local_backend, spec(drive))
    async with kernel(handle) as k:
        pip = await k.run("!pip install --no-index --no-cache-dir --find-links "
                          "/content/drive/MyDrive/pkgs hello_sdist", within=120)
        assert "Successfully installed hello_sdist-1.0" in pip.ok(), pip
        out = (await k.run("import hello_sdist; print(hello_sdist.GREETING)")).ok()
        assert out.strip() == "built from source"
        again = (await k.run("%pip install --no-index numpy", within=120)).ok()
        assert "Requirement already satisfied: numpy" in again, again

"""Installing software in a runtime as Colab users type it: ``pip install`` builds packages
without wheels (with pip's build isolation) and finds what the image has "already satisfied";
``apt-get install`` works, because the runtime is root of its own user namespace over a writable
system layer of its own, and nothing it installs reaches the host.

The package layer is pip's *prefix* (``PIP_PREFIX=/opt/dikte/site``). It used to be a target
(``PIP_TARGET``), which pip passes on to the pip it runs to install build requirements: that one
is also given ``--prefix`` and refused ("Cannot set --home and --prefix together"), so every
package published only as source failed to install.
"""

from __future__ import annotations

import sysconfig
from collections.abc import Callable
from pathlib import Path

from dikte.runtimes.base import RuntimeSpec
from dikte.runtimes.local import LocalBackend
from tests.runtimes.debs import make_repo
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
        # the usual ways of putting packages elsewhere work too (Colab notebooks keep packages
        # on the drive with --target); no setting of Dikte's conflicts with them
        for where in ("--target /content/pylib", "--prefix /content/pfx --ignore-installed"):
            out = (await k.run(f"!pip install --no-index --no-cache-dir --find-links "
                               f"/content/drive/MyDrive/pkgs {where} hello_sdist", within=120))
            assert "Successfully installed hello_sdist-1.0" in out.ok(), (where, out)
    host_site = Path(sysconfig.get_paths()["purelib"])
    assert not list(host_site.glob("hello_sdist*")), "the image changed"  # noqa: ASYNC240


APT = (
    "!echo 'deb [trusted=yes] file:/content/drive/MyDrive/repo ./' "
    "> /etc/apt/sources.list.d/local.list\n"
    # only the local source: a test never reaches a Debian mirror
    "!apt-get update -o Dir::Etc::sourcelist=/etc/apt/sources.list.d/local.list "
    "-o Dir::Etc::sourceparts=- -o APT::Get::List-Cleanup=0 2>&1 | tail -2\n"
    "!apt-get install -y dikte-hello 2>&1 | tail -3\n"
    "!dikte-hello\n"
)


async def test_apt_get_install_works_and_stays_in_the_runtime(
    local_backend: LocalBackend, runtimes: Runtimes, spec: Callable[..., RuntimeSpec],
    drive: Path,
) -> None:
    make_repo(drive, "dikte-hello", "echo hello from a Debian package")
    handle = await runtimes.start(local_backend, spec(drive))
    async with kernel(handle) as k:
        out = (await k.run(APT, within=180)).ok()
        assert "Setting up dikte-hello (1.0)" in out, out
        assert out.rstrip().endswith("hello from a Debian package"), out
        again = (await k.run("!dpkg -s dikte-hello | grep Status")).ok()
        assert "install ok installed" in again
    assert not Path("/usr/bin/dikte-hello").exists()  # noqa: ASYNC240 (the host's /usr)
    assert "dikte-hello" not in Path("/var/lib/dpkg/status").read_text()  # noqa: ASYNC240

"""What a runtime imports: ``dikte.kernel``, the old ``dikte_runtime`` and ``google.colab``, from
the copies Dikte binds in, with Dikte's IPython extension loaded; and none of it in the server."""

from __future__ import annotations

import glob
import os
import subprocess
import sys
import tomllib
from collections.abc import Awaitable, Callable
from pathlib import Path

from dikte.runtimes.base import RuntimeHandle, RuntimeSpec
from dikte.runtimes.local import LocalBackend
from dikte.runtimes.persist import instance_dir_of
from dikte.runtimes.sandbox import COLAB_PACKAGE, DIKTE_PACKAGE, KERNEL_HELPERS
from dikte.runtimes.unsandboxed import UnsandboxedBackend
from tests.colab.cells import run_cell
from tests.colab.wheels import make_wheel
from tests.runtimes.runtime_helpers import Runtimes, kernel

Start = Callable[..., Awaitable[RuntimeHandle]]
ROOT = Path(__file__).resolve().parents[2]

WHERE = """\
import os, sys, dikte, dikte.kernel, dikte_runtime, google.colab, google.colab.drive
for module in (dikte, dikte.kernel, dikte_runtime, google.colab, google.colab.drive):
    print(module.__file__)
print(sys.path.index({colab!r}) < sys.path.index({site!r}) < sys.path.index({lib!r}))
print('dikte.kernel.extension' in get_ipython().extension_manager.loaded)
"""


async def test_a_sandboxed_kernel_imports_the_bound_copies_with_the_extension(
        sandboxed: Start) -> None:
    handle = await sandboxed()
    async with kernel(handle) as k:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        site = f"/opt/dikte/site/lib/{version}/site-packages"
        out = (await run_cell(k, WHERE.format(colab="/opt/dikte/colab", site=site,
                                              lib="/opt/dikte/lib"))).ok().splitlines()
        # read-only: a cell cannot change Dikte's code for the next runtime
        denied = (await run_cell(k, "open('/opt/dikte/lib/dikte/kernel/x.py', 'w')")).ename
    assert out == [
        "/opt/dikte/lib/dikte/__init__.py",  # not the image's editable install (/work/.../src)
        "/opt/dikte/lib/dikte/kernel/__init__.py",
        "/opt/dikte/lib/dikte/kernel/legacy/dikte_runtime.py",
        "/opt/dikte/colab/google/colab/__init__.py",
        "/opt/dikte/colab/google/colab/drive.py",
        "True", "True"]
    assert denied == "OSError"


async def test_an_unsandboxed_kernel_imports_them_before_the_editable_install(
        spec: Callable[..., RuntimeSpec], drive: Path, data_dir: Path, runtimes: Runtimes,
        images: dict[str, str]) -> None:
    # the test's own venv is the image: its editable install puts src/ on sys.path too
    handle = await runtimes.start(UnsandboxedBackend(data_dir, images=images), spec(drive))
    lib = instance_dir_of(handle) / "lib"
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    site = instance_dir_of(handle) / "site" / "lib" / version / "site-packages"
    async with kernel(handle) as k:
        out = (await run_cell(k, WHERE.format(colab=str(COLAB_PACKAGE), site=str(site),
                                              lib=str(lib)))).ok().splitlines()
    assert out == [
        f"{lib}/dikte/__init__.py", f"{lib}/dikte/kernel/__init__.py",
        f"{lib}/dikte/kernel/legacy/dikte_runtime.py",
        f"{COLAB_PACKAGE}/google/colab/__init__.py", f"{COLAB_PACKAGE}/google/colab/drive.py",
        "True", "True"]
    assert (lib / "dikte").resolve() == DIKTE_PACKAGE


async def test_installed_google_packages_import_beside_ours_and_never_shadow_it(
        sandboxed: Start, drive: Path, local_backend: LocalBackend) -> None:
    make_wheel(drive, "google-colab", "1.0.0", {"google/colab/__init__.py": "SHADOW = True\n"})
    make_wheel(drive, "google-dikte-probe", "1.0", {"google/dikte_probe/__init__.py": "X = 42\n"})
    wheels = " ".join(f"/content/drive/MyDrive/{name}" for name in (
        "google_colab-1.0.0-py3-none-any.whl", "google_dikte_probe-1.0-py3-none-any.whl"))
    probe = ("import google.colab, google.dikte_probe\n"
             "print(google.colab.__file__, hasattr(google.colab, 'SHADOW'), google.dikte_probe.X)")
    handle = await sandboxed()
    async with kernel(handle) as k:
        # google is imported before the package layer has a google folder; the install makes one
        (await run_cell(k, "import google.colab")).ok()
        at_once = await run_cell(k, f"%pip install -q --no-index --no-deps {wheels}\n{probe}",
                                 within=120)
    restarted = await local_backend.restart_kernel(handle)
    async with kernel(restarted) as k:
        fresh = await run_cell(k, probe)
    expected = "/opt/dikte/colab/google/colab/__init__.py False 42\n"
    assert at_once.ok().endswith(expected)
    assert fresh.ok() == expected


async def test_a_runtime_whose_extension_cannot_load_still_runs_cells(sandboxed: Start) -> None:
    handle = await sandboxed(env={"PYTHONPATH": "/opt/dikte/site"})  # no Dikte on the path
    async with kernel(handle) as k:
        out = (await run_cell(k, "print(6 * 7)\n"
                                 "print('dikte.kernel.extension' in "
                                 "get_ipython().extension_manager.loaded)")).ok()
    assert out.splitlines() == ["42", "False"]
    log = (instance_dir_of(handle) / "kernel.log").read_text()
    assert "dikte.kernel.extension" in log  # IPython reported it on the kernel's log


def test_the_servers_own_python_cannot_import_google_colab_or_dikte_runtime() -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run(
        [sys.executable, "-c",
         "import importlib.util as u, dikte.kernel\n"
         "print(u.find_spec('google.colab') if u.find_spec('google') else None, "
         "u.find_spec('dikte_runtime'), dikte.kernel.__file__)"],
        capture_output=True, text=True, env=env, timeout=60, check=True)
    assert r.stdout.split() == ["None", "None", str(KERNEL_HELPERS / "__init__.py")]


def test_a_built_package_ships_the_runtime_code() -> None:
    """Every file of the runtime-only folders matches a package-data pattern (they are not
    packages of the server, so nothing else would put them in a wheel)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["dikte"]
    shipped = {os.path.normpath(p) for pattern in patterns
               for p in glob.glob(str(DIKTE_PACKAGE / pattern), recursive=True)}
    needed = [p for folder in ("kernel/colab", "kernel/legacy")
              for p in glob.glob(str(DIKTE_PACKAGE / folder / "**" / "*.py"), recursive=True)]
    assert len(needed) > 5
    assert [p for p in needed if p not in shipped] == []

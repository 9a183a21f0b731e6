"""``dikte image build``: make an image with uv, reproducibly and atomically.

uv (Astral's resolver and installer, a PyPI wheel; many times faster than pip, with a shared cache
whose files it hard-links into each environment) creates a relocatable virtual environment with
pip in a temporary folder beside the image's, installs the pinned list into it, byte-compiled (the
image is read-only to runtimes), checks that its kernel imports, and writes ``manifest.json``.
Only then is the folder renamed into place, so an image is either the old one or the new one: a build that
fails or is killed leaves the old image as it was, and the next build removes its leftovers.

Indexes: uv is given pip's configuration (index-url, extra-index-url, find-links and cert from
pip's config files and ``PIP_*`` variables), with pip's rule of taking the best version from any
index, so a machine set up for pip builds images the same way.
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dikte.config import Settings
from dikte.images.catalog import MANIFEST, Manifest, read_manifest

Progress = Callable[[str], None]
_KERNEL_CHECK = ("import json, platform, ipykernel; "
                 "print(json.dumps({'python_version': platform.python_version()}))")


class BuildError(Exception):
    """A build that failed, with a sentence saying why; the old image is untouched."""


def uv_bin() -> str:
    from uv import find_uv_bin

    return find_uv_bin()


@dataclass(frozen=True)
class Plan:
    """What a build of one image would make."""

    name: str
    requirements: Path
    text: str
    interpreter: str
    python_version: str
    version: str


def image_version(requirements_text: str, python_version: str) -> str:
    """Short hash of the requirements text and the Python version."""
    digest = hashlib.sha256(f"{requirements_text}\npython {python_version}\n".encode())
    return digest.hexdigest()[:12]


def plan(settings: Settings, name: str) -> Plan:
    """Read the image's requirements and find its interpreter (raises BuildError)."""
    if name not in settings.images:
        raise BuildError(f"There is no image {name!r}; the configured images are "
                         f"{', '.join(sorted(settings.images))}.")
    image = settings.images[name]
    if not image.built_by_dikte:
        raise BuildError(f"Image {name} is an environment you bring ({image.python}); Dikte "
                         "builds only images with requirements.")
    requirements = Path(image.requirements)
    try:
        text = requirements.read_text()
    except OSError as exc:
        raise BuildError(f"Cannot read the requirements of image {name}, {requirements}: "
                         f"{exc.strerror}.") from None
    request = image.python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    interpreter, python_version = find_python(request)
    return Plan(name=name, requirements=requirements, text=text, interpreter=interpreter,
                python_version=python_version,
                version=image_version(text, python_version))


def find_python(request: str) -> tuple[str, str]:
    """The interpreter uv finds for ``request`` (never a virtual environment) and its version."""
    r = subprocess.run([uv_bin(), "python", "find", "--system", request], capture_output=True,
                       text=True, stdin=subprocess.DEVNULL, cwd="/")
    if r.returncode != 0:
        raise BuildError(f"uv found no Python {request} on this machine. Install it (your "
                         f"system's python{request} package, or: uv python install {request}). "
                         f"uv said: {r.stderr.strip()[-500:]}")
    path = r.stdout.strip()
    v = subprocess.run([path, "-I", "-c", "import platform; print(platform.python_version())"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if v.returncode != 0:
        raise BuildError(f"The Python uv found for {request}, {path}, does not run.")
    return path, v.stdout.strip()


def pip_index_options(environ: Mapping[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """uv's options and environment for pip's configured indexes, find-links and certificate
    bundle (pip's config files, then ``PIP_*`` variables, which win as in pip)."""
    env = os.environ if environ is None else environ
    found: dict[str, str] = {}
    parser = configparser.RawConfigParser()
    files = [Path("/etc/pip.conf")]
    files += [Path(d) / "pip" / "pip.conf"
              for d in reversed(env.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")) if d]
    home = Path(env.get("HOME", str(Path.home())))
    files += [home / ".pip" / "pip.conf",
              Path(env.get("XDG_CONFIG_HOME", str(home / ".config"))) / "pip" / "pip.conf"]
    if env.get("PIP_CONFIG_FILE") == os.devnull:
        files = []  # pip's way of saying: no config files
    elif env.get("PIP_CONFIG_FILE"):
        files.append(Path(env["PIP_CONFIG_FILE"]))
    for path in files:
        with contextlib.suppress(OSError, configparser.Error):
            parser.read(path)
            for section in ("global", "install"):
                if parser.has_section(section):
                    found.update(parser.items(section))
    for key in ("index-url", "extra-index-url", "find-links", "cert"):
        var = "PIP_" + key.upper().replace("-", "_")
        if env.get(var):
            found[key] = env[var]
    options: list[str] = []
    if found.get("index-url"):
        options += ["--index-url", found["index-url"].strip()]
    for key in ("extra-index-url", "find-links"):
        for value in found.get(key, "").split():
            options += [f"--{key}", value]
    if len(options) > 2 or (options and "--index-url" not in options):
        options += ["--index-strategy", "unsafe-best-match"]  # pip's rule across indexes
    uv_env = {"SSL_CERT_FILE": found["cert"]} if found.get("cert") else {}
    return options, uv_env


@contextlib.contextmanager
def _locked(root: Path, name: str, progress: Progress) -> Iterator[None]:
    """One build or removal of an image at a time: a second waits for the first."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{name}.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(f"waiting for another build or removal of image {name} to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _tidy(root: Path, name: str) -> None:
    """Remove what an interrupted build or removal left (call holding the lock): temporary
    folders, and an old image moved aside whose replacement never arrived, which is put back."""
    for leftover in root.glob(f".{name}.build-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    final = root / name
    for old in sorted(root.glob(f".{name}.old-*")):
        if not final.exists() and read_manifest(old) is not None:
            os.rename(old, final)
        else:
            shutil.rmtree(old, ignore_errors=True)


def disk_usage(folder: Path) -> int:
    """Bytes the folder's files take on disk, each file once however many links it has."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for base, dirs, files in os.walk(folder):
        for entry in (*dirs, *files):
            st = os.lstat(os.path.join(base, entry))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total


def _run(argv: list[str], progress: Progress, env: Mapping[str, str], show_uv: bool,
         what: str) -> None:
    """Run uv; its own progress bars on a terminal, else its summary lines to ``progress``."""
    if show_uv:
        r = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise BuildError(f"{what} failed (uv exited with {r.returncode}; see above).")
        return
    tail: list[str] = []
    with subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-30:], line]
            if line and not line.startswith((" + ", " - ", " ~ ")):
                progress("  uv: " + line.strip())
    if proc.returncode != 0:
        raise BuildError(f"{what} failed:\n" + "\n".join(tail[-15:]))


def build(settings: Settings, name: str, *, force: bool = False,
          progress: Progress = print, show_uv: bool = False) -> Manifest:
    """Build the image unless it is built and up to date (``force``: build anyway). Raises
    BuildError; the previous image, if any, is then as it was."""
    started = time.monotonic()
    p = plan(settings, name)
    final = settings.image_dir(name)
    root = final.parent
    with _locked(root, name, progress):
        _tidy(root, name)
        current = read_manifest(final)
        if current is not None and current.version == p.version and not force:
            progress(f"image {name} {p.version} is built and up to date")
            return current
        tmp = Path(tempfile.mkdtemp(prefix=f".{name}.build-", dir=root))
        try:
            manifest = _build_into(tmp, p, progress, show_uv)
            _swap(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    size = manifest.size_bytes / 10**9
    progress(f"built image {name} {manifest.version} in {time.monotonic() - started:.0f} s: "
             f"{len(manifest.packages)} packages, {size:.2f} GB, Python {manifest.python_version}")
    return manifest


def _build_into(tmp: Path, p: Plan, progress: Progress, show_uv: bool) -> Manifest:
    os.chmod(tmp, 0o755)  # runtimes read it as their own user
    uv = uv_bin()
    index, uv_env = pip_index_options()
    env = {**os.environ, **uv_env, "VIRTUAL_ENV": str(tmp)}
    env.pop("PYTHONPATH", None)
    count = sum(1 for line in p.text.splitlines() if line.strip() and not line.startswith("#"))
    progress(f"[1/4] image {p.name} {p.version}: a Python {p.python_version} environment "
             f"({p.interpreter})")
    # --seed: pip in the image itself, so a notebook's `!pip install` is the image's pip (a list
    # that pins pip, as the shipped ones do, then sets its version)
    _run([uv, "venv", "--quiet", "--relocatable", "--allow-existing", "--seed", *index,
          "--python", p.interpreter, str(tmp)], progress, env, False, "Creating the environment")
    progress(f"[2/4] installing {count} requirements from {p.requirements}")
    _run([uv, "pip", "install", "--python", str(tmp / "bin" / "python"), "--compile-bytecode",
          *index, "-r", str(p.requirements)], progress, env, show_uv, "Installing the packages")
    progress("[3/4] checking that its kernel imports")
    check = subprocess.run([str(tmp / "bin" / "python"), "-I", "-c", _KERNEL_CHECK],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if check.returncode != 0:
        raise BuildError(f"The image's Python cannot import ipykernel, which runtimes need; add "
                         f"ipykernel to {p.requirements}.\n{check.stderr.strip()[-1000:]}")
    freeze = subprocess.run([uv, "pip", "freeze", "--python", str(tmp / "bin" / "python")],
                            capture_output=True, text=True, stdin=subprocess.DEVNULL, env=env)
    packages = dict(line.split("==", 1) for line in freeze.stdout.splitlines() if "==" in line)
    progress("[4/4] writing its manifest and putting it in place")
    manifest = Manifest(
        name=p.name, version=p.version, python_version=json.loads(check.stdout)["python_version"],
        packages=packages, built_at=datetime.now(UTC).isoformat(timespec="seconds"),
        size_bytes=disk_usage(tmp), requirements=str(p.requirements))
    (tmp / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1, sort_keys=True) + "\n")
    os.chmod(tmp / MANIFEST, 0o644)
    return manifest


def _swap(tmp: Path, final: Path) -> None:
    """Put the built folder in place of the old image: the old one is moved aside first and
    removed after, so a crash between the two renames leaves it to be put back."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def remove(settings: Settings, name: str, progress: Progress = print) -> bool:
    """Remove a built image; False when it was not built."""
    final = settings.image_dir(name)
    with _locked(final.parent, name, progress):
        _tidy(final.parent, name)
        if not final.exists():
            return False
        # not built from here on, even if the removal below is cut short
        (final / MANIFEST).unlink(missing_ok=True)
        aside = final.with_name(f".{name}.old-{os.getpid()}")
        os.rename(final, aside)
        shutil.rmtree(aside)
        return True

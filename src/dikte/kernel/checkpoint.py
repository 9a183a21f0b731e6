"""Checkpoints for training that a stopped runtime must not lose.

Save everything a run needs in one call, and resume it in one call::

    from dikte.kernel import checkpoint

    CKPT = "/content/drive/MyDrive/run1/ckpt.pt"
    state = checkpoint.load(CKPT, model=model, optimizer=opt, scheduler=sched, missing_ok=True)
    start = state.get("epoch", 0)             # {} when there is no checkpoint yet
    for epoch in range(start, epochs):
        ...
        checkpoint.save(CKPT, model=model, optimizer=opt, scheduler=sched, epoch=epoch + 1,
                        keep=3)

``save(path, **state)`` stores each object that has ``state_dict()``/``load_state_dict()`` (PyTorch
modules, optimizers, LR schedulers, AMP grad scalers, and anything else with that pair) by its
state dict, and every other value (epoch, step, a history list, a NumPy generator) by pickling it.
It also stores the random number generators' states (Python's ``random``, NumPy's global
generator, torch's CPU generator and, when CUDA was used, every CUDA device's), so a resumed run
draws the same numbers as one that was never stopped. ``load(path, **live)`` loads the state
dicts into the live objects you pass, restores the generators, and returns everything else.

Writes are atomic: a temporary file in the same folder, flushed to disk, renamed over ``path``,
then the folder flushed too, so a runtime stopped mid-save leaves the previous checkpoint whole.
``keep=k`` keeps the last ``k`` checkpoints: the newest at ``path``, older ones at ``path.1``
(the one before), ``path.2`` and so on.

With torch imported the file is written by ``torch.save`` (tensors stored efficiently);
without torch, by ``pickle``. Either way it is a pickle: load only checkpoints you trust.
Standard library only; torch and NumPy are used when the program has imported them.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import random
import re
import secrets
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

FORMAT = "dikte-checkpoint"
VERSION = 1
ZIP_MAGIC = b"PK\x03\x04"


class CheckpointError(Exception):
    """A checkpoint that cannot be saved or loaded as asked; the message says why."""


# -- what is stored ----------------------------------------------------------------------------


def _is_stateful(obj: object) -> bool:
    return (not isinstance(obj, type) and callable(getattr(obj, "state_dict", None))
            and callable(getattr(obj, "load_state_dict", None)))


def rng_state() -> dict[str, Any]:
    """The state of every random number generator in use in this process."""
    state: dict[str, Any] = {"python": random.getstate()}
    np = sys.modules.get("numpy")
    if np is not None:
        state["numpy"] = np.random.get_state()
    torch = sys.modules.get("torch")
    if torch is not None:
        state["torch"] = torch.get_rng_state()
        cuda = getattr(torch, "cuda", None)
        if cuda is not None and cuda.is_available() and cuda.is_initialized():
            state["cuda"] = cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned (the parts this process can use)."""
    if "python" in state:
        random.setstate(state["python"])
    if "numpy" in state:
        try:
            import numpy as np
        except ImportError:
            pass
        else:
            np.random.set_state(state["numpy"])
    if "torch" in state or "cuda" in state:
        try:
            import torch
        except ImportError:
            return
        if "torch" in state:
            torch.set_rng_state(state["torch"])
        if "cuda" in state and torch.cuda.is_available():
            devices = min(len(state["cuda"]), torch.cuda.device_count())
            for i in range(devices):
                torch.cuda.set_rng_state(state["cuda"][i], i)


def _payload(state: dict[str, Any], rng: bool) -> dict[str, Any]:
    stateful = {name: obj.state_dict() for name, obj in state.items() if _is_stateful(obj)}
    values = {name: obj for name, obj in state.items() if name not in stateful}
    return {"format": FORMAT, "version": VERSION, "stateful": stateful, "values": values,
            "rng": rng_state() if rng else None}


def _unpicklable(values: dict[str, Any]) -> str | None:
    for name, value in values.items():
        try:
            pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            return f"{name!r} cannot be saved: {exc}"
    return None


# -- files ------------------------------------------------------------------------------------


def older(path: str | os.PathLike[str], n: int) -> Path:
    """Where the ``n``-th checkpoint before the newest is kept (``n >= 1``)."""
    p = Path(path)
    return p.with_name(f"{p.name}.{n}")


def history(path: str | os.PathLike[str]) -> list[Path]:
    """The checkpoints kept for ``path``, newest first."""
    p = Path(path)
    found = [p] if p.exists() else []
    numbered = re.compile(re.escape(p.name) + r"\.(\d+)")
    try:
        names = os.listdir(p.parent)
    except FileNotFoundError:
        return found
    kept = sorted((int(m.group(1)), p.parent / name) for name in names
                  if (m := numbered.fullmatch(name)))
    return found + [q for _, q in kept]


def exists(path: str | os.PathLike[str]) -> bool:
    """Whether there is a checkpoint to resume from at ``path``."""
    return bool(history(path))


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _temp_prefix(target: Path) -> str:
    return f".{target.name}.{socket.gethostname()}-"


def _remove_stale_temps(target: Path) -> None:
    """Temporary files that an earlier save on this runtime left when it was killed mid-way."""
    prefix = _temp_prefix(target)
    for name in os.listdir(target.parent):
        if not (name.startswith(prefix) and name.endswith(".tmp")):
            continue
        pid = name[len(prefix):].split("-", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                os.unlink(target.parent / name)
        except OSError:
            pass  # alive, as another user


def _rotate(target: Path, keep: int) -> None:
    """Make room for a new newest checkpoint: shift the kept ones up by one, the newest becomes
    ``path.1`` (as a hard link, so ``path`` stays readable until it is replaced), and drop
    whatever lies beyond ``keep``."""
    for old in history(target):
        if old == target:
            continue
        n = int(old.name.rsplit(".", 1)[1])
        if n >= keep - 1:
            old.unlink()
    for n in range(keep - 2, 0, -1):
        if older(target, n).exists():
            os.replace(older(target, n), older(target, n + 1))
    if keep > 1 and target.exists():
        try:
            os.link(target, older(target, 1))
        except OSError:  # a filesystem without hard links: load() falls back to path.1
            os.replace(target, older(target, 1))


def _write_atomic(target: Path, write: Callable[[IO[bytes]], None], keep: int) -> None:
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(target)
    tmp = directory / f"{_temp_prefix(target)}{os.getpid()}-{secrets.token_hex(4)}.tmp"
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        _rotate(target, keep)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(directory)


# -- the calls --------------------------------------------------------------------------------


def save(path: str | os.PathLike[str], *, keep: int = 1, rng: bool = True, **state: Any) -> Path:
    """Save ``state`` (name=object pairs) to ``path`` atomically; keep the last ``keep``
    checkpoints. ``rng=False`` leaves the random number generators' states out. Returns the path.

    ``keep`` and ``rng`` are options, not state names; everything else is stored under its name.
    """
    if not isinstance(keep, int) or keep < 1:
        raise ValueError(f"keep must be a whole number of checkpoints, at least 1, not {keep!r}")
    if not state:
        raise CheckpointError("Nothing to save: pass the state as name=value, "
                              "for example save(path, model=model, epoch=epoch).")
    target = Path(os.path.abspath(os.fspath(path)))
    payload = _payload(state, rng)
    torch = sys.modules.get("torch")

    def write(f: IO[bytes]) -> None:
        try:
            if torch is not None:
                torch.save(payload, f)
            else:
                pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            problem = _unpicklable(payload["values"])
            if problem is not None:
                raise CheckpointError(f"{problem}.") from exc
            raise

    _write_atomic(target, write, keep)
    return target


def _read(path: Path, map_location: Any) -> dict[str, Any]:
    with open(path, "rb") as f:
        magic = f.read(4)
        f.seek(0)
        if magic == ZIP_MAGIC:
            try:
                import torch
            except ImportError:
                raise CheckpointError(f"{path} was saved with PyTorch; install torch to load "
                                      "it.") from None
            payload = torch.load(f, map_location=map_location, weights_only=False)
        else:
            try:
                payload = pickle.load(f)
            except Exception as exc:
                raise CheckpointError(f"{path} is not a checkpoint ({exc}).") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a checkpoint saved by dikte.kernel.checkpoint.")
    if payload.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was saved by a newer Dikte (format version "
                              f"{payload['version']}); this runtime reads up to {VERSION}.")
    return payload


def load(path: str | os.PathLike[str], *, missing_ok: bool = False, rng: bool = True,
         map_location: Any = "cpu", **live: Any) -> dict[str, Any]:
    """Load the checkpoint at ``path`` into the live objects passed by name (``model=model``
    calls ``model.load_state_dict``), restore the random number generators (unless
    ``rng=False``), and return the rest: plain values, and the state dicts of objects not passed.

    When ``path`` is missing, the newest older checkpoint kept beside it is read; when there is
    none, ``missing_ok=True`` returns ``{}`` and restores nothing (a first run), otherwise
    FileNotFoundError. Tensors are loaded onto ``map_location`` (the CPU by default);
    ``load_state_dict`` then copies them to wherever the live object's own tensors are.
    """
    kept = history(path)
    if not kept:
        if missing_ok:
            return {}
        raise FileNotFoundError(f"There is no checkpoint at {os.fspath(path)}.")
    payload = _read(kept[0], map_location)
    stateful: dict[str, Any] = payload["stateful"]
    values: dict[str, Any] = payload["values"]
    absent = [name for name in live if name not in stateful and name not in values]
    if absent:
        holds = ", ".join(sorted([*stateful, *values])) or "nothing"
        raise CheckpointError(f"The checkpoint {kept[0]} has no {', '.join(absent)}; "
                              f"it holds {holds}.")
    for name, obj in live.items():
        if name not in stateful:
            raise CheckpointError(f"{name!r} was saved as a plain value, not as a state dict; "
                                  "take it from what load() returns instead of passing it.")
        if not _is_stateful(obj):
            raise CheckpointError(f"Cannot load {name!r} into a {type(obj).__name__}: it has no "
                                  "load_state_dict().")
        obj.load_state_dict(stateful[name])
    if rng and payload.get("rng"):
        set_rng_state(payload["rng"])
    rest = dict(values)
    rest.update({name: sd for name, sd in stateful.items() if name not in live})
    return rest

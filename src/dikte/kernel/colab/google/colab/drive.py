"""``google.colab.drive`` in a Dikte runtime.

A Dikte runtime always has its owner's drive at ``/content/drive/MyDrive`` (bound in when the
runtime starts; no sign-in, no sync delay). So:

- ``mount('/content/drive')`` checks the drive is there and prints ``Mounted at /content/drive``.
- ``mount(elsewhere)`` (``'/content/gdrive'``, ``'/gdrive'``) makes ``elsewhere/MyDrive`` reach the
  drive (a symbolic link), with Colab's rules for the mountpoint: no spaces, not a symlink, an
  empty directory or nothing, in a directory that exists.
- Mounting a mountpoint again says it is already mounted, as Colab does, until
  ``force_remount=True``; this holds across kernel restarts within the runtime.
- ``timeout_ms`` is accepted (nothing is waited for). ``readonly=True`` is accepted, but the drive
  stays writable (the runtime cannot remount it read-only); ``mount`` says so on stderr.
- ``flush_and_unmount()`` flushes every write to disk (``sync``) and removes the links other
  mountpoints made; ``/content/drive/MyDrive`` itself stays reachable.
"""

from __future__ import annotations

import os
import sys
import tempfile

__all__ = ["flush_and_unmount", "mount"]

DEFAULT_DRIVE = "/content/drive/MyDrive"
READONLY_NOTE = ("Note: readonly=True is not enforced in Dikte; your drive stays writable, so "
                 "take care not to change files you only meant to read.")


def _drive() -> str:
    """Where the owner's drive is in this runtime."""
    return os.environ.get("DIKTE_DRIVE", DEFAULT_DRIVE)


def _state_file() -> str:
    # /tmp is private to the runtime: the record survives a kernel restart, not a new runtime
    return os.path.join(tempfile.gettempdir(), ".dikte-drive-mounts")


def _mounted() -> list[str]:
    try:
        with open(_state_file()) as f:
            return [line for line in f.read().splitlines() if line]
    except OSError:
        return []


def _record(mounts: list[str]) -> None:
    with open(_state_file(), "w") as f:
        f.write("".join(f"{m}\n" for m in mounts))


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _link_drive(target: str, drive: str, force: bool) -> None:
    """Make ``target/MyDrive`` a link to the drive, with Colab's rules for ``target``."""
    link = os.path.join(target, "MyDrive")
    if os.path.islink(target):
        raise ValueError("Mountpoint must not be a symlink")
    if _inside(os.path.realpath(target), os.path.realpath(drive)):
        raise ValueError("Mountpoint must not be inside the drive itself")
    if os.path.isdir(target):
        ours = os.path.islink(link) and os.readlink(link) == drive
        if ours:
            if not force:
                return
            os.unlink(link)
        if os.listdir(target):
            raise ValueError("Mountpoint must not already contain files")
    elif os.path.lexists(target):
        raise ValueError("Mountpoint must either be a directory or not exist")
    elif not os.path.isdir(os.path.dirname(target)):
        raise ValueError("Mountpoint must be in a directory that exists")
    else:
        try:
            os.mkdir(target)
        except PermissionError:
            raise ValueError(f"mount failed: this runtime may not create {target}; mount under "
                             "/content instead") from None
    os.symlink(drive, link)


def mount(mountpoint: str, force_remount: bool = False, timeout_ms: int = 120000,
          readonly: bool = False) -> None:
    """Make the drive reachable at ``mountpoint``/MyDrive and print ``Mounted at MOUNTPOINT``."""
    if " " in mountpoint:
        raise ValueError("Mountpoint must not contain a space.")
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, (int, float)) \
            or timeout_ms <= 0:
        raise ValueError(f"timeout_ms must be a positive number of milliseconds, not "
                         f"{timeout_ms!r}")
    shown = os.path.expanduser(mountpoint)
    target = os.path.abspath(shown)
    drive = _drive()
    if not os.path.isdir(drive):
        raise ValueError(f"mount failed: this runtime has no drive at {drive}")
    mounts = _mounted()
    if target in mounts and not force_remount:
        print(f"Drive already mounted at {shown}; to attempt to forcibly remount, call "
              f'drive.mount("{shown}", force_remount=True).')
        return
    if target != os.path.dirname(drive):
        _link_drive(target, drive, force=force_remount)
    if target not in mounts:
        _record([*mounts, target])
    if readonly:
        print(READONLY_NOTE, file=sys.stderr)
    print(f"Mounted at {shown}")


def flush_and_unmount(timeout_ms: int = 24 * 60 * 60 * 1000) -> None:
    """Write everything pending to disk and undo the mounts; as Colab, silent when it worked."""
    mounts = _mounted()
    if not mounts:
        print("Drive not mounted, so nothing to flush and unmount.")
        return
    os.sync()
    drive = _drive()
    for target in mounts:
        link = os.path.join(target, "MyDrive")
        if target != os.path.dirname(drive) and os.path.islink(link) \
                and os.readlink(link) == drive:
            os.unlink(link)
    _record([])

"""A runtime's disk: a file system of its own whose size is the runtime's disk limit, and what
the runtime holds open of files deleted from its drive.

When Dikte runs as root, a runtime's instance space (:mod:`dikte.runtimes.instance`: ``/content``,
``/tmp``, ``/root``, the package layer, the upper folders of its system layers, its kernel log) is
the root of an ext4 file system in a sparse image file, ``<data_dir>/runtimes/<id>.img``, as large
as the limit, mounted at ``<data_dir>/runtimes/<id>`` through a loop device (``nosuid``,
``nodev``). So:

- the limit holds by construction: a write past it fails in the runtime with ENOSPC ("No space
  left on device") and the runtime goes on; a file unlinked while held open keeps taking room
  there, like any other;
- measuring is ``statvfs``, O(1) however many files there are, never a walk;
- removing is an unmount and the deletion of one file, never a walk.

The file system has no journal (it lives no longer than its runtime, and after a host crash it
is deleted, never repaired), and its inode tables are not initialised (``lazy_itable_init`` at
``mkfs``, ``noinit_itable`` at mount): making one costs about 10 ms and a few MiB on the host,
whatever its size; the image takes host space only for what the runtime writes. Its own
bookkeeping (inode tables: 1/64 of the size) counts as used, so the runtime can store about 98% of
the limit and "full" means the limit.

Everything here runs as root, in the control plane, on host paths Dikte made; it executes only the
host's ``mkfs.ext4`` and ``mount`` (e2fsprogs and util-linux), never anything of a runtime's.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import shutil
import stat
import subprocess
from collections.abc import Iterable
from pathlib import Path

from dikte.errors import RuntimeUnavailable

MKFS_OPTIONS = ("-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256", "-i", "16384", "-m", "0",
                "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard")
"""mkfs.ext4: quiet, on a file; 4 KiB blocks, one inode per 16 KiB (what ext4 uses for large file
systems, whatever the size here), nothing reserved for root, no journal, inode tables left for
the kernel (which ``noinit_itable`` then never writes)."""

MOUNT_OPTIONS = "loop,nosuid,nodev,noatime,noinit_itable"

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

_MNT_DETACH = 0x2
_LOOP_CLR_FD = 0x4C01
_libc = ctypes.CDLL(None, use_errno=True)


def _tool(name: str) -> str:
    found = shutil.which(name, path=SYSTEM_PATH)
    if found is None:
        raise RuntimeUnavailable(
            "This server cannot give runtimes a disk of their own.",
            log_message=f"{name} not found in {SYSTEM_PATH} (apt-get install e2fsprogs mount)",
        )
    return found


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                          env={"PATH": SYSTEM_PATH, "LANG": "C.UTF-8"}, timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeUnavailable(
            "This server could not make the runtime's disk. Try again; if it keeps failing, "
            "tell your administrator.",
            log_message=f"{' '.join(argv)} exited with {done.returncode}: "
                        f"{(done.stderr or done.stdout).strip()[-2000:]}",
        )


def make(image: Path, mount: Path, size: int) -> None:
    """Create ``image`` (``size`` bytes, sparse, new), make a file system in it and mount it at
    ``mount``, an empty folder; its root then belongs to root, mode 0700. On failure nothing of
    it is left."""
    fd = os.open(image, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o600)
    try:
        try:
            os.ftruncate(fd, size)
        finally:
            os.close(fd)
        _run([_tool("mkfs.ext4"), *MKFS_OPTIONS, str(image)])
        _run([_tool("mount"), "-t", "ext4", "-o", MOUNT_OPTIONS, str(image), str(mount)])
        os.chmod(mount, 0o700)
        with contextlib.suppress(OSError):
            os.rmdir(mount / "lost+found")  # never repaired, so never needed
    except BaseException:
        remove(image, mount)
        raise


def is_mounted(mount: Path) -> bool:
    """Whether a file system (a runtime's disk) is mounted at ``mount``."""
    return os.path.ismount(mount)


def used_bytes(image: Path, mount: Path) -> int:
    """Bytes of the disk the runtime can no longer write: its size less what is available
    (``statvfs``: O(1)). Files deleted but still open count; so does the file system's own
    bookkeeping."""
    st = os.statvfs(mount)
    size = os.stat(image).st_size
    return max(0, size - st.f_bavail * st.f_frsize)


def remove(image: Path, mount: Path) -> None:
    """Unmount the disk (lazily when something still holds it: the loop device then goes when
    the last holder does) and delete its image. Safe to repeat, and after a crash."""
    if is_mounted(mount) and _libc.umount2(os.fsencode(mount), 0) != 0:
        _libc.umount2(os.fsencode(mount), _MNT_DETACH)
    for dev in loop_devices(image):  # attached but not mounted (a crash between the two)
        _detach(dev)
    with contextlib.suppress(FileNotFoundError):
        image.unlink()


def loop_devices(image: Path) -> list[str]:
    """The loop devices (``loop3``) whose backing file is ``image`` (deleted or not)."""
    found = []
    for dev in Path("/sys/block").glob("loop*"):
        try:
            backing = (dev / "loop" / "backing_file").read_text().strip()
        except OSError:
            continue
        if backing.removesuffix(" (deleted)") == str(image):
            found.append(dev.name)
    return found


def _detach(dev: str) -> None:
    """LOOP_CLR_FD: frees the device now, or (when it is still mounted) when it is unmounted."""
    try:
        fd = os.open(f"/dev/{dev}", os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            fcntl.ioctl(fd, _LOOP_CLR_FD, 0)
    finally:
        os.close(fd)


def held_unlinked_bytes(pids: Iterable[int], dev: int) -> int:
    """Bytes of regular files on the file system ``dev`` (the drive's) that have no name left
    but that ``pids`` hold open or mapped: room on that disk no walk over it sees. Each file is
    counted once (by inode), by the blocks it takes.

    It runs every few seconds for every runtime, so it asks little: each fd table once (the
    threads of a process share one, unless a thread made its own, which ``kcmp`` tells), and of
    the mappings only those the kernel lists as deleted (a mapped file with no name left is
    always listed so), instead of a stat of every mapping of every library."""
    seen: set[int] = set()
    total = 0
    for pid in pids:
        links: list[str] = []
        for where in _fd_dirs(pid):
            try:
                links += [f"{where}/{name}" for name in os.listdir(where)]
            except OSError:
                continue
        links += [f"/proc/{pid}/map_files/{span}" for span in _deleted_mappings(pid)]
        for link in links:
            try:
                st = os.stat(link)
            except OSError:
                continue
            if (st.st_nlink == 0 and st.st_dev == dev and stat.S_ISREG(st.st_mode)
                    and st.st_ino not in seen):
                seen.add(st.st_ino)
                total += st.st_blocks * 512
    return total


_SYS_KCMP = {"x86_64": 312, "aarch64": 272}.get(os.uname().machine)
_KCMP_FILES = 2


def _same_fd_table(pid: int, tid: int) -> bool:
    """Whether thread ``tid`` uses the fd table of ``pid``'s main thread (False when unsure)."""
    if _SYS_KCMP is None:
        return False
    return int(_libc.syscall(_SYS_KCMP, pid, tid, _KCMP_FILES, 0, 0)) == 0


def _fd_dirs(pid: int) -> list[str]:
    """Where a process's open files are listed: the fd table of its main thread, and that of
    each other thread with a table of its own."""
    try:
        tids = [int(t) for t in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []
    return [f"/proc/{pid}/task/{tid}/fd" for tid in tids
            if tid == pid or not _same_fd_table(pid, tid)]


def _deleted_mappings(pid: int) -> list[str]:
    """The address ranges (names in ``/proc/<pid>/map_files``) of ``pid``'s mappings of files
    that have no name left."""
    try:
        with open(f"/proc/{pid}/maps", "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    spans = []
    for line in lines:
        if line.endswith(b" (deleted)"):  # maps pads addresses to 8 digits, map_files does not
            start, end = line.split(b" ", 1)[0].split(b"-")
            spans.append(f"{int(start, 16):x}-{int(end, 16):x}")
    return spans


def sweep(runtimes: Path, ended: set[str]) -> list[str]:
    """Remove the disks of ``ended`` runtimes (no process left, nothing mounted over them) found
    in ``runtimes``: mounted, attached to a loop device, or only an image. Returns their ids."""
    removed = []
    for rid in sorted(ended):
        image, mount = runtimes / f"{rid}.img", runtimes / rid
        if image.exists() or is_mounted(mount) or loop_devices(image):
            remove(image, mount)
            removed.append(rid)
    return removed

"""What a runtime holds open of files deleted from its drive (they count against the drive
quota), found however it holds them: an open file, a mapping with no file descriptor left, or
a thread with a file table of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from dikte.runtimes.disk import held_unlinked_bytes

# Makes three files of different sizes in the folder argv[1], holds each in its own way, deletes
# them all, says "held" and waits.
HOLDER = r"""
import ctypes, mmap, os, sys, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                      ctypes.c_long]
folder = sys.argv[1]
def make(name, size):
    path = os.path.join(folder, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path
opened = make("opened", 1 << 20)
fd = os.open(opened, os.O_RDONLY)
mapped = make("mapped", 2 << 20)
mfd = os.open(mapped, os.O_RDONLY)  # mapped, then closed (Python's mmap would keep a copy)
assert libc.mmap(None, 2 << 20, mmap.PROT_READ, mmap.MAP_SHARED, mfd, 0) not in (None, 2**64 - 1)
os.close(mfd)
own_table = make("own-table", 3 << 20)
ready = threading.Event()
def thread():
    assert libc.unshare(0x400) == 0  # CLONE_FILES: this thread's file table is its own now
    os.open(own_table, os.O_RDONLY)
    ready.set()
    threading.Event().wait()
threading.Thread(target=thread, daemon=True).start()
ready.wait()
for path in (opened, mapped, own_table):
    os.unlink(path)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[int]:
    with subprocess.Popen([sys.executable, "-c", HOLDER, str(tmp_path)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "held\n"
            yield proc.pid
        finally:
            proc.kill()


def test_every_way_of_holding_a_deleted_file_is_counted(tmp_path: Path, holder: int) -> None:
    assert os.listdir(tmp_path) == []
    held = held_unlinked_bytes([holder], os.stat(tmp_path).st_dev)
    # each file once, by the blocks it takes (a few more than its size where the file system
    # allocates ahead)
    assert (1 + 2 + 3) << 20 <= held < ((1 + 2 + 3) << 20) + (1 << 20), held
    assert held_unlinked_bytes([holder], os.stat("/proc").st_dev) == 0  # another file system

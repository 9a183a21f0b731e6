"""A shell on a pty, as the runtime terminal's WebSocket drives it.

The control plane keeps the pty's master side, non-blocking, read from the event loop (reading
pauses while the client falls behind, so the shell blocks instead of memory filling up). Closing
ends the shell's whole session. :mod:`dikte.runtimes.shells` says how the shell is started.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import termios

import psutil

from dikte.runtimes import procs

_READ_SIZE = 1 << 16
_MAX_QUEUED = 64
TIOCGSID = getattr(termios, "TIOCGSID", 0x5429)  # Linux's value on x86 and arm; Python lacks it


def tty_session(master: int) -> int | None:
    """The session (host pid of its leader) whose controlling terminal the pty is, if any."""
    try:
        raw = fcntl.ioctl(master, TIOCGSID, b"\0\0\0\0")
    except OSError:
        return None
    sid: int = struct.unpack("i", raw)[0]
    return sid


def set_size(fd: int, cols: int, rows: int) -> None:
    """Set the pty's window size (the shell's foreground job gets SIGWINCH)."""
    cols, rows = max(1, min(cols, 1000)), max(1, min(rows, 1000))
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


class Terminal:
    """A running shell: ``read()`` its output, ``write()`` keystrokes, ``resize()``, ``close()``."""

    def __init__(self, proc: asyncio.subprocess.Process, master: int) -> None:
        self.proc = proc
        self.master = master
        self._loop = asyncio.get_running_loop()
        self._out: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._pending = bytearray()
        self._reading = False
        self._eof = False
        self._done = False
        self._closed = False
        self._sid: int | None = None
        os.set_blocking(master, False)
        self._start_reading()
        self._exit_watch = asyncio.create_task(self._on_exit())

    # ---- output ------------------------------------------------------------------------------

    def _start_reading(self) -> None:
        if not self._reading and not self._eof and not self._closed:
            self._loop.add_reader(self.master, self._readable)
            self._reading = True

    def _stop_reading(self) -> None:
        if self._reading:
            self._loop.remove_reader(self.master)
            self._reading = False

    def _read_once(self) -> bytes | None:
        """Bytes, b"" at the end (EIO: no slave side is open), None when nothing is waiting."""
        try:
            return os.read(self.master, _READ_SIZE)
        except BlockingIOError:
            return None
        except OSError:
            return b""

    def _end(self) -> None:
        if not self._eof:
            self._eof = True
            self._stop_reading()
            self._out.put_nowait(None)

    def _readable(self) -> None:
        if self._sid is None:  # the shell's session (its host pid), once it owns the pty
            self._sid = tty_session(self.master)
        data = self._read_once()
        if data is None:
            return
        if not data:
            self._end()
            return
        self._out.put_nowait(data)
        if self._out.qsize() >= _MAX_QUEUED:  # the client reads slowly: let the pty fill up
            self._stop_reading()

    async def _on_exit(self) -> None:
        """When the shell exits, take what it left in the pty and end the output (a background
        job may hold the pty open, so the end cannot wait for EIO)."""
        await self.proc.wait()
        while not self._eof and not self._closed:
            data = self._read_once()
            if not data:
                break
            self._out.put_nowait(data)
        self._end()

    async def read(self) -> bytes | None:
        """The next output (everything waiting, joined); None once the shell has ended."""
        if self._done:
            return None
        parts: list[bytes] = []
        item = await self._out.get()
        while True:
            if item is None:
                self._done = True
                break
            parts.append(item)
            if self._out.empty():
                break
            item = self._out.get_nowait()
        self._start_reading()
        return b"".join(parts) if parts else None

    # ---- input -------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if not self._closed:
            self._pending += data
            self._flush()

    def _flush(self) -> None:
        while self._pending and not self._closed:
            try:
                n = os.write(self.master, self._pending)
            except BlockingIOError:  # the pty's input is full: write when it has room
                self._loop.add_writer(self.master, self._flush)
                return
            except OSError:
                self._pending.clear()
                break
            del self._pending[:n]
        if not self._closed:
            self._loop.remove_writer(self.master)

    def resize(self, cols: int, rows: int) -> None:
        if not self._closed:
            set_size(self.master, cols, rows)

    # ---- end ---------------------------------------------------------------------------------

    async def close(self, grace: float = 1.0) -> None:
        """End the shell and everything it started: hang up, SIGKILL what stays; reap our child."""
        if self._closed:
            return
        if self._sid is None:
            self._sid = tty_session(self.master)
        leaders = {self.proc.pid, *procs_tree(self.proc.pid)}
        if self._sid is not None:
            leaders.add(self._sid)

        def pids() -> set[int]:
            out = set(procs_tree(self.proc.pid))
            if self.proc.returncode is None:
                out.add(self.proc.pid)
            for sid in leaders:
                out |= procs.session_pids(sid)
            return out

        self._closed = True
        self._stop_reading()
        self._loop.remove_writer(self.master)
        os.close(self.master)  # a hangup for the shell's session
        procs.send(pids(), signal.SIGHUP)
        await procs.end_processes(pids, grace)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        await self.proc.wait()
        await self._exit_watch



def procs_tree(root: int) -> set[int]:
    """``root``'s live descendants."""
    try:
        descendants = psutil.Process(root).children(recursive=True)
    except psutil.NoSuchProcess:
        return set()
    out: set[int] = set()
    for proc in descendants:
        with contextlib.suppress(psutil.Error):
            if proc.status() not in procs.ENDED:
                out.add(proc.pid)
    return out

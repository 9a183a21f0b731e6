"""``dikte`` commands (``serve`` above all) started by forking a process that has already
imported Dikte.

A server's start spends about a second of CPU importing FastAPI, SQLAlchemy, Alembic and Dikte
itself, a command about a third of one; the suite starts some 140 servers and 150 commands on
two cores. Each test worker keeps one helper process (started on first use) that imports all
that once and then forks: the child takes its own environment, working directory, arguments,
input and output files and runs ``dikte.cli.main.main``, the function ``python -m
dikte.cli.main`` runs. The helper is the child's parent: it reaps it and reports its exit
status, which :class:`ForkedProcess` gives back with the part of ``subprocess.Popen`` the tests
use (``pid``, ``poll``, ``wait``, ``send_signal``, ``terminate``, ``kill``);
:meth:`ForkServer.run` is ``subprocess.run`` with captured output.

The helper holds no thread when it forks (it checks), so a child starts from a single-threaded
copy, as after ``exec``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any


class ForkedProcess:
    """A process the helper forked, seen as ``subprocess.Popen`` shows a child."""

    def __init__(self, starter: ForkServer, pid: int) -> None:
        self._starter = starter
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        self.returncode = self._starter.returncode(self.pid)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        code = self._starter.wait(self.pid, timeout)
        if code is None:
            raise subprocess.TimeoutExpired(["dikte"], timeout or 0)
        self.returncode = code
        return code

    def send_signal(self, sig: int) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass  # ended meanwhile; the helper reports it

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


class ForkServer:
    """The test worker's side: starts the helper, asks it for processes, follows their ends."""

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._starting = threading.Lock()  # one start at a time: answers come in order
        self._proc: subprocess.Popen[bytes] | None = None
        self._started: list[int] = []
        self._ended: dict[int, int] = {}
        self._broken = ""
        self._reader: threading.Thread | None = None

    def _helper(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            env = {**os.environ, "PYTHONUNBUFFERED": "1"}
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.support.forkserver"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, env=env, cwd=Path(__file__).resolve().parents[2])
            self._reader = threading.Thread(target=self._read, args=(self._proc.stdout,),
                                            daemon=True)
            self._reader.start()
        return self._proc

    def _read(self, out: IO[bytes]) -> None:
        for line in out:
            msg = json.loads(line)
            with self._lock:
                if "pid" in msg:
                    self._started.append(msg["pid"])
                else:
                    self._ended[msg["ended"]] = msg["code"]
                self._lock.notify_all()
        with self._lock:
            self._broken = "the fork server ended"
            self._lock.notify_all()

    def start(self, argv: list[str], env: dict[str, str], log: Path,
              stderr: Path | None = None, stdin: Path | None = None) -> ForkedProcess:
        """Run ``dikte <argv>`` with ``env`` as its whole environment and this process's
        working directory, its output appended to ``log`` (its errors too unless ``stderr``
        names a file of their own) and its input from ``stdin`` (else /dev/null)."""
        request = {"argv": argv, "env": env, "cwd": os.getcwd(), "log": str(log),
                   "stderr": str(stderr or log), "stdin": str(stdin or os.devnull)}
        with self._starting, self._lock:
            helper = self._helper()
            assert helper.stdin is not None
            helper.stdin.write(json.dumps(request).encode() + b"\n")
            helper.stdin.flush()
            if not self._lock.wait_for(lambda: self._started or self._broken, timeout=60):
                raise RuntimeError("the fork server did not answer in 60 s")
            if not self._started:
                raise RuntimeError(self._broken)
            return ForkedProcess(self, self._started.pop(0))

    def run(self, argv: list[str], env: dict[str, str], input: str | None = None,
            timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """``subprocess.run([python, -m, dikte.cli.main, *argv], env=env, input=input,
        text=True, capture_output=True, timeout=timeout)``, forked."""
        with tempfile.TemporaryDirectory(prefix="dikte-cli-") as tmp:
            out, err, given = Path(tmp, "out"), Path(tmp, "err"), None
            if input is not None:
                given = Path(tmp, "in")
                given.write_text(input)
            proc = self.start(argv, env, out, stderr=err, stdin=given)
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise subprocess.TimeoutExpired(["dikte", *argv], timeout or 0,
                                                out.read_text(), err.read_text()) from None
            return subprocess.CompletedProcess(["dikte", *argv], code, out.read_text(),
                                               err.read_text())

    def returncode(self, pid: int) -> int | None:
        with self._lock:
            return self._ended.get(pid)

    def wait(self, pid: int, timeout: float | None) -> int | None:
        with self._lock:
            self._lock.wait_for(lambda: pid in self._ended or bool(self._broken), timeout)
            return self._ended.get(pid)

    def close(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            assert self._proc.stdin is not None
            self._proc.stdin.close()  # end of input: the helper exits
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        if self._reader is not None:
            self._reader.join(10)
        if self._proc is not None and self._proc.stdout is not None:
            self._proc.stdout.close()


_starter: ForkServer | None = None


def starter() -> ForkServer:
    """This test worker's fork server (made on first use, ended at exit)."""
    global _starter
    if _starter is None:
        import atexit

        _starter = ForkServer()
        atexit.register(_starter.close)
    return _starter


# -- the helper process ---------------------------------------------------------------------


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become ``dikte <argv>``; never returns."""
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(request["cwd"])
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        for fd, path, mode in ((0, request["stdin"], os.O_RDONLY), (1, request["log"], flags),
                               (2, request["stderr"], flags)):
            opened = os.open(path, mode, 0o644)
            os.dup2(opened, fd)
            os.close(opened)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [sys.executable, *request["argv"]]
        from dikte.cli.main import main

        code = main(request["argv"])
    except SystemExit as e:  # as the interpreter ends on one
        if e.code is None or isinstance(e.code, int):
            code = e.code or 0
        else:
            print(e.code, file=sys.stderr)
    except KeyboardInterrupt:
        import traceback

        traceback.print_exc()
        sys.stderr.flush()
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # ended by SIGINT, as python is
        os.kill(os.getpid(), signal.SIGINT)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        try:
            import atexit

            atexit._run_exitfuncs()
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


def _helper_main() -> None:
    # what a server's start imports, once
    import selectors

    import uvicorn  # noqa: F401

    import dikte.app
    import dikte.cli.main
    import dikte.cli.serve  # noqa: F401

    out = sys.stdout.buffer
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)  # a child's end wakes the loop below
    signal.signal(signal.SIGCHLD, lambda *_: None)
    sel = selectors.DefaultSelector()
    sel.register(0, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)

    def say(msg: dict[str, int]) -> None:
        out.write(json.dumps(msg).encode() + b"\n")
        out.flush()

    pending = b""
    while True:
        for key, _ in sel.select():
            if key.fd == wake_r:
                os.read(wake_r, 4096)
                continue
            data = os.read(0, 65536)
            if not data:  # the worker is done; servers still running are its tests' to stop
                return
            pending += data
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            if threading.active_count() != 1:
                raise SystemExit("the fork server holds threads: it cannot fork safely")
            pid = os.fork()
            if pid == 0:
                signal.set_wakeup_fd(-1)
                for fd in (wake_r, wake_w):
                    os.close(fd)
                sel.close()
                _child(json.loads(line))
            say({"pid": pid})
        while True:  # reap every child that ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            say({"ended": pid, "code": os.waitstatus_to_exitcode(status)})


if __name__ == "__main__":
    _helper_main()

"""Places a notebook is opened from, all on this machine: an HTTP server answering from a table,
a git repository made by the test, and ``git daemon`` serving it over git://."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import nbformat


def notebook_bytes(*sources: str, markdown: str | None = None) -> bytes:
    """A small valid notebook whose code cells hold ``sources``."""
    nb = nbformat.v4.new_notebook()
    cells = [nbformat.v4.new_markdown_cell(markdown)] if markdown else []
    nb.cells = cells + [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nb).encode()


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False  # never answer (until the server stops)


class LocalWeb:
    """``ThreadingHTTPServer`` on ``host`` and a free port; ``routes`` maps a path to a Reply.
    A Reply whose body is an iterable of chunks is sent chunked, without Content-Length."""

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.routes: dict[str, Reply] = {}
        self.requests: list[str] = []
        self._stop = threading.Event()
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                web.requests.append(self.path)
                reply = web.routes.get(self.path, Reply(404, b"not here"))
                if reply.hang:
                    web._stop.wait(60)
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if isinstance(reply.body, bytes):
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                try:
                    for chunk in reply.body:
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(10)


def git(*args: str, cwd: Path) -> str:
    env = {"GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "t@example.org",
           "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": str(cwd),
           "PATH": "/usr/bin:/bin:/usr/local/bin"}
    done = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True)
    return done.stdout


def make_repo(where: Path, files: dict[str, bytes], branches: dict[str, dict[str, bytes]]
              ) -> Path:
    """A git repository at ``where`` with ``files`` committed on main, and one more commit per
    branch in ``branches`` (made from main)."""
    where.mkdir(parents=True)
    git("init", "--quiet", "--initial-branch=main", cwd=where)

    def commit(content: dict[str, bytes], message: str) -> None:
        for name, data in content.items():
            path = where / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        git("add", "-A", cwd=where)
        git("commit", "--quiet", "-m", message, cwd=where)

    commit(files, "notebooks")
    for branch, content in branches.items():
        git("checkout", "--quiet", "-b", branch, "main", cwd=where)
        commit(content, f"on {branch}")
    git("checkout", "--quiet", "main", cwd=where)
    return where


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class GitDaemon:
    """``git daemon`` serving every repository under ``base`` at git://127.0.0.1:<port>/<name>."""

    def __init__(self, base: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"git://127.0.0.1:{self.port}"
        git_bin = shutil.which("git") or "git"
        self._log = log.open("wb")
        self.proc = subprocess.Popen(
            [git_bin, "daemon", "--export-all", "--reuseaddr", "--informative-errors",
             f"--base-path={base}", "--listen=127.0.0.1", f"--port={self.port}", str(base)],
            stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"git daemon exited: {log.read_text()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        self.close()
        raise RuntimeError("git daemon did not start")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()

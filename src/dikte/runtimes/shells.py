"""How a local runtime's terminal shell is started (``open_terminal`` of the local and unsandboxed
backends; see :mod:`dikte.runtimes.terminal`).

In a sandboxed runtime (the local backend, Dikte running as root) the shell is started by
:mod:`dikte.runtimes.enter`, a small program run as root from the host: it joins the runtime's
cgroup, then the namespaces of the sandbox's pid 1 that Dikte recorded when it started the
sandbox (checked by start time and mount namespace; never found by scanning), its user namespace
last, and forks into the sandbox's pid namespace, where the child becomes the runtime's root (no
power outside its namespace), with no new privileges and the runtime's seccomp filter, before it
executes ``/bin/bash -l`` with the kernel's environment, in /content. It therefore sees exactly
what a cell sees, and it ends with the runtime: stopping the runtime (or restarting its kernel)
ends every process in its cgroup, and the end of the pid namespace takes the rest. Without a
sandbox (``--unsafe-no-sandbox``) the shell is a plain bash in the instance space's content
folder.

No program is executed as root inside the sandbox's file system view.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from pathlib import Path

from dikte.errors import RuntimeUnavailable
from dikte.runtimes import procs, seccomp
from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.cgroups import Cgroup
from dikte.runtimes.persist import instance_dir_of, python_of, spec_from_handle
from dikte.runtimes.sandbox import PythonLayout, kernel_env
from dikte.runtimes.terminal import Terminal, set_size

ENTER = Path(__file__).with_name("enter.py")
"""The program that enters a sandbox as its user (see :mod:`dikte.runtimes.enter`)."""

_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BASH_PROFILE = """\
# Written by Dikte for the runtime's terminal. A login shell reads /etc/profile, which resets
# PATH; this puts the runtime's PATH (the image's Python first) back, then reads your files.
export PATH="{path}"
if [ -f ~/.profile ]; then . ~/.profile; elif [ -f ~/.bashrc ]; then . ~/.bashrc; fi
"""


def _tool(name: str) -> str:
    return shutil.which(name, path=_SYSTEM_PATH) or f"/usr/bin/{name}"


def write_bash_profile(home: Path, path: str, uid: int | None) -> None:
    """``~/.bash_profile`` restoring the runtime's PATH, unless the runtime has one. Written
    without following links: the runtime's user owns ``home``."""
    dir_fd = os.open(home, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(".bash_profile", flags, 0o644, dir_fd=dir_fd)
        except FileExistsError:
            return
        with os.fdopen(fd, "w") as f:
            f.write(BASH_PROFILE.format(path=path.replace('"', "")))
            if uid is not None:
                os.fchown(f.fileno(), uid, uid)
    finally:
        os.close(dir_fd)


def _sandboxed(handle: RuntimeHandle) -> tuple[list[str], dict[str, str], str, bool, bytes]:
    uid = handle.private.get("uid")
    if uid is None:
        raise RuntimeUnavailable("Terminals into sandboxed runtimes need Dikte to run as root.",
                                 code="no_terminal")
    init = handle.private.get("init")
    if init is None or not procs.is_running(int(init["pid"]), init.get("start")):
        raise RuntimeUnavailable("The runtime is not running; reconnect it.", code="not_running")
    cgroup = Cgroup.from_state(handle.private["cgroup"])
    spec = spec_from_handle(handle)
    python = os.path.abspath(python_of(handle))
    site = tuple(handle.private.get("site", ()))
    env = kernel_env(PythonLayout(python, os.path.dirname(python), (), site), spec.env,
                     root=handle.private.get("rootfs") is not None,
                     pip_prefix=handle.private.get("pip_prefix", True))
    write_bash_profile(instance_dir_of(handle) / "home", env["PATH"], int(uid))
    userns = handle.private.get("rootfs") is not None
    settings = {"pid": init["pid"], "start": init["start"], "mnt_ns": init["mnt_ns"],
                "uid": 0 if userns else int(uid), "userns": userns,
                "cgroup_procs": [str(p) for p in cgroup.procs_files()],
                "env": env, "seccomp": seccomp.program().hex()}
    argv = [sys.executable, "-I", "-S", "-B", str(ENTER), "{fd}"]
    return argv, {"PATH": _SYSTEM_PATH, "LANG": "C.UTF-8"}, "/", True, json.dumps(settings).encode()


def _unsandboxed(handle: RuntimeHandle) -> tuple[list[str], dict[str, str], str, bool, bytes]:
    spec = spec_from_handle(handle)
    space = instance_dir_of(handle)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIKTE_")}
    path = f"{os.path.dirname(os.path.abspath(python_of(handle)))}:{env.get('PATH', _SYSTEM_PATH)}"
    site = [str(space / "site" / d) for d in handle.private.get("site", ())]
    env.update(HOME=str(space / "home"), PYTHONPATH=":".join(site or [str(space / "site")]),
               PIP_PREFIX=str(space / "site"), TMPDIR=str(space / "tmp"),
               TERM="xterm-256color", PATH=path)
    env.update(spec.env)
    write_bash_profile(space / "home", path, None)
    # not a new session of its own: setsid must not fork, so that our child is the shell
    return [_tool("setsid"), "--ctty", "/bin/bash", "-l"], env, str(space / "content"), False, b""


async def sandboxed_terminal(handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
    """A login shell entered into a sandboxed runtime (see the module docstring), on a new pty
    of ``cols`` x ``rows``: what :meth:`LocalBackend.open_terminal` gives."""
    return await _start(*_sandboxed(handle), cols, rows)


async def plain_terminal(handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
    """A plain bash in an unsandboxed runtime's instance space (``--unsafe-no-sandbox``)."""
    return await _start(*_unsandboxed(handle), cols, rows)


async def _start(argv: list[str], env: dict[str, str], cwd: str, new_session: bool,
                 settings: bytes, cols: int, rows: int) -> Terminal:
    master, slave = os.openpty()
    settings_fd = -1
    try:
        set_size(slave, cols, rows)
        pass_fds: tuple[int, ...] = ()
        if settings:
            settings_fd = procs.pipe_with(settings)
            argv = [a.replace("{fd}", str(settings_fd)) for a in argv]
            pass_fds = (settings_fd,)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
            start_new_session=new_session, pass_fds=pass_fds,
            preexec_fn=procs.default_signals)  # Ctrl-C reaches the shell's job
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
        if settings_fd >= 0:
            os.close(settings_fd)
    return Terminal(proc, master)

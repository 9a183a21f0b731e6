"""How a runtime's terminal shell is started, per backend (see :mod:`dikte.runtimes.terminal`).

In a sandboxed runtime (the local backend, Dikte running as root) the shell joins the runtime's
cgroup first, then its mount, uts, ipc, pid and cgroup namespaces (``nsenter`` with the sandbox's
pid 1 as the target), and drops to the runtime's user with no capabilities and no new privileges
(``setpriv``), with the kernel's environment, in /content. It therefore sees exactly what a cell
sees, and it ends with the runtime: stopping the runtime (or restarting its kernel) ends every
process in its cgroup, and the end of the pid namespace takes the rest. Without a sandbox
(``--unsafe-no-sandbox``) the shell is a plain bash in the instance space's content folder.

Every program started as root inside the sandbox (``setpriv``) comes from the host's read-only
/usr, with an environment of PATH and LANG only.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
from pathlib import Path

from dikte.errors import RuntimeUnavailable
from dikte.runtimes.base import RuntimeHandle
from dikte.runtimes.cgroups import Cgroup
from dikte.runtimes.persist import spec_from_handle
from dikte.runtimes.sandbox import PythonLayout, kernel_env
from dikte.runtimes.terminal import Terminal, set_size

_SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
BASH_PROFILE = """\
# Written by Dikte for the runtime's terminal. A login shell reads /etc/profile, which resets
# PATH; this puts the runtime's PATH (the image's Python first) back, then reads your files.
export PATH="{path}"
if [ -f ~/.profile ]; then . ~/.profile; elif [ -f ~/.bashrc ]; then . ~/.bashrc; fi
"""


def _tool(name: str) -> str:
    return shutil.which(name, path=_SYSTEM_PATH) or f"/usr/bin/{name}"


def sandbox_init(cgroup: Cgroup) -> int | None:
    """Host pid of the sandbox's pid 1 (bubblewrap's init), whose namespaces a shell joins."""
    for pid in sorted(cgroup.pids()):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                if len(ids) >= 2 and ids[-1] == "1":
                    return pid
    return None


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


def _sandboxed(handle: RuntimeHandle) -> tuple[list[str], dict[str, str], str, bool]:
    uid = handle.private.get("uid")
    if uid is None:
        raise RuntimeUnavailable("Terminals into sandboxed runtimes need Dikte to run as root.",
                                 code="no_terminal")
    cgroup = Cgroup.from_state(handle.private["cgroup"])
    target = sandbox_init(cgroup)
    if target is None:
        raise RuntimeUnavailable("The runtime is not running; reconnect it.", code="not_running")
    spec = spec_from_handle(handle)
    python = os.path.abspath(spec.python)
    env = kernel_env(PythonLayout(python, os.path.dirname(python), ()), spec.env)
    write_bash_profile(handle.instance_dir / "home", env["PATH"], int(uid))
    joins = " && ".join(f"echo $$ > {shlex.quote(str(p))}" for p in cgroup.procs_files())
    shell = [_tool("setpriv"), "--reuid", str(uid), "--regid", str(uid), "--clear-groups",
             "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
             "/usr/bin/env", "-i", "--chdir=/content", *(f"{k}={v}" for k, v in env.items()),
             _tool("setsid"), "--ctty", "/bin/bash", "-l"]
    argv = ["/bin/sh", "-c", f'{joins} && exec "$@"', "dikte-terminal",
            _tool("nsenter"), f"--target={target}", "--mount", "--uts", "--ipc", "--pid",
            "--cgroup", "--", *shell]
    return argv, {"PATH": _SYSTEM_PATH, "LANG": "C.UTF-8"}, "/", True


def _unsandboxed(handle: RuntimeHandle) -> tuple[list[str], dict[str, str], str, bool]:
    spec = spec_from_handle(handle)
    space = handle.instance_dir
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIKTE_")}
    path = f"{os.path.dirname(os.path.abspath(spec.python))}:{env.get('PATH', _SYSTEM_PATH)}"
    env.update(HOME=str(space / "home"), PYTHONPATH=str(space / "site"),
               PIP_TARGET=str(space / "site"), TMPDIR=str(space / "tmp"),
               TERM="xterm-256color", PATH=path)
    env.update(spec.env)
    write_bash_profile(space / "home", path, None)
    # not a new session of its own: setsid must not fork, so that our child is the shell
    return [_tool("setsid"), "--ctty", "/bin/bash", "-l"], env, str(space / "content"), False


async def start_terminal(backend: str, handle: RuntimeHandle, cols: int, rows: int) -> Terminal:
    """A login shell in the runtime (see the module docstring) on a new pty of ``cols`` x
    ``rows``. ``backend`` is the backend's name: ``local`` or ``unsandboxed``."""
    if backend == "local":
        argv, env, cwd, new_session = _sandboxed(handle)
    elif backend == "unsandboxed":
        argv, env, cwd, new_session = _unsandboxed(handle)
    else:
        raise RuntimeUnavailable("This kind of runtime offers no terminal.", code="no_terminal")
    master, slave = os.openpty()
    try:
        set_size(slave, cols, rows)
        proc = await asyncio.create_subprocess_exec(
            *argv, stdin=slave, stdout=slave, stderr=slave, cwd=cwd, env=env,
            start_new_session=new_session)
    except BaseException:
        os.close(master)
        raise
    finally:
        os.close(slave)
    return Terminal(proc, master)

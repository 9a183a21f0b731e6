"""What this host offers the local backend, for ``dikte doctor``.

Each check really tries what it reports on (runs bwrap with namespaces, creates and removes a
cgroup) rather than guessing from versions, and failed checks carry the command that fixes them.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dikte.errors import DikteError, SandboxUnavailable
from dikte.runtimes import disk, netns, procs, rootfs, seccomp
from dikte.runtimes.cgroups import CgroupDriver
from dikte.runtimes.instance import InstanceSpace, short_socket_base


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    """False for checks that only inform (a failed one does not stop sandboxes)."""


@dataclass
class HostReport:
    checks: list[Check] = field(default_factory=list)

    @property
    def sandbox_ok(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def render(self) -> str:
        width = max((len(c.name) for c in self.checks), default=0)
        lines = ["Dikte host report", ""]
        for c in self.checks:
            mark = "ok" if c.ok else ("FAIL" if c.required else "warn")
            lines.append(f"  [{mark:>4}]  {c.name:<{width}}  {c.detail}")
            if not c.ok and c.fix:
                lines.append(f"          {'':<{width}}  fix: {c.fix}")
        lines += ["", "Sandboxed runtimes: " + (
            "ready." if self.sandbox_ok
            else "NOT available. Fix the failed checks, or run with --unsafe-no-sandbox on a "
            "machine only you use.")]
        return "\n".join(lines)


def _run(argv: list[str]) -> tuple[int, str]:
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 1, str(exc)
    return p.returncode, (p.stdout + p.stderr).strip()


def _version(text: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    return tuple(int(g or 0) for g in m.groups()) if m else (0,)


def host_report(*, sandbox_uid_base: int = 600000, data_dir: Path | None = None,
                network: str = "isolated", pool: int = 0,
                drives: Path | None = None) -> HostReport:
    """With ``pool`` (runtime_pool) and ``drives`` (the drives volume), also whether runtimes
    started ahead can be given a drive there."""
    checks: list[Check] = []
    root = os.geteuid() == 0
    bwrap = shutil.which("bwrap")
    version: tuple[int, ...] = (0,)
    if bwrap is None:
        checks.append(Check("bubblewrap", False, "bwrap is not installed",
                            "apt-get install bubblewrap"))
    else:
        _, out = _run([bwrap, "--version"])
        version = _version(out)
        checks.append(Check("bubblewrap", True, f"{out} at {bwrap}"))
        ns = ["--unshare-pid", "--unshare-ipc", "--unshare-uts"]
        if not root:
            ns.insert(0, "--unshare-user")
        code, out = _run([bwrap, *_system_binds(), "--proc", "/proc", "--dev", "/dev",
                          *ns, "--", "true"])
        fix = ("allow CLONE_NEWPID/CLONE_NEWNS for Dikte (e.g. a container's seccomp and "
               "AppArmor profile)" if root else
               "sysctl -w kernel.unprivileged_userns_clone=1 (and, on Ubuntu 24.04+, "
               "kernel.apparmor_restrict_unprivileged_userns=0), or run Dikte as root")
        checks.append(Check("namespaces", code == 0,
                            "pid, ipc, uts and mount namespaces work" + ("" if root else
                            " in a user namespace") if code == 0 else f"bwrap failed: {out}",
                            fix))
        checks.append(_seccomp_check(bwrap, ns))
        overlay = version >= (0, 9)
        checks.append(Check(
            "overlay", True,
            ("bwrap --tmp-overlay is available; " if overlay else
             f"bwrap {'.'.join(map(str, version))} has no --tmp-overlay; ")
            + "Dikte mounts runtimes' writable layers itself (see system layer)",
            required=False))
    if root:
        checks.append(Check("user", True, "running as root: each runtime is root of its own "
                            f"user namespace, which is host uid {sandbox_uid_base} + person id"))
        checks.append(_rootfs_check(sandbox_uid_base))
        checks.append(_disk_check())
        if pool and drives is not None:
            checks.append(_pool_check(pool, drives, sandbox_uid_base))
        setpriv = shutil.which("setpriv")
        checks.append(Check("setpriv", setpriv is not None,
                            f"found at {setpriv}" if setpriv else "setpriv is not installed",
                            "apt-get install util-linux"))
    else:
        checks.append(Check("user", True, f"running as uid {os.geteuid()}: runtimes run as "
                            "this uid inside a user namespace, without capabilities"))
    checks.append(_cgroup_check(root))
    checks.append(_ipc_check(data_dir))
    checks.append(_network_check(network))
    return HostReport(checks)


def _network_check(setting: str) -> Check:
    if setting == "host":
        return Check("network", True, "shared with the host (runtime_network = \"host\"): "
                     "runtimes reach the host's loopback services and each other's servers",
                     required=False)
    if not netns.isolated(setting):
        return Check("network", False, "shared with the host: networks of their own need "
                     "Dikte to run as root", "run dikte serve as root", required=False)
    try:
        return Check("network", True, netns.check())
    except SandboxUnavailable as exc:
        return Check("network", False, f"{exc.message}: {exc.log_message}",
                     "apt-get install slirp4netns iproute2 (and a kernel with /dev/net/tun), "
                     "or set runtime_network = \"host\" for a single-person install")


def _system_binds() -> list[str]:
    """bwrap options for the host's programs and libraries, read-only: /usr and its companions
    (links on merged-/usr systems), never the whole of /, whose recursive bind fails when a
    mount under it goes meanwhile (another runtime of this machine stopping)."""
    opts = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc"):
        if os.path.islink(top):
            opts += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            opts += ["--ro-bind", top, top]
    return opts


def _seccomp_check(bwrap: str, ns: list[str]) -> Check:
    """Run a sandbox under the runtime's seccomp filter: ordinary programs must run, and making
    a user namespace (the first step of most escapes) must be refused."""
    fix = "a kernel with seccomp filters (CONFIG_SECCOMP_FILTER), as every distribution ships"
    try:
        program = seccomp.program()
    except SandboxUnavailable as exc:
        return Check("seccomp", False, exc.log_message, fix)
    base = [bwrap, *_system_binds(), "--proc", "/proc", "--dev", "/dev", *ns]
    results = []
    for command in (["true"], ["unshare", "--user", "true"]):
        fd = procs.pipe_with(program)
        try:
            p = subprocess.run([*base, "--seccomp", str(fd), "--", *command], pass_fds=(fd,),
                               capture_output=True, text=True, timeout=20, check=False)
            results.append((p.returncode, (p.stdout + p.stderr).strip()))
        except (OSError, subprocess.TimeoutExpired) as exc:
            results.append((1, str(exc)))
        finally:
            os.close(fd)
    (ran, out), (made_userns, _) = results
    if ran != 0:
        return Check("seccomp", False, f"bwrap could not load the filter: {out}", fix)
    if made_userns == 0:
        return Check("seccomp", False, "the filter did not refuse a user namespace", fix)
    return Check("seccomp", True, f"{len(seccomp.REFUSED)} kinds of system call refused in "
                 "runtimes (mount, namespaces incl. user namespaces, bpf, keyctl, ...)")


def _rootfs_check(uid: int) -> Check:
    """Make one id-mapped overlay, as each runtime's system layer is made, and remove it."""
    fix = "Linux 5.19 or newer (id-mapped mounts under overlayfs)"
    with tempfile.TemporaryDirectory(prefix="dikte-doctor-") as tmp:
        source = Path(tmp) / "source"
        source.mkdir()
        maps = rootfs.IdMaps()
        try:
            layers = rootfs.build(Path(tmp) / "view", Path(tmp) / "storage", uid, maps, source)
            owner = layers.merged("etc").stat().st_uid
            rootfs.remove(layers)
        except SandboxUnavailable as exc:
            return Check("system layer", False, exc.log_message, fix)
        finally:
            maps.close()
    if owner != uid:
        return Check("system layer", False, f"the id-mapped layer shows owner {owner}", fix)
    return Check("system layer", True, "id-mapped overlays work: runtimes get a writable, "
                 "ephemeral /usr, /etc and apt state of their own (apt-get install works)")


def _pool_check(pool: int, drives: Path, uid: int) -> Check:
    """Make the id-mapped copy of the drives volume a runtime started ahead is given."""
    fix = "keep the drives volume (drives_dir) on a local file system: ext4, xfs, btrfs, tmpfs"
    try:
        mapping = rootfs.id_mapping(uid, uid + 1)
        try:
            os.close(rootfs.mapped_tree(drives, mapping))
        finally:
            os.close(mapping)
    except (SandboxUnavailable, OSError) as exc:
        detail = exc.log_message if isinstance(exc, SandboxUnavailable) else str(exc)
        return Check("warm runtimes", False, f"runtime_pool = {pool}, but {drives} cannot be "
                     f"id-mapped ({detail}): every connect starts a runtime", fix,
                     required=False)
    return Check("warm runtimes", True, f"runtime_pool = {pool}: runtimes started ahead per "
                 "image get a person's drive at connect (id-mapped)", required=False)


def _disk_check() -> Check:
    """Make, mount, measure and remove one small disk, as for each runtime."""
    fix = "apt-get install e2fsprogs mount, and a kernel with loop devices (modprobe loop)"
    with tempfile.TemporaryDirectory(prefix="dikte-doctor-disk-") as tmp:
        image, mount = Path(tmp) / "disk.img", Path(tmp) / "disk"
        mount.mkdir()
        try:
            disk.make(image, mount, 16 << 20)
            try:
                used = disk.used_bytes(image, mount)
            finally:
                disk.remove(image, mount)
        except (OSError, DikteError) as exc:
            detail = exc.log_message if isinstance(exc, DikteError) else str(exc)
            return Check("disk", False, f"cannot make a runtime's disk: {detail}", fix)
    return Check("disk", True, "each runtime's files live on an ext4 file system of its disk "
                 f"limit (a loop-mounted sparse image; measured in O(1): {used >> 10} KiB used "
                 "of an empty 16 MiB one)")


def _cgroup_check(root: bool) -> Check:
    fix = ("mount the cgroup filesystem read-write (a container needs --cgroupns=host or a "
           "writable /sys/fs/cgroup)" if root else
           "run Dikte as root, or give it a delegated cgroup v2 subtree (systemd: Delegate=yes)")
    try:
        driver = CgroupDriver.detect()
    except SandboxUnavailable as exc:
        return Check("cgroups", False, exc.log_message, fix)
    try:
        # a name of its own: servers starting together each probe (and remove) their own; the
        # dashes keep it out of the runtimes' sweep
        probe = driver.create(f"doctor-probe-{os.getpid()}-{secrets.token_hex(4)}", 64 << 20, 100)
        probe.remove()
    except SandboxUnavailable as exc:
        return Check("cgroups", False, exc.log_message, fix)
    writable = ", ".join(sorted(driver.bases)) if driver.version == 1 else "memory, cpu"
    where = ", ".join(str(b) for b in dict.fromkeys(driver.bases.values()))
    return Check("cgroups", True, f"cgroup v{driver.version}; writable: {writable} ({where})",
                 fix)


def _ipc_check(data_dir: Path | None) -> Check:
    space = InstanceSpace.plan(data_dir or Path("/var/lib/dikte"), "x" * 12)
    base = space.sock.parent
    if base == space.root:
        return Check("ipc sockets", True, f"kernel sockets live in each instance space "
                     f"({space.sock}/kernel-N)")
    usable = os.access("/tmp", os.W_OK) and (not base.exists() or (
        base.is_dir() and not base.is_symlink() and base.stat().st_uid == os.geteuid()))
    return Check("ipc sockets", usable,
                 f"the data dir is too deep for unix socket paths; kernel sockets go to "
                 f"{short_socket_base()}/<runtime id>",
                 f"remove {base} (it is not a directory owned by uid {os.geteuid()}) or use "
                 "a shorter data_dir")

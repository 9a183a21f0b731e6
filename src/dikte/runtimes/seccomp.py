"""The seccomp filter every process of a sandboxed runtime runs under.

A notebook needs files, sockets, threads, processes and signals; it never needs to mount, make
namespaces, load kernel modules or BPF programs, read the kernel's keyrings, profile the kernel,
register userfaultfd handlers or drive io_uring. Those calls are where container escapes and
kernel exploits start, so the filter answers them with ``EPERM`` (``ENOSYS`` for ``clone3``, whose
flags live in memory a filter cannot read, so that glibc falls back to ``clone``). ``clone`` and
``unshare`` stay allowed without namespace flags (threads, ``fork``, ``unshare(CLONE_FILES)``).
The list starts from the container engines' default profile (Docker's and Podman's): the same
refusals, minus those the runtime's missing capabilities already stop and those it needs
(``ptrace`` of its own processes, for debuggers: the kernel refuses other users' processes and
the runtime's pid namespace hides everyone else's).

The filter is a classic BPF program (``struct sock_filter`` array) built here, without
libseccomp: bubblewrap loads it for the kernel (``--seccomp FD``), the terminal's entry helper
loads it for a shell (``prctl(PR_SET_SECCOMP)``). Machines of another architecture, or 32-bit
(x32) calls on x86-64, are refused outright, so a call cannot dodge the list by its number on
another ABI.
"""

from __future__ import annotations

import platform
import struct

from dikte.errors import SandboxUnavailable

# BPF instruction classes and fields (linux/filter.h, linux/bpf_common.h)
_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_JSET_K = 0x05 | 0x40 | 0x00  # BPF_JMP | BPF_JSET | BPF_K
_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K

_RET_ALLOW = 0x7FFF0000
_RET_KILL_PROCESS = 0x80000000
_RET_ERRNO = 0x00050000
EPERM = 1
ENOSYS = 38

# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_OFF_NR = 0
_OFF_ARCH = 4
_OFF_ARG0_LOW = 16  # little-endian: the low 32 bits of args[0] (clone/unshare flags)

_X32_BIT = 0x40000000

NAMESPACE_FLAGS = (
    0x00020000  # CLONE_NEWNS
    | 0x02000000  # CLONE_NEWCGROUP
    | 0x04000000  # CLONE_NEWUTS
    | 0x08000000  # CLONE_NEWIPC
    | 0x10000000  # CLONE_NEWUSER
    | 0x20000000  # CLONE_NEWPID
    | 0x40000000  # CLONE_NEWNET
    | 0x00000080  # CLONE_NEWTIME
)

REFUSED = (
    "keyctl", "add_key", "request_key",
    "mount", "umount2", "pivot_root", "open_tree", "move_mount", "fsopen", "fsconfig",
    "fsmount", "fspick", "mount_setattr",
    "setns", "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "settimeofday", "clock_settime", "clock_adjtime",
    "adjtimex", "iopl", "ioperm", "quotactl", "quotactl_fd", "lookup_dcookie",
    "open_by_handle_at", "name_to_handle_at", "syslog", "vhangup", "uselib",
    "io_uring_setup", "io_uring_enter", "io_uring_register", "nfsservctl", "fanotify_init",
)
"""Calls refused with EPERM whatever their arguments (names from the kernel's syscall tables)."""

# (audit arch, syscall numbers) per machine; numbers from asm/unistd_64.h and asm-generic/unistd.h
_ARCHES: dict[str, tuple[int, dict[str, int]]] = {
    "x86_64": (0xC000003E, {
        "keyctl": 250, "add_key": 248, "request_key": 249, "mount": 165, "umount2": 166,
        "pivot_root": 155, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "setns": 308, "bpf": 321,
        "perf_event_open": 298, "userfaultfd": 323, "kexec_load": 246, "kexec_file_load": 320,
        "init_module": 175, "finit_module": 313, "delete_module": 176, "reboot": 169,
        "swapon": 167, "swapoff": 168, "acct": 163, "settimeofday": 164, "clock_settime": 227,
        "clock_adjtime": 305, "adjtimex": 159, "iopl": 172, "ioperm": 173, "quotactl": 179,
        "quotactl_fd": 443, "lookup_dcookie": 212, "open_by_handle_at": 304,
        "name_to_handle_at": 303, "syslog": 103, "vhangup": 153, "uselib": 134,
        "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
        "nfsservctl": 180, "fanotify_init": 300,
        "clone": 56, "unshare": 272, "clone3": 435,
    }),
    "aarch64": (0xC00000B7, {
        "keyctl": 219, "add_key": 217, "request_key": 218, "mount": 40, "umount2": 39,
        "pivot_root": 41, "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431,
        "fsmount": 432, "fspick": 433, "mount_setattr": 442, "setns": 268, "bpf": 280,
        "perf_event_open": 241, "userfaultfd": 282, "kexec_load": 104, "kexec_file_load": 294,
        "init_module": 105, "finit_module": 273, "delete_module": 106, "reboot": 142,
        "swapon": 224, "swapoff": 225, "acct": 89, "settimeofday": 170, "clock_settime": 112,
        "clock_adjtime": 266, "adjtimex": 171, "quotactl": 60, "quotactl_fd": 443,
        "lookup_dcookie": 18, "open_by_handle_at": 265, "name_to_handle_at": 264,
        "syslog": 116, "vhangup": 58, "io_uring_setup": 425, "io_uring_enter": 426,
        "io_uring_register": 427, "nfsservctl": 42, "fanotify_init": 262,
        "clone": 220, "unshare": 97, "clone3": 435,
    }),
}


def supported(machine: str | None = None) -> bool:
    return (machine or platform.machine()) in _ARCHES


def _insn(code: int, k: int, jt: int = 0, jf: int = 0) -> bytes:
    return struct.pack("=HBBI", code, jt, jf, k)


def program(machine: str | None = None) -> bytes:
    """The filter for ``machine`` (default: this one) as raw ``struct sock_filter`` entries."""
    machine = machine or platform.machine()
    if machine not in _ARCHES:
        raise SandboxUnavailable(
            "This server cannot start sandboxed runtimes on this kind of processor.",
            log_message=f"no seccomp syscall table for {machine}; Dikte knows "
                        f"{', '.join(sorted(_ARCHES))}",
        )
    arch, numbers = _ARCHES[machine]
    refused = sorted({numbers[name] for name in REFUSED if name in numbers})
    flagged = [numbers["clone"], numbers["unshare"]]

    # Layout (every jump goes forward): arch check, load nr, x32 check, one jeq per refused
    # nr, clone/unshare to the flag check, clone3; then ALLOW, the flag check, the returns.
    body: list[tuple[int, int, str | None, str | None]] = []  # code, k, jt label, jf label
    body.append((_LD_W_ABS, _OFF_ARCH, None, None))
    body.append((_JEQ_K, arch, None, "kill"))
    body.append((_LD_W_ABS, _OFF_NR, None, None))
    if machine == "x86_64":
        body.append((_JGE_K, _X32_BIT, "eperm", None))
    for nr in refused:
        body.append((_JEQ_K, nr, "eperm", None))
    for nr in flagged:
        body.append((_JEQ_K, nr, "flags", None))
    body.append((_JEQ_K, numbers["clone3"], "enosys", None))
    labels: dict[str, int] = {}
    tail: list[tuple[str | None, int, int, str | None, str | None]] = [
        ("allow", _RET_K, _RET_ALLOW, None, None),
        ("flags", _LD_W_ABS, _OFF_ARG0_LOW, None, None),
        (None, _JSET_K, NAMESPACE_FLAGS, "eperm", "allow_flags"),
        ("allow_flags", _RET_K, _RET_ALLOW, None, None),
        ("eperm", _RET_K, _RET_ERRNO | EPERM, None, None),
        ("enosys", _RET_K, _RET_ERRNO | ENOSYS, None, None),
        ("kill", _RET_K, _RET_KILL_PROCESS, None, None),
    ]
    rows: list[tuple[int, int, str | None, str | None]] = list(body)
    for label, code, k, jt, jf in tail:
        if label is not None:
            labels[label] = len(rows)
        rows.append((code, k, jt, jf))
    out = bytearray()
    for i, (code, k, jt, jf) in enumerate(rows):
        out += _insn(code, k, _jump(labels, i, jt), _jump(labels, i, jf))
    return bytes(out)


def _jump(labels: dict[str, int], at: int, label: str | None) -> int:
    """The forward offset from instruction ``at`` to ``label`` (0: the next instruction)."""
    if label is None:
        return 0
    delta = labels[label] - at - 1
    if not 0 <= delta <= 255:
        raise AssertionError(f"seccomp jump to {label} out of range")
    return delta

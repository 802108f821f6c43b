"""The reader worker's seccomp filter: the system calls a file reader never needs, refused.

Built with libseccomp (through ``pyseccomp``, its ctypes binding), which writes the BPF program
for the running architecture and kills a process that makes a system call of another one (the
32-bit ``int 0x80`` door on x86-64). Everything else is allowed: the worker runs Python, numpy,
h5py and TensorFlow, and an allowlist of what they call would break with their next releases.
A refused call fails with EPERM (as a missing permission would), so a library that tries one
(``platform`` runs ``uname -p``) takes its usual error path instead of dying.
"""

from __future__ import annotations

import errno
import os
from typing import Any

CLONE_THREAD = 0x00010000
TIOCSTI, TIOCLINUX = 0x5412, 0x541C
"""Terminal ioctls that type into a terminal: a worker whose stderr is the user's terminal
(``KERASCOPE_VERBOSE``) could otherwise run commands in the user's shell."""

DENIED = (
    # other programs and processes (threads are made by clone with CLONE_THREAD, below)
    *("execve", "execveat", "fork", "vfork"),
    # other processes' memory, files and signals
    *("ptrace", "process_vm_readv", "process_vm_writev", "kcmp"),
    *("pidfd_open", "pidfd_getfd", "pidfd_send_signal", "tkill"),
    # what the sandbox sees: namespaces and mounts
    *("unshare", "setns", "mount", "umount2", "pivot_root", "chroot", "mount_setattr"),
    *("open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick"),
    # the network: no new socket of any kind (the one to the caller is already open)
    "socket",
    # kernel interfaces no reader needs, where kernel exploits usually start; io_uring would
    # also open files and sockets past this filter
    *("io_uring_setup", "io_uring_enter", "io_uring_register", "bpf", "perf_event_open"),
    *("userfaultfd", "keyctl", "add_key", "request_key", "name_to_handle_at"),
    *("open_by_handle_at", "init_module", "finit_module", "delete_module", "kexec_load"),
    *("kexec_file_load", "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog"),
)
SIGNALS = ("kill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")
"""Refused unless aimed at the worker itself (its first argument is its own process id): a
reader may raise a signal in its own process, never in the server or the user's others."""


def install() -> None:
    """Load the filter into this process (all its threads); it lasts until the process ends.

    Raises:
        ImportError, RuntimeError: ``pyseccomp`` or libseccomp is not installed.
        OSError: the kernel refused the filter.
    """
    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(seccomp.ALLOW)
    rules.set_attr(seccomp.Attr.CTL_TSYNC, 1)
    deny = seccomp.ERRNO(errno.EPERM)
    for name in DENIED:
        _add(rules, deny, name)
    # A new process is a clone without CLONE_THREAD; clone3 passes its flags in memory, which a
    # filter cannot read, so it is "not implemented" and glibc makes its threads with clone.
    _add(rules, deny, "clone", seccomp.Arg(0, seccomp.MASKED_EQ, CLONE_THREAD, 0))
    _add(rules, seccomp.ERRNO(errno.ENOSYS), "clone3")
    me = os.getpid()
    for name in SIGNALS:
        _add(rules, deny, name, seccomp.Arg(0, seccomp.NE, me))
    for request in (TIOCSTI, TIOCLINUX):
        _add(rules, deny, "ioctl", seccomp.Arg(1, seccomp.MASKED_EQ, 0xFFFFFFFF, request))
    rules.load()


def _add(rules: Any, action: int, name: str, *args: Any) -> None:
    try:
        rules.add_rule(action, name, *args)
    except (ValueError, OSError):
        if name in ("fork", "vfork"):  # absent on newer architectures (aarch64): clone covers it
            return
        raise

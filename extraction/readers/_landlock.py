"""Landlock, the kernel's unprivileged file-system sandbox, called through ctypes.

Three system calls: create a ruleset naming the accesses it handles, add one rule per path
(what may be done beneath it), then restrict the calling thread (and the threads it starts
later) to it, for good. Every access the ruleset handles and no rule grants is refused with
EACCES. Which accesses exist grows with the kernel's Landlock ABI: 1 (5.13: files and
folders), 2 (refer: moving files between folders), 3 (truncate), 4 (TCP bind and connect),
5 (device ioctls), 6 (scoping: abstract unix sockets and signals outside the sandbox).

Not the ``landlock`` package on PyPI: its ruleset knows only file-system accesses (no TCP rules,
no scoping, so a confined reader could still signal the server or reach it over TCP), and it
takes a stale ``errno`` for a failure, so a call that succeeded can raise.
"""

from __future__ import annotations

import ctypes
import os
import stat
from pathlib import Path

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1

EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR = 1 << 4, 1 << 5, 1 << 6, 1 << 7
MAKE_REG, MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
FILE_ACCESS = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
"""The only accesses a rule on a file (not a folder) may grant."""
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

READ = READ_FILE | READ_DIR
WRITE = (
    READ | WRITE_FILE | TRUNCATE | MAKE_REG | MAKE_DIR | REMOVE_FILE | REMOVE_DIR | REFER
)  # fmt: skip
"""Everything needed to create, fill, rename and remove files and folders beneath a folder."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    ]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # the kernel's struct is packed: 12 bytes
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _call(number: int, *args: object) -> int:
    ctypes.set_errno(0)
    result = int(_libc.syscall(ctypes.c_long(number), *args))
    if result < 0:  # the return value says whether it failed; errno only says why
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def abi() -> int:
    """The kernel's Landlock ABI version; 0 when it has none or it is disabled at boot."""
    try:
        return _call(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    except OSError:
        return 0  # ENOSYS: not built in; EOPNOTSUPP: not enabled (lsm= on the command line)


def fs_access(version: int) -> int:
    """Every file-system access an ABI ``version`` kernel knows."""
    access = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
    if version >= 2:
        access |= REFER
    if version >= 3:
        access |= TRUNCATE
    if version >= 5:
        access |= IOCTL_DEV
    return access


class Ruleset:
    """A ruleset handling every access the running kernel knows (file system; TCP from ABI 4;
    abstract unix sockets and signals from ABI 6), to which paths are then added."""

    def __init__(self, version: int) -> None:
        self.version = version
        self.handled = fs_access(version)
        attr = _RulesetAttr(
            handled_access_fs=self.handled,
            handled_access_net=NET_BIND_TCP | NET_CONNECT_TCP if version >= 4 else 0,
            scoped=SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if version >= 6 else 0,
        )
        size = 8 if version < 4 else 16 if version < 6 else 24
        self.fd = _call(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), 0)

    def allow(self, path: Path | str, access: int) -> bool:
        """Allow ``access`` beneath ``path`` (only file accesses when it is a file); False when
        nothing is there."""
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            return False
        try:
            if not stat.S_ISDIR(os.fstat(fd).st_mode):
                access &= FILE_ACCESS
            rule = _PathBeneathAttr(allowed_access=access & self.handled, parent_fd=fd)
            if rule.allowed_access:
                _call(_ADD_RULE, self.fd, _RULE_PATH_BENEATH, ctypes.byref(rule), 0)
        finally:
            os.close(fd)
        return True

    def restrict_self(self) -> None:
        """Confine the calling thread, and every thread it starts from now on, for good (the
        caller has set no_new_privs)."""
        try:
            _call(_RESTRICT_SELF, self.fd, 0)
        finally:
            os.close(self.fd)

"""Dropping from root to the vault's account while keeping the one or two capabilities the
work needs, as the systemd units give them (AmbientCapabilities=): CAP_LINUX_IMMUTABLE for
chattr +i on sealed files, and for the dock CAP_SYS_ADMIN for mount(2) and BLKROSET.

Linux only (prctl, capset through ctypes); where any step fails the child simply runs
without them, as the service account would outside systemd.
"""

from __future__ import annotations

import ctypes
import os

CAP_SYS_ADMIN = 21
CAP_LINUX_IMMUTABLE = 9
_PR_SET_KEEPCAPS = 8
_PR_CAP_AMBIENT = 47
_PR_CAP_AMBIENT_RAISE = 2
_VERSION_3 = 0x20080522


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def drop_to(uid: int, gid: int, keep: tuple[int, ...]) -> bool:
    """Become UID:GID with no supplementary groups, keeping the capabilities KEEP
    (effective, permitted, inheritable and ambient, so programs it runs keep them too).
    Returns whether they were kept; the identity change itself always happens or raises."""
    libc = ctypes.CDLL(None, use_errno=True)
    kept = libc.prctl(_PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    if not kept or not keep:
        return False
    bits = 0
    for cap in keep:
        bits |= 1 << cap
    header = _Header(_VERSION_3, 0)
    data = (_Data * 2)(_Data(bits, bits, bits), _Data(0, 0, 0))
    if libc.capset(ctypes.byref(header), data) != 0:
        return False
    return all(libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_RAISE, cap, 0, 0) == 0 for cap in keep)

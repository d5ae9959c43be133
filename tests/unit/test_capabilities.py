"""Root dropping to the vault's account keeps only what the units give it (issue 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vault.service.capabilities import CAP_LINUX_IMMUTABLE, CAP_SYS_ADMIN, drop_to


def _in_child(keep: tuple[int, ...]) -> tuple[int, int, int]:
    """(uid, effective caps, ambient caps) of a forked child after drop_to(nobody)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            drop_to(65534, 65534, keep)
            status = dict(
                line.split(":\t", 1) for line in Path("/proc/self/status").read_text().splitlines()
            )
            text = f"{os.getuid()} {int(status['CapEff'], 16)} {int(status['CapAmb'], 16)}"
            os.write(write, text.encode())
        finally:
            os._exit(0)
    os.close(write)
    data = os.read(read, 200).decode().split()
    os.waitpid(pid, 0)
    uid, effective, ambient = (int(x) for x in data)
    return uid, effective, ambient


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")
def test_root_drops_to_the_account_with_only_the_kept_capabilities() -> None:
    uid, effective, ambient = _in_child((CAP_LINUX_IMMUTABLE,))
    assert uid == 65534
    assert effective == ambient == 1 << CAP_LINUX_IMMUTABLE
    _, effective, _ = _in_child((CAP_LINUX_IMMUTABLE, CAP_SYS_ADMIN))
    assert effective == (1 << CAP_LINUX_IMMUTABLE) | (1 << CAP_SYS_ADMIN)
    _, effective, ambient = _in_child(())
    assert effective == ambient == 0

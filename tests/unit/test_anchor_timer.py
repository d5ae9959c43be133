"""The service's anchor timer (issue 15): a quiet chain ends anchored within anchor_minutes,
and a beat that fails is logged and never stops the service."""

from __future__ import annotations

import logging
import threading

import pytest

from vault.context import Vault
from vault.db import audit
from vault.sealing import anchors
from vault.service import server
from vault.timeutil import FixedClock


def append_event(vault: Vault, n: int) -> None:
    with vault.session() as session:
        audit.append(
            session, vault.actor("t"), at=vault.clock.now(), action="test", detail={"n": n}
        )
        session.commit()


def test_a_beat_anchors_a_quiet_chain_once_its_minutes_have_passed(
    vault: Vault, clock: FixedClock
) -> None:
    append_event(vault, 1)  # the first event of a chain is anchored at once
    append_event(vault, 2)  # not yet due: one event, no minutes passed
    assert [a.seq for a in anchors.read_all(vault.store, "audit")] == [1]
    server.anchor_tick(vault)
    assert [a.seq for a in anchors.read_all(vault.store, "audit")] == [1]
    clock.advance(vault.settings.store.anchor_minutes * 60 + 1)
    server.anchor_tick(vault)
    held = anchors.read_all(vault.store, "audit")
    assert [a.seq for a in held] == [1, 2]
    assert held[-1].at == clock.now()
    server.anchor_tick(vault)  # the head has not moved since: nothing more
    assert len(anchors.read_all(vault.store, "audit")) == 2


def test_a_failing_beat_is_logged_and_raises_nothing(
    vault: Vault, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(session: object) -> list[anchors.Anchor]:
        raise RuntimeError("store unreachable")

    monkeypatch.setattr(vault.anchorer, "tick", broken)
    with caplog.at_level(logging.ERROR, logger="vault.service.server"):
        server.anchor_tick(vault)
    assert "anchor timer failed" in caplog.text and "store unreachable" in caplog.text


def test_the_timer_beats_until_it_is_stopped(vault: Vault, monkeypatch: pytest.MonkeyPatch) -> None:
    beats: list[Vault] = []
    stop = threading.Event()

    def beat(beaten: Vault) -> None:
        beats.append(beaten)
        if len(beats) == 3:
            stop.set()  # as serve() does when the service stops

    monkeypatch.setattr(server, "anchor_tick", beat)
    server.anchor_timer(vault, stop, interval=0)
    assert beats == [vault, vault, vault]
    server.anchor_timer(vault, stop, interval=0)  # stopped: no further beat
    assert len(beats) == 3

"""Web accounts (issue 19): a principal's password for the web console, hashed with Argon2id
(argon2-cffi), an optional TOTP second factor (pyotp), and the failed logins that lock an
account for `web.lockout_minutes` after `web.max_failures` in a row.

Logins, failed logins, lockouts, new passwords and TOTP changes are events of the audit
chain (`web.*`), whoever the name given was: a guess at a name that does not exist is
recorded as well as one at a real account's password.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from vault.context import Vault
from vault.db import audit
from vault.db.audit import Actor
from vault.db.models import Principal, WebAccount, WebSession
from vault.errors import Conflict, NotFound

MIN_PASSWORD = 10
MAX_PASSWORD = 1024
ISSUER = "Evidence Vault"


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()  # Argon2id, RFC 9106's low-memory profile (argon2-cffi's default)


# Verified when the name has no account, so an unknown name costs as long as a known one.
_DUMMY: list[str] = []


def _dummy_hash() -> str:
    if not _DUMMY:
        _DUMMY.append(_hasher().hash("no such account: a constant of the vault"))
    return _DUMMY[0]


def event(vault: Vault, session: Session, action: str, name: str | None, **detail: Any) -> None:
    """An audit event of the web console (inside the caller's transaction)."""
    audit.append(
        session,
        Actor(vault.settings.station_id, f"web:{name}" if name else "web"),
        at=vault.clock.now(),
        action=action,
        subject=f"principal:{name}" if name else None,
        detail={k: v for k, v in detail.items() if v is not None},
    )


def _staff(session: Session, name: str) -> Principal:
    found = session.exec(select(Principal).where(Principal.name == name)).first()
    if found is None:
        raise NotFound(f"no principal {name!r} (evault principal list)")
    if found.kind != "staff":
        raise Conflict(f"{name} is an outside requester: only staff log in to the web console")
    if found.disabled_at is not None:
        raise Conflict(f"principal {name} is disabled")
    return found


def _by(vault: Vault, session: Session) -> str:
    acting = vault.acting_principal(session)
    return acting.name if acting is not None else vault.actor("records").name


def _end_sessions(session: Session, principal_id: int, now: datetime) -> int:
    ended = 0
    live = select(WebSession).where(
        WebSession.principal_id == principal_id,
        WebSession.ended_at == None,  # noqa: E711
    )
    for row in session.exec(live):
        row.ended_at = now
        session.add(row)
        ended += 1
    return ended


def set_password(vault: Vault, name: str, password: str) -> dict[str, Any]:
    """Give NAME (staff) a web password: a new account, or a new password that unlocks it
    and ends its sessions."""
    if len(password) < MIN_PASSWORD:
        raise Conflict(f"a web password has at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise Conflict(f"a web password has at most {MAX_PASSWORD} characters")
    hashed = _hasher().hash(password)
    now = vault.clock.now()
    with vault.session() as session:
        principal = _staff(session, name)
        assert principal.id is not None
        account = session.exec(
            select(WebAccount).where(WebAccount.principal_id == principal.id)
        ).first()
        by = _by(vault, session)
        created = account is None
        if account is None:
            account = WebAccount(
                principal_id=principal.id,
                password_hash=hashed,
                password_set_at=now,
                password_set_by=by,
            )
        account.password_hash = hashed
        account.password_set_at, account.password_set_by = now, by
        account.failures, account.locked_until = 0, None
        session.add(account)
        ended = _end_sessions(session, principal.id, now)
        event(vault, session, "web.password_set", name, by=by, new=created, sessions_ended=ended)
        session.commit()
    return {"name": name, "created": created, "sessions_ended": ended}


def set_totp(vault: Vault, name: str, remove: bool = False) -> dict[str, Any]:
    """A new TOTP secret for NAME's account (its provisioning URI, for an authenticator
    app), or none (REMOVE)."""
    import pyotp

    with vault.session() as session:
        principal = _staff(session, name)
        account = session.exec(
            select(WebAccount).where(WebAccount.principal_id == principal.id)
        ).first()
        if account is None:
            raise Conflict(f"{name} has no web account yet: evault principal password {name}")
        secret = None if remove else pyotp.random_base32()
        account.totp_secret, account.totp_last_step = secret, None
        session.add(account)
        by = _by(vault, session)
        event(vault, session, "web.totp_removed" if remove else "web.totp_set", name, by=by)
        session.commit()
    issuer = vault.settings.access.bureau_name or ISSUER
    uri = (
        None
        if secret is None
        else pyotp.TOTP(secret).provisioning_uri(name=name, issuer_name=issuer)
    )
    return {"name": name, "totp": not remove, "uri": uri}


@dataclass(frozen=True)
class Login:
    """A login attempt's outcome: ok (logged in), totp (the password was right, a code is
    due), failed or locked; FAILURES: failed logins in a row so far (to slow the answer)."""

    status: str
    principal_id: int | None = None
    name: str | None = None
    failures: int = 0
    locked_until: datetime | None = None


def _account(session: Session, name: str) -> tuple[Principal | None, WebAccount | None]:
    principal = session.exec(select(Principal).where(Principal.name == name)).first()
    if principal is None or principal.disabled_at is not None or principal.kind != "staff":
        return None, None
    account = session.exec(
        select(WebAccount).where(WebAccount.principal_id == principal.id)
    ).first()
    return principal, account


def _failed(
    vault: Vault, session: Session, account: WebAccount, name: str, remote: str | None, why: str
) -> Login:
    web = vault.settings.web
    now = vault.clock.now()
    account.failures += 1
    failures = account.failures
    event(vault, session, "web.login_failed", name, reason=why, failures=failures, remote=remote)
    if failures >= web.max_failures:
        account.locked_until = now + timedelta(minutes=web.lockout_minutes)
        account.failures = 0
        event(
            vault,
            session,
            "web.lockout",
            name,
            failures=failures,
            until=account.locked_until.isoformat(),
            remote=remote,
        )
    session.add(account)
    session.commit()
    if account.locked_until is not None and account.locked_until > now:
        return Login("locked", account.principal_id, name, failures, account.locked_until)
    return Login("failed", account.principal_id, name, failures)


def _locked(account: WebAccount, now: datetime) -> bool:
    return account.locked_until is not None and account.locked_until > now


def check_password(vault: Vault, name: str, password: str, remote: str | None) -> Login:
    """One login attempt with a name and a password (audited whatever its outcome)."""
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _hasher()
    now = vault.clock.now()
    with vault.session() as session:
        principal, account = _account(session, name)
        if account is None or principal is None:
            with contextlib.suppress(VerificationError):
                hasher.verify(_dummy_hash(), password[:MAX_PASSWORD])
            event(vault, session, "web.login_failed", name[:128], reason="unknown", remote=remote)
            session.commit()
            return Login("failed")
        if _locked(account, now):
            event(vault, session, "web.login_failed", name, reason="locked", remote=remote)
            session.commit()
            return Login("locked", principal.id, name, 0, account.locked_until)
        try:
            hasher.verify(account.password_hash, password[:MAX_PASSWORD])
        except (VerificationError, InvalidHashError):
            return _failed(vault, session, account, name, remote, "password")
        if hasher.check_needs_rehash(account.password_hash):
            account.password_hash = hasher.hash(password)
        session.add(account)
        if account.totp_secret:  # failures count on until the code is right too
            session.commit()
            return Login("totp", principal.id, name)
        account.failures, account.locked_until = 0, None
        event(vault, session, "web.login", name, remote=remote)
        session.commit()
        return Login("ok", principal.id, name)


def check_totp(vault: Vault, principal_id: int, code: str, remote: str | None) -> Login:
    """The second step of a login whose password was right: the authenticator's code (each
    code once; a wrong one counts as a failed login)."""
    import pyotp

    now = vault.clock.now()
    with vault.session() as session:
        principal = session.get(Principal, principal_id)
        account = session.exec(
            select(WebAccount).where(WebAccount.principal_id == principal_id)
        ).first()
        if principal is None or account is None or not account.totp_secret:
            return Login("failed")
        if principal.disabled_at is not None:
            return Login("failed")
        name = principal.name
        if _locked(account, now):
            event(vault, session, "web.login_failed", name, reason="locked", remote=remote)
            session.commit()
            return Login("locked", principal_id, name, 0, account.locked_until)
        totp = pyotp.TOTP(account.totp_secret)
        code = code.strip().replace(" ", "")
        step = None
        for offset in (0, -1, 1):  # one step of clock drift either way
            at = now + timedelta(seconds=offset * totp.interval)
            if code.isdigit() and totp.verify(code, for_time=at):
                step = totp.timecode(at)
                break
        if step is None or (account.totp_last_step is not None and step <= account.totp_last_step):
            return _failed(vault, session, account, name, remote, "totp")
        account.totp_last_step = step
        account.failures, account.locked_until = 0, None
        session.add(account)
        event(vault, session, "web.login", name, remote=remote, totp=True)
        session.commit()
        return Login("ok", principal_id, name)


def has_account(vault: Vault, name: str) -> bool:
    with vault.session() as session:
        return _account(session, name)[1] is not None

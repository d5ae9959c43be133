"""The vault's one API: named operations, each deciding its action in the one policy
(`vault.service.policy`) before it touches a record. The socket server, the in-process CLI
of the service account and the web console (vault.web, in the service's process) all come
through `run`.

An operation is a function `handler(call, **params)` returning JSON-able data. It reads the
caller's principal and scope from `call`, acts through the domain packages with
`call.vault` (whose `user` is the caller's real OS user, from the kernel), writes any file
it hands back into `call.work` (`call.output(name)`), and reads files the caller sent from
`call.inputs`. Refusals are registered (AC-7) with the caller's real OS user, or the web
console's principal.
"""

from __future__ import annotations

import base64
import binascii
import inspect
import json
import logging
import shutil
import tempfile
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, create_model
from sqlmodel import select

from vault import i18n
from vault.access import register, wording
from vault.access.principals import ROLES
from vault.context import Vault
from vault.db.models import CaseHandler, Officer, Principal
from vault.errors import AccessRefused, VaultError
from vault.i18n import N_, _
from vault.service import policy

log = logging.getLogger(__name__)

Handler = Callable[..., Any]
OPERATIONS: dict[str, tuple[str, Handler]] = {}
# Operations that run only in the caller's own process (daemons and jobs of the service
# account: the dock, the media worker, one-shot ingest of a local volume, the spool drain).
LOCAL_ONLY: set[str] = set()


def operation(
    name: str, action: str | None = None, local_only: bool = False
) -> Callable[[Handler], Handler]:
    """Register an operation under NAME, decided by the policy's ACTION (default: NAME);
    LOCAL_ONLY: refused over the socket (it runs where it is started)."""
    action = action or name
    if action not in policy.RULES:
        raise AssertionError(f"operation {name}: action {action!r} is not in the policy table")

    def register_it(handler: Handler) -> Handler:
        assert name not in OPERATIONS, name
        OPERATIONS[name] = (action, handler)
        if local_only:
            LOCAL_ONLY.add(name)
        return handler

    return register_it


@dataclass(frozen=True)
class Caller:
    """Who is asking: the uid the kernel gave (SO_PEERCRED, or getuid in-process), or a
    principal the web console authenticated.

    `principal` is set only by vault.web, inside the service's own process, for a session it
    authenticated (password, and TOTP where set); the socket server builds its Caller from
    SO_PEERCRED alone and never reads a principal from a request, so no socket client can
    claim one. A web caller is never `system`, and its `os_user` is `web:NAME`, which no OS
    user can be named (':' separates /etc/passwd's fields): nothing keyed by OS user finds it.
    """

    uid: int
    os_user: str
    system: bool  # root, or the vault's own service account
    principal: str | None = None  # the web console's authenticated principal

    @classmethod
    def web(cls, principal: str, uid: int) -> Caller:
        """The caller for a principal the web console authenticated (in the service)."""
        return cls(uid, f"web:{principal}"[:64], False, principal)


@dataclass
class Call:
    vault: Vault
    caller: Caller
    principal: Principal | None
    roles: list[str]
    scope: str
    action: str
    work: Path
    inputs: dict[str, Path] = field(default_factory=dict)
    outputs: list[str] = field(default_factory=list)

    def output(self, name: str) -> Path:
        """A file (or folder) handed back to the caller under NAME, relative."""
        path = self.work / "out" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name.split("/", 1)[0] not in self.outputs:
            self.outputs.append(name.split("/", 1)[0])
        return path

    @property
    def name(self) -> str:
        return self.principal.name if self.principal else f"OS user {self.caller.os_user}"

    def badge(self) -> str | None:
        """The caller's own officer badge (for `own` scopes), or None."""
        if self.principal is None or self.principal.officer_pk is None:
            return None
        with self.vault.session() as session:
            officer = session.get(Officer, self.principal.officer_pk)
            return officer.officer_id if officer else None

    def handled_case_ids(self) -> set[int]:
        if self.principal is None or self.principal.officer_pk is None:
            return set()
        with self.vault.session() as session:
            query = select(CaseHandler.case_id).where(
                CaseHandler.officer_pk == self.principal.officer_pk
            )
            return set(session.exec(query))

    def refuse(self, reason: str) -> AccessRefused:
        """A refusal inside the operation's scope (registered by `run`)."""
        return AccessRefused(reason)


@dataclass
class Reply:
    ok: bool
    exit_code: int = 0
    result: Any = None
    error: str | None = None
    timezone: str = "UTC"
    message: str | None = None  # the error in the reader's language (vault.i18n)
    language: str | None = None  # the vault's `language`
    files: list[tuple[str, Path]] = field(default_factory=list)  # name, path in work
    work: Path | None = None

    def header(self) -> dict[str, Any]:
        files = []
        for name, path in self.files:
            for part in sorted([path, *path.rglob("*")] if path.is_dir() else [path]):
                relative = Path(name) / part.relative_to(path)
                if part.is_dir():
                    files.append({"name": str(relative), "dir": True})
                elif part.is_file():
                    files.append({"name": str(relative), "size": part.stat().st_size})
        return {
            "ok": self.ok,
            "exit_code": self.exit_code,
            "result": self.result,
            "error": self.error,
            "message": self.message,
            "timezone": self.timezone,
            "language": self.language,
            "files": files,
        }

    def cleanup(self) -> None:
        if self.work is not None:
            shutil.rmtree(self.work, ignore_errors=True)


_PARAMETERS: dict[str, type[BaseModel]] = {}


def _parameters(op: str, handler: Handler) -> type[BaseModel]:
    """A model of the handler's parameters after `call`, from its annotations: a caller over
    the socket sends whatever JSON it likes, and a bad value is a one-line error."""
    if op not in _PARAMETERS:
        hints = typing.get_type_hints(handler)
        fields: dict[str, Any] = {}
        for name, parameter in list(inspect.signature(handler).parameters.items())[1:]:
            default = ... if parameter.default is inspect.Parameter.empty else parameter.default
            fields[name] = (hints.get(name, Any), default)
        config = ConfigDict(extra="forbid", strict=False)
        _PARAMETERS[op] = create_model(f"Params_{op}", __config__=config, **fields)
    return _PARAMETERS[op]


def _principal(vault: Vault, caller: Caller) -> tuple[Principal | None, bool, str]:
    """The caller's enabled principal (by the kernel's OS user, or the web console's
    authenticated name), whether no principal exists at all, and what to say of a caller
    without one."""
    if caller.principal is not None:
        query = select(Principal).where(Principal.name == caller.principal)
    else:
        query = select(Principal).where(Principal.os_user == caller.os_user)
    with vault.session() as session:
        found = session.exec(query).first()
        empty = session.exec(select(Principal.id).limit(1)).first() is None
    if found is not None and found.disabled_at is not None:
        return None, empty, f" (its principal {found.name!r} is disabled)"
    if caller.principal is not None and found is None:
        return None, empty, f" (no principal {caller.principal!r})"
    return found, empty, " (not mapped to a principal: a records keeper maps it)"


def _register_refusal(vault: Vault, op: str, principal: Principal | None, reason: str) -> None:
    with vault.session() as session:
        register.append(
            vault,
            session,
            "refused",
            who=principal.name if principal else None,
            unit=principal.unit if principal else None,
            handled_by=principal.name if principal else None,
            what=op,
            detail={"attempt": op, "refusal": reason},
        )
        session.commit()


class PolicyRefusal(AccessRefused):
    """The policy's refusal: English in str() (and the register's detail, and an English
    reader's line), Chinese in localized(), naming the operation and the roles from their
    Chinese tables (vault.access.wording, vault.access.principals)."""

    def __init__(
        self,
        caller: Caller,
        principal: Principal | None,
        unmapped: str,
        action: str,
        decision: policy.Decision,
    ) -> None:
        who = principal.name if principal else f"OS user {caller.os_user!r}"
        super().__init__(f"{who}{'' if principal else unmapped}: {decision.reason}")
        self.caller, self.principal, self.unmapped = caller, principal, unmapped
        self.action, self.decision = action, decision

    def localized(self) -> str:
        if i18n.current() == "en":
            return str(self)  # the policy's own sentence, with the action's code
        operation = wording.OPERATIONS.get(self.action, self.action)
        roles = [ROLES.get(r, r) for r in self.decision.needs]
        if self.principal is not None:
            who = self.principal.name
        elif "disabled" in self.unmapped:
            who = _("OS user {user} (its principal is disabled)").format(user=self.caller.os_user)
        else:
            who = _("OS user {user} (not mapped to a principal: a records keeper maps it)").format(
                user=self.caller.os_user
            )
        if not roles:
            words = _("{who}: {operation} is for the vault's service account")
        elif self.decision.system:
            words = _("{who}: {operation} needs the role of {roles} or the vault's service account")
        else:
            words = _("{who}: {operation} needs the role of {roles}")
        return words.format(who=who, operation=operation, roles=_(" or ").join(roles))


def work_root(vault: Vault) -> Path:
    root = vault.settings.home / "tmp" / "service"
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root


def run(
    base: Vault,
    caller: Caller,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None = None,
    remote: bool = False,
    encoded: dict[str, str] | None = None,
    language: str | None = None,
) -> Reply:
    """Decide, run and answer one operation. Never raises for a VaultError. An error's
    `message` is in LANGUAGE (the reader's, $EVAULT_LANGUAGE on the client) or the vault's."""
    speak = language if language in i18n.LANGUAGES else base.settings.language
    reply = _run(base, caller, op, params, inputs, remote, encoded, speak)
    reply.language = base.settings.language
    return reply


def _failed(exc: VaultError, tz: str, language: str) -> Reply:
    with i18n.speaking(language):
        message = exc.localized()
    return Reply(False, exc.exit_code, error=str(exc), timezone=tz, message=message)


def _run(
    base: Vault,
    caller: Caller,
    op: str,
    params: dict[str, Any],
    inputs: dict[str, bytes] | None,
    remote: bool,
    encoded: dict[str, str] | None,
    language: str,
) -> Reply:
    tz = base.settings.timezone
    entry = OPERATIONS.get(op)
    if entry is None:
        return _failed(VaultError(N_("unknown operation {op}"), op=repr(op)), tz, language)
    action, handler = entry
    vault = base.for_user(caller.os_user, caller.principal)
    work = Path(tempfile.mkdtemp(prefix="call-", dir=work_root(base)))
    principal: Principal | None = None
    try:
        principal, empty, unmapped = _principal(vault, caller)
        roles = list(principal.roles) if principal else []
        decision = policy.decide(action, roles, caller.system, empty)
        if not decision.allowed:
            refused = PolicyRefusal(caller, principal, unmapped, action, decision)
            _register_refusal(vault, op, principal, str(refused))
            shutil.rmtree(work, ignore_errors=True)
            return _failed(refused, tz, language)
        if remote and op in LOCAL_ONLY:
            shutil.rmtree(work, ignore_errors=True)
            local = N_(
                "{op} runs only on the station itself, as the vault's service account "
                "(its systemd unit or a root shell), not through the service"
            )
            return _failed(VaultError(local, op=op), tz, language)
        call = Call(vault, caller, principal, roles, decision.scope or "all", action, work)
        inputs = dict(inputs or {})
        for name, text in (encoded or {}).items():
            try:
                inputs[name] = base64.b64decode(text, validate=True)
            except binascii.Error:
                raise VaultError(N_("input file {name} is not base64"), name=repr(name)) from None
        for name, data in inputs.items():
            if name in ("", ".", "..") or "/" in name or "\0" in name:
                raise VaultError(N_("an input file may not be named {name}"), name=repr(name))
            path = work / "in" / name
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            call.inputs[name] = path
        try:
            given = _parameters(op, handler)(**params)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'parameters'}: {e['msg']}" for e in exc.errors()
            )
            raise VaultError(
                N_("bad parameters for {op}: {problems}"), op=op, problems=problems
            ) from None
        result = handler(call, **{name: getattr(given, name) for name in type(given).model_fields})
        json.dumps(result, default=str)  # fail here, not on the wire
        files = [(name, work / "out" / name) for name in call.outputs]
        return Reply(True, 0, result=result, timezone=tz, files=files, work=work)
    except AccessRefused as exc:
        if not getattr(exc, "registered", False):
            _register_refusal(vault, op, principal, str(exc))
        shutil.rmtree(work, ignore_errors=True)
        return _failed(exc, tz, language)
    except VaultError as exc:
        shutil.rmtree(work, ignore_errors=True)
        return _failed(exc, tz, language)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

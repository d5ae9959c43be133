"""The web console's gate (issue 19), through Starlette's TestClient on a real vault: no
session, no page; no CSRF token, no change; wrong passwords lock; idle sessions end; TOTP;
and every record through the service's one policy, refusals registered."""

from __future__ import annotations

import io
import json
import re
import socket
import subprocess
from pathlib import Path
from typing import Any

import pyotp
from sqlmodel import col, select
from starlette.testclient import TestClient

from tests.access_office import CASE, Office
from tests.conftest import EVAULT, ROOT, evault_env, make_settings
from tests.web.conftest import (
    BOSS,
    HANDLER,
    KEEPER,
    OTHER,
    PASSWORD,
    WEB,
    form_csrf,
    log_in,
    session_csrf,
)
from vault.access.accounts import check_password
from vault.access.requests import file_request
from vault.context import Vault
from vault.db.models import AccessGrant, AuditEvent, Principal, RegisterEntry
from vault.service import api
from vault.service.server import answer_connection
from vault.timeutil import FixedClock
from vault.web.accounts import set_totp
from vault.web.app import create_app


def audit_actions(
    vault: Vault, prefix: str = "web."
) -> list[tuple[str, str | None, dict[str, Any]]]:
    with vault.session() as session:
        rows = session.exec(select(AuditEvent).order_by(col(AuditEvent.id)))
        return [(e.action, e.subject, e.detail) for e in rows if e.action.startswith(prefix)]


def register(vault: Vault, event: str | None = None) -> list[RegisterEntry]:
    with vault.session() as session:
        rows = list(session.exec(select(RegisterEntry).order_by(col(RegisterEntry.seq))))
    return [e for e in rows if event is None or e.event == event]


def has_principal(vault: Vault, name: str) -> bool:
    with vault.session() as session:
        return session.exec(select(Principal).where(Principal.name == name)).first() is not None


def pending_request(office: Office) -> int:
    """A court asks for the case's footage (filed by the records keeper, with documents)."""
    court = "某区人民法院"
    if not has_principal(office.vault, court):
        office.outsider(court, "court", court)
    documents = office.documents("unit_letter", "applicant_id")
    filed = file_request(office.keeper, f"case:{CASE}", "export", "行政诉讼举证", court, documents)
    assert filed.id is not None
    return filed.id


def test_without_a_session_a_get_goes_to_login_and_a_post_is_refused_and_audited(
    office: Office, client: TestClient
) -> None:
    request_id = pending_request(office)
    page = client.get(f"/approvals/{request_id}", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"/login?next=%2Fapprovals%2F{request_id}"
    refused = client.post(f"/approvals/{request_id}/approve", data={"days": "3", "reason": "同意"})
    assert refused.status_code == 401
    assert ("web.refused", None) in [(a, s) for a, s, _ in audit_actions(office.vault)]
    _, _, detail = [e for e in audit_actions(office.vault) if e[0] == "web.refused"][-1]
    assert detail["method"] == "POST" and detail["path"] == f"/approvals/{request_id}/approve"
    with office.vault.session() as session:
        assert session.exec(select(AccessGrant)).first() is None


def test_the_login_page_is_chinese_and_has_the_security_headers(client: TestClient) -> None:
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="zh-CN">' in page.text
    for words in ("登录", "姓名", "密码", "执法音像资料管理系统"):
        assert words in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["x-frame-options"] == "DENY"
    english = client.get("/login?lang=en")
    assert "Log in" in english.text and "登录" not in english.text
    assert "evault_lang=en" in english.headers["set-cookie"]


def test_a_login_sets_a_strict_http_only_cookie_and_is_audited(
    office: Office, client: TestClient
) -> None:
    done = log_in(client, BOSS)
    assert done.status_code == 303 and done.headers["location"] == "/"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("evault_session=")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert "Secure" not in cookie  # plain HTTP here; under TLS the cookie is Secure
    page = client.get("/approvals")
    assert page.status_code == 200 and "待审批" in page.text and "李局长" in page.text
    assert ("web.login", f"principal:{BOSS}") in [(a, s) for a, s, _ in audit_actions(office.vault)]
    # A login form posted without its token is refused.
    assert client.post("/login", data={"username": BOSS, "password": PASSWORD}).status_code == 403


def test_a_post_without_the_csrf_token_is_refused_and_registered(
    office: Office, client: TestClient
) -> None:
    request_id = pending_request(office)
    log_in(client, BOSS)
    refused = client.post(f"/approvals/{request_id}/approve", data={"days": "3", "reason": "同意"})
    assert refused.status_code == 403
    wrong = client.post(
        f"/approvals/{request_id}/approve", data={"days": "3", "reason": "同意", "csrf": "x"}
    )
    assert wrong.status_code == 403
    with office.vault.session() as session:
        assert session.exec(select(AccessGrant)).first() is None
    entries = register(office.vault, "refused")
    assert [e.who for e in entries[-2:]] == [BOSS, BOSS]
    assert entries[-1].detail["refusal"] == "no valid CSRF token"
    done = client.post(
        f"/approvals/{request_id}/approve",
        data={"days": "3", "reason": "同意", "csrf": session_csrf(client)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    approve = register(office.vault, "approve")[-1]
    assert approve.approver == BOSS and approve.request_id == request_id
    assert approve.os_user == f"web:{BOSS}"  # no OS user acted: the console did, for him


def test_wrong_passwords_lock_the_account_for_the_lockout_time(
    office: Office, client: TestClient, clock: FixedClock
) -> None:
    for n in range(WEB["max_failures"]):
        failed = log_in(client, OTHER, "wrong password")
        assert failed.status_code == (403 if n == WEB["max_failures"] - 1 else 401)
        assert "姓名、密码或验证码错误" in failed.text or "已锁定" in failed.text
    locked = log_in(client, OTHER)  # the right password, but locked
    assert locked.status_code == 403 and "已锁定" in locked.text
    assert client.get("/approvals", follow_redirects=False).status_code == 303
    actions = [a for a, s, _ in audit_actions(office.vault) if s == f"principal:{OTHER}"]
    assert actions.count("web.login_failed") == WEB["max_failures"] + 1
    assert actions.count("web.lockout") == 1
    clock.advance(WEB["lockout_minutes"] * 60 + 1)
    assert log_in(client, OTHER).status_code == 303
    # An unknown name is refused like a wrong password, and audited with the name given.
    assert log_in(client, "无此人").status_code == 401
    assert ("web.login_failed", "principal:无此人") in [
        (a, s) for a, s, _ in audit_actions(office.vault)
    ]


def test_an_idle_session_ends(office: Office, client: TestClient, clock: FixedClock) -> None:
    log_in(client, BOSS)
    clock.advance(WEB["idle_minutes"] * 60 - 5)
    assert client.get("/approvals", follow_redirects=False).status_code == 200  # used: kept
    clock.advance(WEB["idle_minutes"] * 60 - 5)
    assert client.get("/approvals", follow_redirects=False).status_code == 200
    clock.advance(WEB["idle_minutes"] * 60 + 1)
    gone = client.get("/approvals", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")
    assert "web.session_expired" in [a for a, _, _ in audit_actions(office.vault)]


def test_logout_ends_the_session(office: Office, client: TestClient) -> None:
    log_in(client, BOSS)
    token = client.cookies.get("evault_session")
    done = client.post("/logout", data={"csrf": session_csrf(client)}, follow_redirects=False)
    assert done.status_code == 303
    client.cookies.set("evault_session", token or "")  # the old cookie, kept by a thief
    assert client.get("/approvals", follow_redirects=False).status_code == 303
    assert "web.logout" in [a for a, _, _ in audit_actions(office.vault)]


def test_a_totp_login_asks_for_the_code_and_takes_each_code_once(
    office: Office, client: TestClient, clock: FixedClock
) -> None:
    uri = set_totp(office.vault, BOSS)
    assert uri.startswith("otpauth://totp/")
    secret = pyotp.parse_uri(uri).secret
    step = log_in(client, BOSS)
    assert step.status_code == 200 and "动态验证码" in step.text
    assert client.get("/approvals", follow_redirects=False).status_code == 303  # not yet in
    csrf = form_csrf(step.text)
    wrong = client.post("/login/totp", data={"code": "000000", "csrf": csrf})
    assert wrong.status_code == 401
    code = pyotp.TOTP(secret).at(clock.now())
    done = client.post("/login/totp", data={"code": code, "csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/approvals").status_code == 200
    client.cookies.clear()
    again = log_in(client, BOSS)
    replay = client.post("/login/totp", data={"code": code, "csrf": form_csrf(again.text)})
    assert replay.status_code == 401  # the same code twice: refused


def test_an_officer_is_refused_the_register_and_the_refusal_is_registered(
    office: Office, client: TestClient
) -> None:
    log_in(client, HANDLER)
    refused = client.get("/register")
    assert refused.status_code == 403 and "拒绝" in refused.text
    entry = register(office.vault, "refused")[-1]
    assert entry.who == HANDLER and entry.detail["attempt"] == "access.log"
    client.cookies.clear()
    log_in(client, KEEPER)
    shown = client.get("/register")
    assert shown.status_code == 200 and "登记簿完整" in shown.text and HANDLER in shown.text
    csv = client.get("/register.csv")
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert HANDLER in csv.content.decode("utf-8-sig")
    pdf = client.get("/register.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_the_approval_page_shows_the_request_and_its_documents(
    office: Office, client: TestClient
) -> None:
    request_id = pending_request(office)
    log_in(client, BOSS)
    queue = client.get("/approvals")
    assert "某区人民法院" in queue.text and "行政诉讼举证" in queue.text and KEEPER in queue.text
    detail = client.get(f"/approvals/{request_id}")
    assert detail.status_code == 200
    assert f'src="/approvals/{request_id}/documents/unit_letter"' in detail.text
    assert "局机关主要负责人" in detail.text  # the level the settings ask for
    document = client.get(f"/approvals/{request_id}/documents/unit_letter")
    assert document.status_code == 200 and document.headers["content-type"] == "application/pdf"
    assert document.content.startswith(b"%PDF")
    assert document.headers["x-frame-options"] == "SAMEORIGIN"  # framed by the page only
    assert "access.document_read" in [a for a, _, _ in audit_actions(office.vault, "access.")]
    # Denying a court's request needs a statutory ground (AC-4): the page says why.
    denied = client.post(
        f"/approvals/{request_id}/deny", data={"reason": "不同意", "csrf": session_csrf(client)}
    )
    assert denied.status_code == 403 and "statutory" in denied.text


def test_an_officer_approving_is_refused_by_the_policy_and_registered(
    office: Office, client: TestClient
) -> None:
    request_id = pending_request(office)
    log_in(client, HANDLER)
    refused = client.post(
        f"/approvals/{request_id}/approve",
        data={"days": "3", "reason": "同意", "csrf": session_csrf(client)},
    )
    assert refused.status_code == 403
    entry = register(office.vault, "refused")[-1]
    assert entry.who == HANDLER and entry.detail["attempt"] == "access.approve"


def test_a_socket_client_cannot_claim_a_principal(office: Office) -> None:
    """Identity over the socket is the kernel's alone: a `principal` in the request is not
    read, and as a parameter it is a bad one."""
    request_id = pending_request(office)
    for request in (
        {
            "op": "access.approve",
            "params": {"request_id": request_id, "reason": "r"},
            "principal": BOSS,
        },
        {
            "op": "access.approve",
            "params": {"request_id": request_id, "reason": "r", "principal": BOSS},
        },
    ):
        out = io.BytesIO()
        line = json.dumps(request, ensure_ascii=False).encode() + b"\n"
        caller = api.Caller(4242, "someone", False)
        answer_connection(office.vault, caller, io.BytesIO(line), out)  # type: ignore[arg-type]
        reply = json.loads(out.getvalue().splitlines()[0])
        assert not reply["ok"]
    with office.vault.session() as session:
        assert session.exec(select(AccessGrant)).first() is None


def test_principal_password_and_totp_from_the_cli(tmp_path: Path) -> None:
    home = tmp_path / "cli-home"
    home.mkdir()
    env = evault_env(home)

    def evault(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*EVAULT, *args], input=stdin, capture_output=True, text=True, env=env, cwd=ROOT,
            check=False,
        )  # fmt: skip

    assert evault("principal", "add", KEEPER, "--role", "records_keeper").returncode == 0
    assert evault("principal", "add", BOSS, "--role", "approver").returncode == 0
    short = evault("principal", "password", BOSS, stdin="short\n")
    assert short.returncode == 1 and "at least 10" in short.stderr
    made = evault("principal", "password", BOSS, stdin=PASSWORD + "\n")
    assert made.returncode == 0, made.stderr
    vault = Vault(make_settings(home))
    assert check_password(vault, BOSS, PASSWORD, None).status == "ok"
    assert check_password(vault, BOSS, "not it at all", None).status == "failed"
    totp = evault("principal", "totp", BOSS)
    assert totp.returncode == 0 and totp.stdout.startswith("otpauth://totp/")
    assert check_password(vault, BOSS, PASSWORD, None).status == "totp"
    outsider = evault("principal", "add", "某律师", "--type", "lawyer")
    assert outsider.returncode == 0 or "case" in outsider.stderr


def test_the_queue_and_the_register_come_a_page_at_a_time(
    office: Office, client: TestClient, monkeypatch: Any
) -> None:
    from vault.web import core_pages

    monkeypatch.setattr(core_pages, "PAGE_SIZE", 2)
    ids = [pending_request(office) for _ in range(3)]
    log_in(client, BOSS)
    first = client.get("/approvals")
    assert [f'href="/approvals/{i}"' in first.text for i in ids] == [True, True, False]
    assert "第 1 页" in first.text and 'href="/approvals?status=pending&amp;page=2"' in first.text
    second = client.get("/approvals?status=pending&page=2")
    assert [f'href="/approvals/{i}"' in second.text for i in ids] == [False, False, True]
    assert "下一页" not in second.text and "上一页" in second.text
    newest = register(office.vault)[-1].seq
    shown = client.get("/register")
    seqs = [int(n) for n in re.findall(r"<tr class=\"event-\w+\">\s*<td>(\d+)</td>", shown.text)]
    assert seqs == [newest, newest - 1]


def test_under_https_the_session_cookie_is_secure(office: Office) -> None:
    with TestClient(create_app(office.vault), base_url="https://vault.example") as secure:
        done = log_in(secure, BOSS)
    assert done.status_code == 303 and "Secure" in done.headers["set-cookie"]


def test_a_web_port_in_use_is_one_line(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*EVAULT, "--socket", str(home / "s.sock"), "serve", "--as-root", "--web",
             f"127.0.0.1:{port}"],
            env=evault_env(home), capture_output=True, text=True, cwd=ROOT, timeout=120,
            check=False,
        )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("error: web console: cannot listen on")


def test_wrong_codes_lock_even_after_right_passwords(office: Office, client: TestClient) -> None:
    set_totp(office.vault, BOSS)
    for _ in range(WEB["max_failures"]):
        step = log_in(client, BOSS)  # the password is right each time
        assert "动态验证码" in step.text
        client.post("/login/totp", data={"code": "000000", "csrf": form_csrf(step.text)})
    assert log_in(client, BOSS).status_code == 403  # locked


def test_login_goes_back_only_to_a_page_of_this_site(client: TestClient) -> None:
    for target, landed in (
        ("/register?from=2026-11-01", "/register?from=2026-11-01"),
        ("//evil.example/x", "/"),
        ("/\t/evil.example", "/"),
        ("https://evil.example/", "/"),
    ):
        client.cookies.clear()
        page = client.get("/login")
        done = client.post(
            "/login",
            data={
                "username": BOSS,
                "password": PASSWORD,
                "csrf": form_csrf(page.text),
                "next": target,
            },
            follow_redirects=False,
        )
        assert done.headers["location"] == landed, target

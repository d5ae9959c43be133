"""The CLI's messages and errors in the reader's language (issue 17): Chinese by default,
English where the vault's `language` or the reader's $EVAULT_LANGUAGE says so; the English
sentence stays in `str()` and `--json` for logs and scripts."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import EVAULT, evault_env
from tests.unit.test_i18n import TECHNICAL
from vault.context import Vault
from vault.errors import NotFound
from vault.i18n import N_
from vault.service import api, ops

CHINESE = re.compile(r"[\u4e00-\u9fff]")


def _english_words(text: str) -> list[str]:
    return [w for w in re.findall(r"[A-Za-z][A-Za-z0-9_]*", text) if re.search("[A-Za-z]{3}", w)]


def _run(home: Path, language: str | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = evault_env(home)
    env.pop("EVAULT_LANGUAGE", None)
    if language:
        env["EVAULT_LANGUAGE"] = language
    return subprocess.run([*EVAULT, *args], capture_output=True, text=True, env=env, check=False)


def test_an_error_keeps_its_english_sentence_and_speaks_the_readers_language() -> None:
    error = NotFound("no evidence {id}", id=7)
    assert str(error) == "no evidence 7"
    assert error.localized() == "no evidence 7" or CHINESE.search(error.localized())


def test_a_policy_refusal_is_chinese_for_the_reader_and_english_in_the_register(
    vault: Vault,
) -> None:
    # AC-7: the refusal is registered with its English detail; the reader reads Chinese.
    ops.known_operations()
    stranger = api.Caller(os.getuid() + 4242, "stranger", False)
    reply = api.run(vault, stranger, "evidence.list", {}, language="zh_CN")
    assert not reply.ok and reply.exit_code == 3
    assert reply.error and "OS user 'stranger'" in reply.error
    assert reply.message is not None
    assert "操作系统用户 stranger" in reply.message and "查询音像资料" in reply.message
    assert _english_words(reply.message) == ["stranger"]
    english = api.run(vault, stranger, "evidence.list", {}, language="en")
    assert english.message == english.error


def test_the_cli_prints_its_error_line_in_chinese_by_default(home: Path) -> None:
    done = _run(home, None, "evidence", "show", "999999")
    assert done.returncode == 4 or done.returncode == 1, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line
    assert line.startswith("错误："), line
    assert _english_words(line) == [], line


def test_the_reader_may_ask_for_english(home: Path) -> None:
    done = _run(home, "en", "evidence", "show", "999999")
    assert done.stderr.startswith("error: "), done.stderr
    assert not CHINESE.search(done.stderr)


def test_a_vault_set_to_english_speaks_english(home: Path) -> None:
    config = home / "vault.toml"
    evault_env(home)  # writes the test configuration
    config.write_text('language = "en"\n' + config.read_text())
    done = _run(home, None, "evidence", "show", "999999")
    assert done.stderr.startswith("error: "), done.stderr


# Commands the reader is told to type are not words to translate.
COMMAND_WORDS = {"principal", "list"}


def _chinese_error(done: subprocess.CompletedProcess[str], allowed: set[str]) -> str:
    """The one line of a failed command read in Chinese: 错误：… with no English word but the
    program and format names of the catalogue's test and the identifiers ALLOWED."""
    assert done.returncode != 0 and not done.stdout, (done.stdout, done.stderr)
    line = done.stderr.strip()
    assert "\n" not in line and line.startswith("错误："), line
    english = {w for w in _english_words(line) if w.lower() not in TECHNICAL}
    assert english <= allowed, line
    return line


def test_common_errors_read_in_chinese_by_default_and_in_english_on_request(home: Path) -> None:
    for setup in (
        ("principal", "add", "王档案", "--role", "records_keeper"),
        ("case", "create", "环罚[2026]12号", "--name", "某厂", "--type", "行政处罚",
         "--unit", "一大队"),
    ):  # fmt: skip
        made = _run(home, "en", *setup)
        assert made.returncode == 0, made.stderr
    # A case typed wrong: the nearest number suggested, in the reader's words.
    typo = ("case", "show", "环罚〔2026〕13号")
    assert _chinese_error(_run(home, None, *typo), set()) == (
        "错误：没有案件 '环罚〔2026〕13号'（是否指 环罚〔2026〕12号？）"
    )
    assert _run(home, "en", *typo).stderr == (
        "error: no case '环罚〔2026〕13号' (did you mean 环罚〔2026〕12号?)\n"
    )
    # No such principal: the command to list them stays as typed.
    nobody = ("principal", "disable", "无此人", "--reason", "离职")
    assert _chinese_error(_run(home, "zh_CN", *nobody), COMMAND_WORDS) == (
        "错误：没有人员 '无此人'（见 evault principal list）"
    )
    assert _run(home, "en", *nobody).stderr == (
        "error: no principal '无此人' (see evault principal list)\n"
    )
    # A closed case closed again.
    assert _run(home, "en", "case", "close", "环罚〔2026〕12号").returncode == 0
    closed = _chinese_error(_run(home, None, "case", "close", "环罚〔2026〕12号"), set())
    assert closed.startswith("错误：案件 '环罚〔2026〕12号' 已于 ") and closed.endswith(" 结案")
    again = _run(home, "en", "case", "close", "环罚〔2026〕12号").stderr
    assert again.startswith("error: case '环罚〔2026〕12号' was closed on 20"), again
    # A bad --from, and a reversed range.
    bad = ("session", "list", "--from", "昨天")
    assert _chinese_error(_run(home, None, *bad), set()) == (
        "错误：不是有效的时间：'昨天'（格式如 2026-11-23T09:00）"
    )
    assert _run(home, "en", *bad).stderr == (
        "error: not an ISO 8601 time: '昨天' (e.g. 2026-11-23T09:00)\n"
    )
    reversed_ = ("report", "compliance", "--from", "2026-11-24", "--to", "2026-11-23")
    assert _chinese_error(_run(home, None, *reversed_), {"from"}) == (
        "错误：--to 2026-11-23 早于 --from 2026-11-24：请先给出较早的日期"
    )
    assert _run(home, "en", *reversed_).stderr == (
        "error: --to 2026-11-23 comes before --from 2026-11-24: give the earlier one first\n"
    )
    # A value that is none of the known ones: a usage error naming the nearest (exit 2).
    status = ("case", "list", "--status", "opne")
    done = _run(home, None, *status)
    assert done.returncode == 2
    assert _chinese_error(done, {"status", "opne", "open", "closed"}) == (
        "错误：--status 'opne' 无法识别：是否指 open？（可选：open, closed）"
    )
    assert _run(home, "en", *status).stderr == (
        "error: --status 'opne' is not known: did you mean open? (one of open, closed)\n"
    )
    # A refusal: the role wanted by its Chinese name.
    refused = _run(home, None, "access", "approve", "1", "--reason", "同意")
    assert refused.returncode == 3
    assert "审批负责人" in _chinese_error(refused, set())
    english = _run(home, "en", "access", "approve", "1", "--reason", "同意").stderr
    assert english.startswith("error: 王档案: ") and "approver" in english


def test_words_inside_a_message_follow_the_reader() -> None:
    """A suggestion's "or", a role's name: English in str() (logs, --json, the register),
    the reader's language in localized()."""
    from vault import i18n
    from vault.access.principals import role_name

    error = NotFound(
        N_("no case {number} (did you mean {numbers}?)"),
        number="'A'",
        numbers=i18n.either(["B", "C"]),
    )
    assert str(error) == "no case 'A' (did you mean B or C?)"
    with i18n.speaking("zh_CN"):
        assert error.localized() == "没有案件 'A'（是否指 B或C？）"
        assert str(error) == "no case 'A' (did you mean B or C?)"
        assert str(role_name("approver")) == "审批负责人"
    with i18n.speaking("en"):
        assert error.localized() == str(error)
        assert str(role_name("approver")) == "approver"

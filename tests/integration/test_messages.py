"""The CLI's messages and errors in the reader's language (issue 17): Chinese by default,
English where the vault's `language` or the reader's $EVAULT_LANGUAGE says so; the English
sentence stays in `str()` and `--json` for logs and scripts."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from tests.conftest import EVAULT, evault_env
from vault.context import Vault
from vault.errors import NotFound
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

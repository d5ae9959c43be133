"""The message catalogue (issue 17): every word the code marks for people has its Chinese and
its English, with the same placeholders; the committed .mo files say what their .po say;
the `language` setting is zh_CN or en and decides what a process speaks; disc labels read
in Chinese with the bureau as 制作单位."""

from __future__ import annotations

import ast
import gettext
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path
from typing import get_args

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from vault import i18n
from vault.access.iso import label_text
from vault.compliance import clock, sentences
from vault.compliance.deadline import RULES
from vault.compliance.reasons import GAP_REASONS
from vault.compliance.stops import STOP_REASONS
from vault.config import Settings, load_settings, parse_settings
from vault.errors import ConfigError
from vault.recovery.findings import CLASSES

ROOT = Path(__file__).resolve().parents[2]
BRACES = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)[^{}]*\}")


def _marked() -> dict[str | tuple[str, ...], str]:
    """Every message the code marks (_, N_, ngettext), with where, as `pybabel extract`
    finds it with babel.cfg."""
    found: dict[str | tuple[str, ...], str] = {}
    method_map = [("vault/**.py", "python"), ("vault/web/templates/**.html", "jinja2")]
    for path, line, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map=method_map
    ):
        found[message] = f"{path}:{line}"
    return found


def _catalog(language: str) -> dict[str | tuple[str, ...], str | tuple[str, ...]]:
    with i18n.po_path(language).open("rb") as source:
        return {m.id: m.string for m in read_po(source, locale=language) if m.id}


@pytest.fixture(autouse=True)
def _process_language() -> Iterator[None]:
    before = i18n.current()
    yield
    i18n.use(before)


def test_every_marked_message_has_chinese_and_english_with_its_placeholders() -> None:
    marked = _marked()
    assert len(marked) > 100  # the report, its findings and the disc labels at least
    for language in i18n.LANGUAGES:
        catalog = _catalog(language)
        for message, where in marked.items():
            assert message in catalog, f"{where}: {message!r} has no {language} entry"
            translated = catalog[message]
            forms = translated if isinstance(translated, tuple) else (translated,)
            assert all(forms), f"{where}: {message!r} is not translated into {language}"
            wanted = {
                n
                for m in (message if isinstance(message, tuple) else (message,))
                for n in BRACES.findall(m)
            }
            for form in forms:
                assert set(BRACES.findall(form)) == wanted, f"{language} {form!r}: placeholders"
        unused = set(catalog) - set(marked)
        assert not unused, f"{language}: entries no code uses (pybabel update): {unused}"


# Names no Chinese word replaces, allowed in the CLI's messages (never in a paper's words).
TECHNICAL = {"base64", "systemd", "root", "evault", "ffmpeg", "xorriso", "udev", "json", "csv"}


def test_chinese_words_hold_no_english_word() -> None:
    """What the Chinese catalogue gives is Chinese: placeholders aside, at most the rule ids
    (RC-1), two-letter units and the names of programs and formats in TECHNICAL."""
    for message, translated in _catalog("zh_CN").items():
        for form in translated if isinstance(translated, tuple) else (translated,):
            words = re.findall(r"[A-Za-z][A-Za-z0-9]*", BRACES.sub("", form))
            english = [w for w in words if re.search("[A-Za-z]{3}", w)]
            assert not [w for w in english if w.lower() not in TECHNICAL], (message, form)


def test_the_committed_mo_files_say_what_their_po_files_say() -> None:
    """Run `pybabel compile -d vault/locale -D evault` after editing a .po (CONTRIBUTING.md)."""
    for language in i18n.LANGUAGES:
        mo = i18n.po_path(language).with_suffix(".mo")
        with mo.open("rb") as compiled:
            committed = gettext.GNUTranslations(compiled)
        fresh = gettext.GNUTranslations(io.BytesIO(i18n.compile_po(language)))
        assert committed._catalog == fresh._catalog, f"{mo} is stale: pybabel compile"  # type: ignore[attr-defined]


def test_plural_forms_follow_the_language() -> None:
    words = ("2. Findings ({count} item)", "2. Findings ({count} items)")
    with i18n.speaking("en"):
        assert i18n.ngettext(*words, 1) == "2. Findings ({count} item)"
        assert i18n.ngettext(*words, 3) == "2. Findings ({count} items)"
    with i18n.speaking("zh_CN"):
        assert (
            i18n.ngettext(*words, 1) == i18n.ngettext(*words, 3) == "二、发现的问题（{count} 项）"
        )


def test_a_missing_mo_is_compiled_from_its_po(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    po = tmp_path / "zh_CN" / "LC_MESSAGES" / "evault.po"
    po.parent.mkdir(parents=True)
    po.write_bytes(i18n.po_path("zh_CN").read_bytes())
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    i18n.translation.cache_clear()
    try:
        found = i18n.translation("zh_CN").gettext("Report on the use of body-worn cameras")
    finally:
        i18n.translation.cache_clear()
    assert found == "执法记录仪使用合规情况报告"


def test_language_setting_is_zh_cn_or_en_and_decides_what_the_process_speaks(
    tmp_path: Path,
) -> None:
    assert Settings().language == "zh_CN"
    with pytest.raises(
        ConfigError, match=r"^configuration: language: Input should be 'zh_CN' or 'en'$"
    ):
        parse_settings({"language": "fr"})
    config = tmp_path / "vault.toml"
    config.write_text('language = "en"\n', encoding="utf-8")
    assert load_settings(config).language == "en"
    assert i18n._("Unit") == "Unit"
    config.write_text("", encoding="utf-8")
    load_settings(config)
    assert i18n._("Unit") == "单位"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.use("fr")


def test_a_setting_of_another_language_is_spoken_only_within_its_block() -> None:
    with i18n.speaking("en"):
        assert i18n._("Unit") == "Unit"
    assert i18n._("Unit") == "单位"


def test_disc_label_in_chinese_names_the_bureau_as_the_making_body() -> None:
    text = label_text(
        "一大队", "王档案", "2026-11-23", "某厂查封 环罚〔2026〕31号", 1, "某市生态环境局"
    )
    assert text.splitlines() == [
        "执法音像资料光盘 第1份（共2份）",
        "制作单位：某市生态环境局一大队",
        "制作人：王档案",
        "制作日期：2026-11-23",
        "案件（执法活动）名称及编号：某厂查封 环罚〔2026〕31号",
    ]
    unnamed = label_text("", "王档案", "2026-11-23", "某厂查封", 2)
    assert "制作单位：＿＿＿＿＿＿＿＿" in unnamed and "第2份（共2份）" in unnamed
    english = label_text("Unit 1", "Wang", "2026-11-23", "Case 31", 1, "City Bureau", "en")
    assert english.splitlines()[:2] == [
        "Enforcement audio and video disc, copy 1 of 2",
        "Made by (body): City Bureau, Unit 1",
    ]


def test_no_message_is_hidden_in_an_f_string() -> None:
    """Python 3.11 tokenizes an f-string whole: pybabel extract would not see a _() in it."""
    hidden = re.compile(r"(?<![\w.])(_|N_|ngettext)\(")
    for path in sorted((ROOT / "vault").rglob("*.py")):
        with path.open("rb") as source:
            for token in tokenize.tokenize(source.readline):
                prefix = re.match(r"[A-Za-z]*", token.string)
                is_f = token.type == tokenize.STRING and prefix and "f" in prefix[0].lower()
                assert not (is_f and hidden.search(token.string)), f"{path}:{token.start[0]}"


def test_the_setting_offers_the_languages_of_the_catalogue() -> None:
    assert get_args(Settings.model_fields["language"].annotation) == i18n.LANGUAGES
    assert Settings().language == i18n.DEFAULT
    for language in i18n.LANGUAGES:
        assert i18n.po_path(language).is_file()


def test_every_code_of_the_report_has_words() -> None:
    """A new clock flag, gap or stop reason, verify class or deadline rule needs its words
    in vault/compliance/sentences.py, or the page would print a placeholder."""
    assert set(sentences.FLAGS) == set(clock.DESCRIPTIONS)
    assert set(sentences.GAP_REASON_WORDS) == set(GAP_REASONS)
    assert set(sentences.STOP_REASON_WORDS) == set(STOP_REASONS)
    assert set(sentences.VERIFY_CLASSES) == set(CLASSES) - {"warnings"}
    assert set(sentences.DEADLINES) == set(RULES)


def test_no_function_hides_the_catalogue_behind_a_local_underscore() -> None:
    """`_, x = pair` in a function that also says `_("...")` makes `_` a string there: the
    words fail at run time ('str' object is not callable), found only where they are said."""
    hiding = []
    for path in sorted((ROOT / "vault").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            names = [n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id == "_"]
            stores = any(isinstance(n.ctx, ast.Store) for n in names)
            says = any(
                isinstance(c, ast.Call) and isinstance(c.func, ast.Name) and c.func.id == "_"
                for c in ast.walk(node)
            )
            if stores and says:
                hiding.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert not hiding, hiding

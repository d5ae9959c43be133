"""One message catalogue for the words people read (issue 17): gettext catalogues in
vault/locale/<language>/LC_MESSAGES/evault.po, zh_CN by default, en available. Codes stay in
`--json`; sentences for people go through `_()` and `ngettext()`.

Each .po is committed with its compiled .mo (tests/unit/test_i18n.py holds them equal), so
a command reads its words with the standard library's gettext alone; where a .mo is missing
the .po is compiled in memory with Babel. The language is the `language` setting: loading
the settings makes it the process's (`use`), and a paper rendered for another vault's
settings speaks that one's within `speaking(...)`.
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path

DOMAIN = "evault"
LANGUAGES = ("zh_CN", "en")
DEFAULT = "zh_CN"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"

READER_ENV = "EVAULT_LANGUAGE"  # a reader's own language for messages, not for papers

_process_language = DEFAULT
_override: ContextVar[str | None] = ContextVar("evault_language", default=None)


def _known(language: str) -> str:
    if language not in LANGUAGES:
        raise ValueError(f"unknown language {language!r} (known: {', '.join(LANGUAGES)})")
    return language


def use(language: str) -> None:
    """Speak `language` from now on in this process (the settings' `language`)."""
    global _process_language
    _process_language = _known(language)


def reader() -> str | None:
    """The language a person asked for in $EVAULT_LANGUAGE (the CLI's messages and errors;
    the official papers keep the vault's `language`), or None."""
    asked = os.environ.get(READER_ENV, "").strip()
    return asked if asked in LANGUAGES else None


def current() -> str:
    return _override.get() or _process_language


@contextmanager
def speaking(language: str | None) -> Iterator[None]:
    """Within the block (this thread or task only), speak `language`; None: as before (the
    process's language, which loading settings may still change)."""
    if language is None:
        yield
        return
    token = _override.set(_known(language))
    try:
        yield
    finally:
        _override.reset(token)


def po_path(language: str) -> Path:
    return LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@cache
def translation(language: str) -> gettext.GNUTranslations:
    """The catalogue of `language`, loaded once per process."""
    mo = po_path(_known(language)).with_suffix(".mo")
    try:
        with mo.open("rb") as compiled:
            return gettext.GNUTranslations(compiled)
    except FileNotFoundError:
        return gettext.GNUTranslations(io.BytesIO(compile_po(language)))


def compile_po(language: str) -> bytes:
    """The .mo bytes of `language`'s .po, as `pybabel compile` writes them."""
    from babel.messages.mofile import write_mo  # only without a committed .mo
    from babel.messages.pofile import read_po

    with po_path(language).open("rb") as source:
        catalog = read_po(source, locale=language, domain=DOMAIN)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _(message: str) -> str:
    """`message` in the current language."""
    return translation(current()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of `singular`/`plural` for `n` in the current language (zh_CN has one)."""
    return translation(current()).ngettext(singular, plural, n)


def N_(message: str) -> str:  # gettext's name for a message translated later
    """Mark `message` for the catalogue where it is defined; translate it with `_()` later."""
    return message


class Phrase:
    """Words that go into a message (`{suggestion}`), translated when the message is: an
    error's English in its str(), the reader's language in its localized(). `Phrase(N_(
    " (did you mean {names}?)"), names=either(close))`; nested phrases are translated too."""

    def __init__(self, message: str, /, **words: object) -> None:
        self.message, self.words = message, words

    def __str__(self) -> str:
        text = _(self.message)
        return text.format(**self.words) if self.words else text

    def __format__(self, spec: str) -> str:
        return format(str(self), spec)

    def __repr__(self) -> str:
        return f"Phrase({self.message!r})"


class Named(Phrase):
    """A code with a Chinese name (a role, an approval level): the name where the reader
    reads Chinese, the code itself otherwise."""

    def __init__(self, code: str, chinese: str) -> None:
        super().__init__(code)
        self.chinese = chinese

    def __str__(self) -> str:
        return self.chinese if current() == "zh_CN" else self.message


class _Either(Phrase):
    def __init__(self, items: list[object], every: bool = False) -> None:
        super().__init__("")
        self.items, self.every = items, every

    def __str__(self) -> str:
        joiner = _(", ") if self.every else _(" or ")
        return joiner.join(str(item) for item in self.items)


def either(items: Sequence[object]) -> Phrase:
    """A or B ("A或B") in the current language (each item as given, or a Phrase)."""
    return _Either(list(items))


def joined(items: Sequence[object]) -> Phrase:
    """A, B ("A、B") in the current language (each item as given, or a Phrase)."""
    return _Either(list(items), every=True)

"""One exception hierarchy; every message is one a records keeper can act on."""

from __future__ import annotations

from vault.i18n import Phrase, _, speaking


class VaultError(Exception):
    """Base of every error the vault raises on purpose; the CLI prints it without a traceback.

    `VaultError(N_("case {number} is closed"), number=n)`: the message is a catalogue entry
    (vault/locale) with its words apart, so `str(exc)` is the English sentence (logs,
    `--json`, tests) and `localized()` the same sentence in the reader's language. A message
    given as a finished string is both."""

    exit_code = 1

    def __init__(self, message: object = "", /, **words: object) -> None:
        if isinstance(message, Phrase) and message.message:  # a sentence made elsewhere
            words = {**message.words, **words}
            message = message.message
        self.template = str(message)
        self.words = words
        with speaking("en"):  # the English sentence, its Phrase words in English too
            english = self.template.format(**words) if words else self.template
        super().__init__(english)

    def localized(self) -> str:
        """The message in the current language (vault.i18n), English where it has no entry."""
        if not self.template:
            return str(self)
        text = _(self.template)
        return text.format(**self.words) if self.words else text


class ConfigError(VaultError):
    """The configuration file is missing, malformed or holds a bad value."""

    exit_code = 2


class ProfileError(VaultError):
    """A device profile is malformed, or no profile matches a volume."""

    exit_code = 2


class VolumeError(VaultError):
    """A camera volume cannot be read (missing, not a directory, vanished mid-read)."""


class StoreError(VaultError):
    """The WORM store failed or refused an operation."""


class RetentionLocked(StoreError):
    """Delete or shortening refused: the object is under retention or a hold (RT-4)."""


class ObjectMissing(StoreError):
    """The store holds no object under the key a record names."""


class NotFound(VaultError):
    """A record asked for by id does not exist."""


class RetentionRefused(VaultError):
    """A change that would shorten retention, or break a rule about it (RT-4)."""


class Conflict(VaultError):
    """The request contradicts the records (a duplicate number, a closed case, ...)."""


class AccessRefused(VaultError):
    """No principal, role, document or grant allows what was asked (AC-1..AC-9); registered."""

    exit_code = 3


class RegisterTampered(VaultError):
    """The access register's hash chain or signed head does not check out (AC-7)."""

    exit_code = 4


class UsageError(VaultError):
    """An option's value is not one the option takes (README: exit 2, a usage error)."""

    exit_code = 2

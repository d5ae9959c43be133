"""Web accounts, for the console and its tests: the domain is vault.access.accounts (so that
`evault principal password`, an operation of the service, sets them too)."""

from __future__ import annotations

from vault.access import accounts
from vault.context import Vault


def set_password(vault: Vault, principal_name: str, password: str) -> None:
    """Give PRINCIPAL_NAME (staff) a web password (a new account, or unlocked)."""
    accounts.set_password(vault, principal_name, password)


def set_totp(vault: Vault, principal_name: str) -> str:
    """A new TOTP secret for the account; its otpauth:// provisioning URI."""
    uri = accounts.set_totp(vault, principal_name)["uri"]
    assert isinstance(uri, str)
    return uri

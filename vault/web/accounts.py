# STAND-IN (core owns this file)
"""Web passwords (stand-in): a scrypt hash per principal in a JSON file in the home."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path

from vault.context import Vault


def _file(vault: Vault) -> Path:
    return vault.settings.home / "web-standin-passwords.json"


def _hash(password: str, salt: bytes) -> str:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**12, r=8, p=1).hex()


def set_password(vault: Vault, principal_name: str, password: str) -> None:
    path = _file(vault)
    known = json.loads(path.read_text()) if path.exists() else {}
    salt = os.urandom(16)
    known[principal_name] = [salt.hex(), _hash(password, salt)]
    path.write_text(json.dumps(known))


def check_password(vault: Vault, principal_name: str, password: str) -> bool:
    path = _file(vault)
    known = json.loads(path.read_text()) if path.exists() else {}
    if principal_name not in known:
        return False
    salt, digest = known[principal_name]
    return hmac.compare_digest(_hash(password, bytes.fromhex(salt)), digest)

"""The register's signing key and signed head (AC-7).

The Ed25519 private key lives in a file outside the database (mode 0600, readable only by
the vault's service account); the public key sits beside it as `.pub`, and the newest
signed head as `.head`. Someone who can edit the database can recompute every hash of the
chain, but cannot sign: a rewritten, truncated or extended chain no longer matches the
signatures, and deleting signature rows leaves the `.head` file pointing past the end.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vault.config import Settings
from vault.errors import ConfigError
from vault.i18n import N_
from vault.timeutil import iso


def key_path(settings: Settings) -> Path:
    return settings.access.signing_key or settings.home / "register-signing.key"


def public_path(key: Path) -> Path:
    return key.with_name(key.name + ".pub")


def head_path(key: Path) -> Path:
    return key.with_name(key.name + ".head")


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create a file that must not exist yet, durably (O_EXCL: two first uses cannot race)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def load_private_key(path: Path, create: bool) -> Ed25519PrivateKey | None:
    """The signing key; created on first use when allowed; None when this process may not
    read it (the CLI of an ordinary user: the service signs later, `evault access sign`)."""
    if not path.exists():
        if not create or public_path(path).exists():
            # A .pub without its key: the key was lost or moved. Never replace the trusted
            # public key silently; entries stay unsigned and `--verify` says so.
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            _write_new(path, pem, 0o600)
        except FileExistsError:
            return load_private_key(path, create=False)
        public = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new(public_path(path), public, 0o600)  # inside the closed home; copy it out
        return key
    try:
        data = path.read_bytes()
    except PermissionError:
        return None
    loaded = serialization.load_pem_private_key(data, password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise ConfigError(
            N_("{path} is not an {kind} private key ({setting})"),
            path=path,
            kind="Ed25519",
            setting="access.signing_key",
        )
    return loaded


def load_public_key(key: Path) -> Ed25519PublicKey | None:
    """The trusted public key: the .pub file, else derived from a readable private key."""
    pub = public_path(key)
    if pub.exists():
        loaded = serialization.load_pem_public_key(pub.read_bytes())
        if not isinstance(loaded, Ed25519PublicKey):
            raise ConfigError(N_("{path} is not an {kind} public key"), path=pub, kind="Ed25519")
        return loaded
    private = load_private_key(key, create=False)
    return private.public_key() if private else None


def head_message(seq: int, head_hash: str, signed_at: datetime) -> bytes:
    body = {"register": "evault", "seq": seq, "hash": head_hash, "signed_at": iso(signed_at)}
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def signature_ok(
    public: Ed25519PublicKey, seq: int, head_hash: str, signed_at: datetime, signature: str
) -> bool:
    try:
        public.verify(bytes.fromhex(signature), head_message(seq, head_hash, signed_at))
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class SignedHead:
    seq: int
    head_hash: str
    signed_at: datetime
    signature: str

    def to_json(self) -> dict[str, object]:
        return {
            "seq": self.seq,
            "hash": self.head_hash,
            "signed_at": iso(self.signed_at),
            "signature": self.signature,
        }


def read_head(key: Path) -> SignedHead | None:
    path = head_path(key)
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return SignedHead(
        seq=int(data["seq"]),
        head_hash=str(data["hash"]),
        signed_at=datetime.fromisoformat(str(data["signed_at"]).replace("Z", "+00:00")),
        signature=str(data["signature"]),
    )


def write_head(key: Path, head: SignedHead) -> None:
    """Replace the head file atomically, never with an older head."""
    current = read_head(key)
    if current is not None and current.seq >= head.seq:
        return
    path = head_path(key)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(head.to_json(), indent=2) + "\n")
    with tmp.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

"""Security headers and CSRF tokens of the web console.

Every response says: scripts, styles, images, frames and connections from this origin only
(no inline script), no sniffing, no referrer, not framed elsewhere. A request's sealed
document is shown in a frame of the approval page, so that one response may be framed by
this origin (`FRAMED_BY_SELF`).
"""

from __future__ import annotations

import hmac
import secrets

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "media-src 'self'; frame-src 'self'; object-src 'self'; connect-src 'self'; "
    "font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
CSP_FRAMED = CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
FRAMED_BY_SELF = "x-evault-framed"  # a response header an endpoint sets; never sent out


def headers(framed_by_self: bool = False) -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", (CSP_FRAMED if framed_by_self else CSP).encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
        (b"x-frame-options", b"SAMEORIGIN" if framed_by_self else b"DENY"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cache-control", b"no-store"),
    ]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def same(given: str | None, expected: str | None) -> bool:
    """Whether a CSRF token given matches the one expected (in constant time)."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())

"""Signed, expiring links that let a customer fetch one archived document, and nothing else.

Takes the key (``FACTORY_LINK_SECRET``), a document id and a lifetime; gives a URL-safe token
(`itsdangerous`, HMAC-SHA512 over the payload and the moment it was made) that names the
document, a random link id (what an audit entry and a revocation refer to) and the expiry.
`LinkSigner.open` checks the signature first and the expiry second: a changed character is
`LinkInvalid`, an old link `LinkExpired`. The token carries no customer data: only ids and
times. Revocation is the caller's (`factory.api.links` checks the audit log for a
``link.revoke`` of the document or of the link made after it was issued).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from factory.errors import AuthenticationError, ConfigError

SALT = "docfactory.document-link.v1"
MIN_SECRET_CHARS = 32


class LinkInvalid(AuthenticationError):
    """Not a link we signed (tampered, truncated, made with another key)."""


class LinkExpired(LinkInvalid):
    """A link we signed whose lifetime is over."""


@dataclass(frozen=True)
class LinkClaim:
    document_id: str
    link_id: str
    issued_at: float
    expires_at: float


class LinkSigner:
    def __init__(self, secret: str | None) -> None:
        if not secret or len(secret) < MIN_SECRET_CHARS:
            raise ConfigError("customer links need FACTORY_LINK_SECRET: a random secret of at"
                              f" least {MIN_SECRET_CHARS} characters (e.g. `python -c 'import"
                              " secrets; print(secrets.token_urlsafe(48))'`)")
        self._serializer = URLSafeTimedSerializer(secret, salt=SALT,
                                                  signer_kwargs={"digest_method": _sha512})

    def issue(self, document_id: str, days: float, now: float | None = None) -> tuple[str, str]:
        """(token, link id) for ``document_id``, valid ``days`` from now."""
        link_id = secrets.token_hex(8)
        moment = time.time() if now is None else now
        token = self._serializer.dumps({"d": document_id, "l": link_id,
                                        "e": int(moment + days * 86400)})
        return token, link_id

    def open(self, token: str, now: float | None = None) -> LinkClaim:
        if not token or len(token) > 400:
            raise LinkInvalid("this link is not valid")
        try:
            payload, stamp = self._serializer.loads(token, return_timestamp=True)
        except BadSignature:
            raise LinkInvalid("this link is not valid") from None
        if not isinstance(payload, dict) or not {"d", "l", "e"} <= set(payload):
            raise LinkInvalid("this link is not valid")
        moment = time.time() if now is None else now
        if float(payload["e"]) <= moment:
            raise LinkExpired("this link has expired")
        return LinkClaim(str(payload["d"]), str(payload["l"]), stamp.timestamp(),
                         float(payload["e"]))


def _sha512(data: bytes = b"") -> object:
    import hashlib

    return hashlib.sha512(data)

"""API keys: created once, shown once, stored only as a salted HMAC, each with one role.

Takes the index and a role (to create), a presented key (to authenticate) or a key id (to
revoke); gives `KeyInfo` values and, on creation only, the key itself. A key looks like
``dfk_<12 hex key id>_<43 url-safe characters>``: 256 random bits from `secrets`. It is stored
as HMAC-SHA256(per-key salt, secret): a key is random, not a password, so a slow KDF adds
nothing but latency to every request. Comparison is constant-time. The key id (never the key)
is what logs and the audit trail record.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from factory.archive.apikeys import ApiKeyRow
from factory.archive.protocols import HasApiKeys
from factory.compliance.roles import Role
from factory.errors import AuthenticationError, InputError, NotFoundError

_TOKEN = re.compile(r"^dfk_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_KEY_ID = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class KeyInfo:
    key_id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def actor_id(self) -> str:
        return f"key:{self.key_id}"


def _digest(salt: str, secret: str) -> str:
    return hmac.new(bytes.fromhex(salt), secret.encode("ascii"), hashlib.sha256).hexdigest()


def _info(row: ApiKeyRow) -> KeyInfo:
    return KeyInfo(row.key_id, row.name, Role(row.role), row.created_at, row.created_by,
                   row.revoked_at)


def create_key(index: HasApiKeys, role: Role, name: str, created_by: str) -> tuple[KeyInfo, str]:
    """A new key for ``role``: its record and the key itself, which is never stored."""
    name = name.strip()[:128] or role.value
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    info = KeyInfo(key_id, name, role, datetime.now(UTC), created_by[:64])
    index.api_keys.add(ApiKeyRow(
        key_id=key_id, name=info.name, role=role.value, salt=salt,
        key_hash=_digest(salt, secret), created_at=info.created_at,
        created_by=info.created_by))
    return info, f"dfk_{key_id}_{secret}"


def authenticate(index: HasApiKeys, token: str | None) -> KeyInfo:
    """The active key ``token`` is; `AuthenticationError` (never saying why in detail)."""
    match = _TOKEN.match((token or "").strip())
    if not match:
        raise AuthenticationError("a valid API key is required")
    key_id, secret = match.groups()
    row = index.api_keys.get(key_id)
    # Hash even when the id is unknown, so timing does not tell which ids exist.
    salt = row.salt if row is not None else "00" * 16
    expected = row.key_hash if row is not None else "0" * 64
    if not hmac.compare_digest(_digest(salt, secret), expected) or row is None \
            or row.revoked_at is not None:
        raise AuthenticationError("a valid API key is required")
    return _info(row)


def active_key(index: HasApiKeys, key_id: str) -> KeyInfo:
    """The key ``key_id`` if it exists and is not revoked (for sessions made from it)."""
    row = index.api_keys.get(key_id)
    if row is None or row.revoked_at is not None:
        raise AuthenticationError("a valid API key is required")
    return _info(row)


def list_keys(index: HasApiKeys) -> list[KeyInfo]:
    return [_info(row) for row in index.api_keys.all()]


def revoke_key(index: HasApiKeys, key_id: str) -> KeyInfo:
    key_id = key_id.strip().lower()
    if not _KEY_ID.match(key_id):
        raise InputError(f"{key_id[:40]!r} is not a key id (12 hex digits, as `keys list` shows)")
    row = index.api_keys.revoke(key_id)
    if row is None:
        raise NotFoundError(f"no API key {key_id}")
    return _info(row)

"""The ``api_keys`` table: stored key records (salt and HMAC, never a key).

Takes and gives `ApiKeyRow` values (``index.api_keys``); what a key is and how it is checked is
`factory.compliance.keys`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from factory.archive.db import Connections
from factory.archive.rows import _Row
from factory.archive.tables import api_keys


@dataclass(frozen=True, slots=True)
class ApiKeyRow(_Row):
    key_id: str
    name: str
    role: str
    salt: str
    key_hash: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None = None


class ApiKeyRepository:
    def __init__(self, db: Connections) -> None:
        self.db = db

    def add(self, row: ApiKeyRow) -> None:
        with self.db.begin() as conn:
            conn.execute(insert(api_keys).values(**row.as_dict()))

    def get(self, key_id: str) -> ApiKeyRow | None:
        with self.db.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return ApiKeyRow.from_row(row._mapping) if row else None

    def all(self) -> list[ApiKeyRow]:
        with self.db.connect() as conn:
            return [ApiKeyRow.from_row(row._mapping) for row in conn.execute(
                select(api_keys).order_by(api_keys.c.created_at))]

    def revoke(self, key_id: str) -> ApiKeyRow | None:
        """Mark ``key_id`` revoked (once: a second revoke keeps the first time); its row."""
        with self.db.begin() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
            if row is None:
                return None
            if row.revoked_at is None:
                conn.execute(update(api_keys).where(api_keys.c.key_id == key_id)
                             .values(revoked_at=datetime.now(UTC)))
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).one()
        return ApiKeyRow.from_row(row._mapping)

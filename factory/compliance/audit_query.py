"""Search the audit log: by document, by customer (every document of theirs), by actor and by
action, newest first.

Takes the index and an `AuditQuery` (built from untrusted input by `AuditQuery.parse`, which
names the bad value); gives the matching `AuditEntry` values and whether there were more.
Used by ``GET /api/audit`` and the document page's trail. Read-only: the caller audits the
search itself.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from factory.archive.audit import AuditEntry
from factory.archive.protocols import HasAudit
from factory.compliance.query import CUSTOMER, MAX_LIMIT, _shown, document_id
from factory.errors import InputError

ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,3}$")
ACTOR = re.compile(r"^[^\x00-\x1f\x7f]{1,200}$")


@dataclass(frozen=True)
class AuditQuery:
    document: str | None = None
    customer: str | None = None
    actor: str | None = None
    action: str | None = None
    limit: int = 100

    @classmethod
    def parse(cls, *, document: str | None = None, customer: str | None = None,
              actor: str | None = None, action: str | None = None,
              limit: int | None = 100) -> AuditQuery:
        doc = document_id(document) if document else None
        if customer and not CUSTOMER.match(customer):
            raise InputError(f"customer {_shown(customer)} is not a customer id")
        if actor and not ACTOR.match(actor):
            raise InputError(f"actor {_shown(actor)} is not an actor name")
        if action and not ACTION.match(action):
            raise InputError(f"action {_shown(action)} is not an action like archive.get")
        size = int(limit if limit is not None else 100)
        if not 1 <= size <= MAX_LIMIT:
            raise InputError(f"limit {size} must be between 1 and {MAX_LIMIT}")
        return cls(doc, customer or None, actor or None, action or None, size)

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


def search_audit(index: HasAudit, query: AuditQuery) -> tuple[list[AuditEntry], bool]:
    """Entries matching every filter given, newest first, at most ``query.limit``."""
    return index.audit.search(document=query.document, customer=query.customer,
                              actor=query.actor, action=query.action, limit=query.limit)

"""Compliance: find, prove, retrieve, export, hold and purge archived documents; audit it all.

Takes the archive (an index and a store) and who is asking; gives documents, verified bytes,
export bundles, verification reports and re-render proofs, each operation written to a
hash-chained audit log. Also the API keys and the roles that the HTTP API checks.

    query      DocumentQuery and the checks on ids and dates
    documents  search the index, read bytes verified against their SHA-256
    verify     recompute every checksum; missing, altered and orphan objects
    export     zip bundles for auditors, size-checked first, written atomically
    retention  legal hold and release, purge of what is past retention
    rerender   render a document again from its archived inputs and compare the text
    audit      the append-only, hash-chained audit log
    keys       API keys (salted HMAC at rest) and their roles
    roles      what each role may do, and which jobs finance may touch
    service    ComplianceService: the operations above, each one audited
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from factory.compliance.roles import JobPolicy, Permission, Role

if TYPE_CHECKING:
    from factory.compliance.audit import Actor, AuditCheck, AuditEntry, AuditLog
    from factory.compliance.documents import Document
    from factory.compliance.query import DocumentQuery
    from factory.compliance.service import ComplianceService

#: Imported on first use (PEP 562), so that the CLI's start-up (which needs `Role` for its
#: options) does not import SQLAlchemy and the service.
_LAZY = {"Actor": "audit", "AuditCheck": "audit", "AuditEntry": "audit", "AuditLog": "audit",
         "Document": "documents", "DocumentQuery": "query", "ComplianceService": "service"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"factory.compliance.{module}"), name)
    globals()[name] = value
    return value


__all__ = ["Actor", "AuditCheck", "AuditEntry", "AuditLog", "ComplianceService", "Document",
           "DocumentQuery", "JobPolicy", "Permission", "Role"]

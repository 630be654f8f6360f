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

from factory.compliance.audit import Actor, AuditCheck, AuditEntry, AuditLog
from factory.compliance.documents import Document
from factory.compliance.query import DocumentQuery
from factory.compliance.roles import JobPolicy, Permission, Role
from factory.compliance.service import ComplianceService

__all__ = ["Actor", "AuditCheck", "AuditEntry", "AuditLog", "ComplianceService", "Document",
           "DocumentQuery", "JobPolicy", "Permission", "Role"]

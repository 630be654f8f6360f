"""Who may do what: three roles, their permissions, and which jobs finance may touch.

Takes a role and a permission (and, for runs, a job's document type); gives yes or no.
Permissions are fixed per role; the jobs finance may start and watch are those whose
``document_type`` is in a configurable set (``finance_document_types``, default ``invoice``).

| role        | runs: read        | runs: start       | archive: search, get, export, hold |
| ----------- | ----------------- | ----------------- | ---------------------------------- |
| operations  | every job         | every job         | no                                 |
| finance     | finance jobs only | finance jobs only | no                                 |
| compliance  | every job         | no                | yes                                |
| service     | every job         | no                | no                                 |
| agent       | no                | no                | no                                 |

Rendering one document on demand (``documents:render``, `factory.ondemand`) is for operations
and the ``service`` role (a customer-service desk or another system calling the API).
Writing an interactive letter (``letters:write``, `factory.ondemand.letters`) is for the
``agent`` role; approving another person's letter (``letters:approve``, four eyes) for agents
and operations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from factory.errors import InputError, PermissionDeniedError


class Role(StrEnum):
    OPERATIONS = "operations"
    FINANCE = "finance"
    COMPLIANCE = "compliance"
    SERVICE = "service"
    AGENT = "agent"

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls(str(text).strip().lower())
        except ValueError:
            known = ", ".join(role.value for role in cls)
            raise InputError(f"role {text!r} is not one of: {known}") from None


class Permission(StrEnum):
    RUNS_READ = "runs:read"
    RUNS_START = "runs:start"
    ARCHIVE_SEARCH = "archive:search"
    ARCHIVE_GET = "archive:get"
    ARCHIVE_EXPORT = "archive:export"
    ARCHIVE_HOLD = "archive:hold"
    AUDIT_READ = "audit:read"
    DOCUMENTS_RENDER = "documents:render"
    LETTERS_WRITE = "letters:write"
    LETTERS_APPROVE = "letters:approve"


PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.OPERATIONS: frozenset({Permission.RUNS_READ, Permission.RUNS_START,
                                Permission.DOCUMENTS_RENDER, Permission.LETTERS_APPROVE}),
    Role.FINANCE: frozenset({Permission.RUNS_READ, Permission.RUNS_START}),
    Role.COMPLIANCE: frozenset({Permission.RUNS_READ, Permission.ARCHIVE_SEARCH,
                                Permission.ARCHIVE_GET, Permission.ARCHIVE_EXPORT,
                                Permission.ARCHIVE_HOLD, Permission.AUDIT_READ}),
    Role.SERVICE: frozenset({Permission.RUNS_READ, Permission.DOCUMENTS_RENDER}),
    Role.AGENT: frozenset({Permission.LETTERS_WRITE, Permission.LETTERS_APPROVE}),
}


def allows(role: Role, permission: Permission) -> bool:
    return permission in PERMISSIONS[role]


def check(role: Role, permission: Permission) -> None:
    if not allows(role, permission):
        raise PermissionDeniedError(f"the {role.value} role may not {_verb(permission)}")


def _verb(permission: Permission) -> str:
    return {
        Permission.RUNS_READ: "read runs",
        Permission.RUNS_START: "start runs",
        Permission.ARCHIVE_SEARCH: "search the archive",
        Permission.ARCHIVE_GET: "retrieve archived documents",
        Permission.ARCHIVE_EXPORT: "export archived documents",
        Permission.ARCHIVE_HOLD: "place or release legal holds",
        Permission.AUDIT_READ: "read the audit log",
        Permission.DOCUMENTS_RENDER: "render documents on demand",
        Permission.LETTERS_WRITE: "write letters",
        Permission.LETTERS_APPROVE: "approve letters",
    }[permission]


@dataclass(frozen=True)
class JobPolicy:
    """Which jobs each role may start and watch, by the job's document type."""

    finance_document_types: frozenset[str] = frozenset({"invoice"})

    @classmethod
    def of(cls, document_types: Iterable[str]) -> JobPolicy:
        return cls(frozenset(document_types))

    def may_use_job(self, role: Role, document_type: str | None) -> bool:
        """``document_type`` None means the job is unknown (no job file): finance may not."""
        if role is Role.FINANCE:
            return document_type is not None and document_type in self.finance_document_types
        return True

    def check_job(self, role: Role, job: str, document_type: str | None) -> None:
        if not self.may_use_job(role, document_type):
            allowed = ", ".join(sorted(self.finance_document_types)) or "none"
            kind = f"a {document_type} job" if document_type else "not a known job"
            raise PermissionDeniedError(f"the {role.value} role may use only jobs of document"
                                        f" type {allowed}; {job} is {kind}")

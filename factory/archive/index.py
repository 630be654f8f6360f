"""The archive index: the composition root of the archive's repositories.

Takes a SQLAlchemy URL (``sqlite:///var/index.db`` by default, ``postgresql://...`` on a
cluster); gives `SqlIndex`, which owns the engine (`factory.archive.db`) and the schema
(Alembic migrations), and exposes one repository per group of tables, each the only module
that writes them:

- ``index.documents`` (`DocumentRepository`): archived rows, revisions, withdrawals;
- ``index.claims`` (`ClaimRepository`): the claim protocol and its fencing (see
  `factory.archive.claims` for the protocol, epochs and `FencedError`);
- ``index.runs`` (`RunRepository`): runs, their heartbeat and epochs;
- ``index.deliveries`` (`DeliveryRepository`): sends and print hand-overs;
- ``index.numbering`` (`NumberingRepository`): gapless invoice numbers;
- ``index.templates`` (`TemplateRepository`): template-set versions and approvals;
- ``index.audit`` (`AuditRepository`): the hash-chained audit log;
- ``index.search``, ``index.holds``, ``index.api_keys``: compliance's searches, legal holds
  and the retention purge, and API key records;
- ``index.letters`` (`LetterRepository`): interactive letters and their four-eyes review.

Consumers reach the tables through these repositories only, and declare the narrow protocol
they use (`factory.archive.protocols`); `SqlIndex` itself only opens, migrates and closes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from factory.archive.apikeys import ApiKeyRepository
from factory.archive.audit import AuditRepository
from factory.archive.claims import DEFAULT_LEASE, ClaimRepository
from factory.archive.db import Database, Translated, now, short
from factory.archive.db import translate as _translate
from factory.archive.deliveries import DeliveryRepository
from factory.archive.documents import DocumentRepository
from factory.archive.holds import HoldRepository
from factory.archive.letters import LetterRepository
from factory.archive.numbering import NumberingRepository
from factory.archive.rows import (
    Claim,
    ClaimBusy,
    RunConflict,
    Slot,
    Supersession,
    attempt_name,
    entry_from_row,
)
from factory.archive.runs import RunRepository, run_owner
from factory.archive.schema_head import current_revision, head_revision
from factory.archive.search import DocumentSearch
from factory.archive.templates import TemplateRepository
from factory.errors import ArchiveError

MIGRATIONS = Path(__file__).parent / "migrations"


class SqlIndex:
    """The index in any database SQLAlchemy supports."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        self.db = Database(url)
        self.safe_url = self.db.safe_url
        self.engine = self.db.engine
        self.documents = DocumentRepository(self.db)
        self.claims = ClaimRepository(self.db)
        self.runs = RunRepository(self.db)
        self.deliveries = DeliveryRepository(self.db)
        self.numbering = NumberingRepository(self.db)
        self.templates = TemplateRepository(self.db)
        self.audit = AuditRepository(self.db)
        self.search = DocumentSearch(self.db)
        self.holds = HoldRepository(self.db)
        self.api_keys = ApiKeyRepository(self.db)
        self.letters = LetterRepository(self.db)
        if migrate:
            self.migrate()
        else:
            self.check_schema()

    # -- schema ----------------------------------------------------------------------------

    def _alembic(self, connection: Connection | None) -> Config:
        from alembic.config import Config  # imported only when the schema is not at the head

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to call from many processes)."""
        if self._at_head():
            return  # nothing to do: no Alembic import, no advisory lock
        from alembic import command

        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261001)")
                command.upgrade(self._alembic(connection), "head")
        except SQLAlchemyError as exc:
            raise ArchiveError(f"index {self.safe_url}: migration failed: {short(exc)}") from None

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: not created yet)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.safe_url) from None

    def _at_head(self) -> bool:
        """The schema is at the newest revision, read without importing Alembic
        (`factory.archive.schema_head`; None from it means "ask Alembic")."""
        head = head_revision(MIGRATIONS)
        return head is not None and current_revision(self.db.engine) == head

    def check_schema(self) -> None:
        if self._at_head():
            return
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self._alembic(None)).get_current_head()
        current = self.schema_revision()
        if current != head:
            raise ArchiveError(
                f"index {self.safe_url} is at schema revision {current}, this code needs {head};"
                " run `docfactory index upgrade`")

    def close(self) -> None:
        self.db.dispose()

    def connect(self) -> Translated:
        """A connection for reads (tests and migrations tooling; repositories own the SQL)."""
        return self.db.connect()

    def begin(self) -> Translated:
        """A connection in a transaction (see `connect`)."""
        return self.db.begin()


if TYPE_CHECKING:
    from alembic.config import Config

if TYPE_CHECKING:  # mypy proves SqlIndex and its repositories offer every narrow view
    from factory.archive import protocols as p

    def _views(index: SqlIndex) -> tuple[
            p.ArchiveView, p.HasApiKeys, p.HasAudit, p.HasSearch, p.HasDocuments, p.HasClaims,
            p.HasRuns, p.HasDeliveries, p.Documents, p.ClaimStore, p.RunLog, p.DeliveryLog,
            p.Numbering, p.TemplateVersions]:
        return (index, index, index, index, index, index, index, index, index.documents,
                index.claims, index.runs, index.deliveries, index.numbering, index.templates)


def open_index(url: str, *, migrate: bool = True) -> SqlIndex:
    """The index at ``url``; ``migrate`` brings its schema up to date first."""
    return SqlIndex(url, migrate=migrate)


__all__ = [
    "DEFAULT_LEASE",
    "Claim",
    "ClaimBusy",
    "RunConflict",
    "Slot",
    "SqlIndex",
    "Supersession",
    "attempt_name",
    "entry_from_row",
    "now",
    "open_index",
    "run_owner",
]

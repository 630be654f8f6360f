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

Consumers should depend on the narrow protocol they need (`factory.archive.protocols`). The
methods of `SqlIndex` below the repositories are a facade kept while callers move.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from factory.archive.apikeys import ApiKeyRepository
from factory.archive.audit import Actor, AuditRepository
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
from factory.models import ArchiveEntry, DeliveryStatus

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

    # -- facade: kept while callers move (use the repositories above in new code) ----------

    def find(self, slot: Slot) -> ArchiveEntry | None:
        return self.documents.find(slot)

    def revisions(self, slot: Slot) -> list[ArchiveEntry]:
        return self.documents.revisions(slot)

    def get(self, document_id: str) -> ArchiveEntry | None:
        return self.documents.get(document_id)

    def entries(self, *, revisions: bool = False, **filters: Any) -> Iterator[ArchiveEntry]:
        return self.documents.entries(revisions=revisions, **filters)

    def existing_keys(self, job: str, period: str, channel: str, document_type: str,
                      keys: list[str]) -> set[str]:
        return self.documents.existing_keys(job, period, channel, document_type, keys)

    def count(self, job: str, period: str) -> int:
        return self.documents.count(job, period)

    def run_totals(self, run_id: str, channel: str) -> tuple[int, int, int]:
        return self.documents.run_totals(run_id, channel)

    def withdraw(self, slot: Slot, actor: Actor, reason: str) -> ArchiveEntry | None:
        return self.documents.withdraw(slot, actor, reason)

    def claim(self, slot: Slot, run_id: str, lease: timedelta = DEFAULT_LEASE,
              holder: str | None = None) -> Claim:
        return self.claims.claim(slot, run_id, lease, holder)

    def complete(self, claim: Claim, entry: ArchiveEntry,
                 delivery: Mapping[str, Any] | None = None,
                 supersede: Supersession | None = None) -> ArchiveEntry | None:
        return self.claims.complete(claim, entry, delivery, supersede)

    def complete_numbered(self, claim: Claim, series: str,
                          build: Callable[[int], tuple[ArchiveEntry, Any]]
                          ) -> tuple[None, tuple[ArchiveEntry, Any]]:
        return self.claims.complete_numbered(claim, series, build)

    def release(self, claim: Claim) -> None:
        self.claims.release(claim)

    def release_held_by(self, run_id: str, holder: str) -> int:
        return self.claims.release_held_by(run_id, holder)

    def claims_held(self, run_id: str | None = None) -> int:
        return self.claims.held(run_id)

    def numbers(self, series: str) -> list[tuple[int, str, str]]:
        return list(self.numbering.numbers(series))

    def next_number(self, series: str) -> int:
        return self.numbering.next_number(series)

    def remember_template_version(self, version: str, template_set: str, brand: str,
                                  storage_key: str) -> bool:
        return self.templates.remember(version, template_set, brand, storage_key)

    def template_version(self, version: str) -> dict[str, Any] | None:
        row = self.templates.get(version)
        return row.as_dict() if row else None

    def start_run(self, run_id: str, job: str, period: str, *, executor: str, workers: int,
                  template_version: str, dry_run: bool, owner: str = "",
                  stale_after: timedelta = timedelta(minutes=5), actor: str = "",
                  reason: str | None = None) -> int:
        return self.runs.start_run(run_id, job, period, executor=executor, workers=workers,
                                   template_version=template_version, dry_run=dry_run,
                                   owner=owner, stale_after=stale_after, actor=actor,
                                   reason=reason)

    def live_run(self, job: str, period: str,
                 stale_after: timedelta = timedelta(minutes=5)) -> dict[str, Any] | None:
        row = self.runs.live_run(job, period, stale_after)
        return row.as_dict() if row else None

    def heartbeat(self, run_id: str, report: Mapping[str, Any] | None = None) -> None:
        self.runs.heartbeat(run_id, report)

    def finish_run(self, run_id: str, status: str, report: Mapping[str, Any]) -> None:
        self.runs.finish_run(run_id, status, report)

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.runs.get(run_id)
        return row.as_dict() if row else None

    def list_runs(self, job: str | Sequence[str] | None = None,
                  limit: int = 20) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.runs.recent(job, limit)]

    def delivery(self, key: str) -> dict[str, Any] | None:
        row = self.deliveries.get(key)
        return row.as_dict() if row else None

    def deliveries_of(self, **filters: Any) -> list[dict[str, Any]]:
        return [row.as_dict() for row in self.deliveries.where(**filters)]

    def begin_delivery(self, claim: Claim, key: str, *, document_id: str, storage_key: str,
                       recipient: str, transport: str) -> int:
        return self.deliveries.begin(claim, key, document_id=document_id,
                                     storage_key=storage_key, recipient=recipient,
                                     transport=transport)

    def finish_delivery(self, key: str, status: DeliveryStatus, *, reason: str | None = None,
                        message_id: str | None = None) -> None:
        self.deliveries.finish(key, status, reason=reason, message_id=message_id)

    def queue_print(self, slot: Slot, key: str, *, run_id: str, document_id: str,
                    storage_key: str, recipient: str) -> bool:
        return self.deliveries.queue_print(slot, key, run_id=run_id, document_id=document_id,
                                           storage_key=storage_key, recipient=recipient)

    def existing_deliveries(self, job: str, period: str, channel: str, document_type: str,
                            keys: list[str], statuses: tuple[str, ...]) -> set[str]:
        return self.deliveries.existing(job, period, channel, document_type, keys, statuses)


if TYPE_CHECKING:
    from alembic.config import Config

if TYPE_CHECKING:  # mypy proves SqlIndex and its repositories offer every narrow view
    from factory.archive import protocols as p

    def _views(index: SqlIndex) -> tuple[p.ArchiveView, p.HasApiKeys, p.HasAudit, p.HasSearch,
                                         p.ClaimStore, p.RunLog, p.DeliveryLog, p.Numbering]:
        return (index, index, index, index, index.claims, index.runs, index.deliveries,
                index.numbering)


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

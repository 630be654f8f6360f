"""The archive index: what was archived, by which run, and which records are in progress.

Takes a SQLAlchemy URL (``sqlite:///var/index.db`` by default, ``postgresql://...`` on a
cluster); gives `SqlIndex`, which records documents and runs and answers lookups. The
idempotency protocol for one record is::

    existing = index.find(slot)          # archived already? then skip (unless --force)
    claim = index.claim(slot, run_id, holder=task_id)   # before any work: take the slot
    ... render, store.put(attempt_key) ... # a name unique to this attempt (`claim.attempt`)
    index.complete(claim, entry)         # one transaction: claim checked, row in, claim out

A crash anywhere leaves either nothing, or a claim that the next attempt takes over, and at
worst objects under a dead attempt's name that no row points to; never two documents, never
bytes written over a document's. A claim held by a live worker of the same run makes `claim`
raise `ClaimBusy` (retryable) for ``lease`` (`DEFAULT_LEASE`); a stale claim, or one whose
``holder`` is the same unit of work (a Celery task redelivered after its worker died: same task
id) is taken over at once. Executors keep a task's time limit under the lease, so a live
worker's claim never goes stale.

Fencing: every run of a job and period gets an ``epoch`` one higher than the last (`start_run`,
under a lock), and its claims carry it. A claim of an older run is taken over at once; a run
that is no longer "running" (a newer run declared it abandoned), or that meets a claim of a
newer run, gets `FencedError`: it stops that record without writing, and neither run counts the
record failed. `complete` checks the claim in the transaction that inserts the row, so a stale
attempt can never make its bytes the document.

Revisions: rows are never deleted here (only the retention purge deletes). Completing a slot
that already has a current row (a forced re-render, a rebuilt print file) inserts revision N+1
and marks N superseded by it, with who and why (`Supersession`), and appends one audit entry
``document.supersede`` in the same transaction. Database errors are translated to
`ArchiveError` (retryable when transient). ``postgresql://`` URLs use the psycopg 3 driver.

Numbered documents (invoices) use ``complete_numbered`` instead of the render-then-complete
pair: the next number of the series is read with the series row locked, the document is
rendered and stored *inside* that transaction, and the document row, the number's row and the
incremented sequence commit together. A render or store failure, a crash or a lost claim rolls
the transaction back, so no number is ever used up without an archived document (no gaps), and
the lock plus the primary key (series, number) make a duplicate impossible. The price: documents
of one series are rendered one at a time (on SQLite, one index writer at a time).
"""

from __future__ import annotations

import json
import os
import secrets
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, delete, event, func, insert, select, text, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from factory.archive.audit import Actor, append_entry
from factory.archive.deliveries import DeliveryLog, sent_values
from factory.archive.schema_head import current_revision, head_revision
from factory.archive.tables import (
    SLOT,
    claims,
    deliveries,
    document_numbers,
    documents,
    runs,
    sequences,
    template_versions,
)
from factory.errors import (
    ArchiveError,
    ConfigError,
    FencedError,
    LegalHoldError,
    NoSpaceError,
    RetryableArchiveError,
    is_no_space,
)
from factory.models import ArchiveEntry
from factory.urls import mask_url

MIGRATIONS = Path(__file__).parent / "migrations"

#: How long a claim of a live worker blocks other workers of the same run.
DEFAULT_LEASE = timedelta(minutes=15)

#: Bare dialect names mapped to the driver installed with the `postgres` extra.
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg"}


@dataclass(frozen=True, slots=True)
class Slot:
    """The identity of one document: at most one archived row per slot."""

    job: str
    period: str
    record_key: str
    channel: str
    document_type: str

    def where(self, table: Any) -> Any:
        return and_(*(table.c[name] == getattr(self, name) for name in SLOT))

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in SLOT}

    def current(self, table: Any) -> Any:
        """The slot's current (not superseded) document row."""
        return and_(self.where(table), table.c.superseded_at.is_(None))


@dataclass(frozen=True, slots=True)
class Claim:
    slot: Slot
    run_id: str
    token: str
    existing: ArchiveEntry | None
    existing_held: bool = False
    epoch: int = 0
    #: The attempt name of the claim this one took over (a dead or stale attempt), if any:
    #: its objects can never become a document now, so the new holder may remove them.
    taken_from: str | None = None

    @property
    def attempt(self) -> str:
        """A name unique to this attempt, for the objects it writes (see `document_key`)."""
        return attempt_name(self.token)


@dataclass(frozen=True, slots=True)
class Supersession:
    """Who replaces a slot's current document with a new revision, and why."""

    actor: Actor
    reason: str


class ClaimBusy(RetryableArchiveError):
    """Another live worker of the same run holds this record."""


class RunConflict(ConfigError):
    """Another run of the same job and period is still running."""


def now() -> datetime:
    return datetime.now(UTC)


class SqlIndex(DeliveryLog):
    """The index in any database SQLAlchemy supports (deliveries: see `DeliveryLog`)."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        try:
            parsed = make_url(url)
            if parsed.drivername in _DRIVERS:
                parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
        except ArgumentError:
            raise ConfigError(f"index URL {mask_url(url)!r} is not a database URL") from None
        self.safe_url = mask_url(parsed.render_as_string(hide_password=False))
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 60}
        try:
            self.engine: Engine = create_engine(parsed, **kwargs)
        except (ArgumentError, ImportError) as exc:
            raise ConfigError(f"index {self.safe_url}: {exc}") from None
        if parsed.get_backend_name() == "sqlite":
            # pysqlite's own transaction handling breaks SAVEPOINT and lets two writers
            # deadlock; SQLAlchemy's documented recipe: autocommit driver, explicit BEGIN.
            event.listen(self.engine, "connect", _sqlite_pragmas)
            event.listen(self.engine, "begin", _sqlite_begin)
        if migrate:
            self.migrate()
        else:
            self.check_schema()

    # -- schema ----------------------------------------------------------------------------

    def _alembic(self, connection: Connection) -> Any:
        from alembic.config import Config  # imported only when the schema is not at the head

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to call from many processes)."""
        head = head_revision(MIGRATIONS)
        if head is not None and current_revision(self.engine) == head:
            return  # nothing to do: no Alembic import, no advisory lock
        from alembic import command

        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261001)")
                command.upgrade(self._alembic(connection), "head")
        except SQLAlchemyError as exc:
            raise ArchiveError(f"index {self.safe_url}: migration failed: {_short(exc)}") from None

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: not created yet)."""
        from alembic.runtime.migration import MigrationContext

        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.safe_url) from None

    def check_schema(self) -> None:
        head = head_revision(MIGRATIONS)
        if head is not None and current_revision(self.engine) == head:
            return
        from alembic.script import ScriptDirectory

        head = ScriptDirectory.from_config(self._alembic(None)).get_current_head()  # type: ignore[arg-type]
        current = self.schema_revision()
        if current != head:
            raise ArchiveError(
                f"index {self.safe_url} is at schema revision {current}, this code needs {head};"
                " run `docfactory index upgrade`")

    def close(self) -> None:
        self.engine.dispose()

    # -- documents -------------------------------------------------------------------------

    def find(self, slot: Slot) -> ArchiveEntry | None:
        with self.connect() as connection:
            row = connection.execute(select(documents).where(slot.current(documents))).first()
        return entry_from_row(row._mapping) if row else None

    def revisions(self, slot: Slot) -> list[ArchiveEntry]:
        """Every revision of ``slot``, oldest first (superseded ones included)."""
        with self.connect() as connection:
            rows = connection.execute(select(documents).where(slot.where(documents))
                                      .order_by(documents.c.revision))
            return [entry_from_row(row._mapping) for row in rows]

    def get(self, document_id: str) -> ArchiveEntry | None:
        with self.connect() as connection:
            row = connection.execute(
                select(documents).where(documents.c.document_id == document_id)).first()
        return entry_from_row(row._mapping) if row else None

    def entries(self, *, revisions: bool = False, **filters: Any) -> Iterator[ArchiveEntry]:
        """Current archived entries matching column equality filters, oldest first; with
        ``revisions``, superseded ones too."""
        query = select(documents).order_by(documents.c.created_at, documents.c.document_id)
        if not revisions:
            query = query.where(documents.c.superseded_at.is_(None))
        for name, value in filters.items():
            if value is not None:
                query = query.where(documents.c[name] == value)
        with self.connect() as connection:
            for row in connection.execute(query):
                yield entry_from_row(row._mapping)

    def existing_keys(self, job: str, period: str, channel: str, document_type: str,
                      keys: list[str]) -> set[str]:
        """Which of ``keys`` already have an archived document in this slot family."""
        if not keys:
            return set()
        with self.connect() as connection:
            rows = connection.execute(select(documents.c.record_key).where(
                documents.c.job == job, documents.c.period == period,
                documents.c.channel == channel, documents.c.document_type == document_type,
                documents.c.record_key.in_(keys), documents.c.superseded_at.is_(None)))
            return {row[0] for row in rows}

    def count(self, job: str, period: str) -> int:
        with self.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(documents).where(
                    documents.c.job == job, documents.c.period == period,
                    documents.c.superseded_at.is_(None))).scalar_one())

    def run_totals(self, run_id: str, channel: str) -> tuple[int, int, int]:
        """(documents, pages, bytes) that run ``run_id`` indexed on ``channel``."""
        with self.connect() as connection:
            row = connection.execute(select(
                func.count(), func.coalesce(func.sum(documents.c.page_count), 0),
                func.coalesce(func.sum(documents.c.byte_size), 0)).where(
                    documents.c.run_id == run_id, documents.c.channel == channel)).one()
        return int(row[0]), int(row[1]), int(row[2])

    def claim(self, slot: Slot, run_id: str, lease: timedelta = DEFAULT_LEASE,
              holder: str | None = None) -> Claim:
        """Take ``slot`` for ``run_id``; raise `ClaimBusy` if a live worker of it holds it,
        `FencedError` if the run is no longer live or a newer run holds the slot.

        ``holder`` names the unit of work (a Celery task id): a claim left by the same holder
        is taken over at once, because the only way to meet it is a redelivery of that unit
        after its worker died (or a duplicate delivery, which the claim token then defeats).
        A run id that `start_run` never registered (a unit test's) claims with epoch 0.
        """
        token = secrets.token_hex(16)
        moment = now()
        taken_from = None
        with self.begin() as connection:
            epoch = self._live_epoch(connection, run_id, slot)
            held = connection.execute(
                select(claims).where(slot.where(claims)).with_for_update()).first()
            if held is None:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(claims).values(
                            **slot.values(), run_id=run_id, token=token, claimed_at=moment,
                            holder=holder, epoch=epoch))
                except IntegrityError:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now") \
                        from None
            else:
                if held.run_id != run_id and held.epoch > epoch:
                    raise FencedError(f"{slot.record_key}: run {held.run_id} (newer) holds this"
                                      f" record; run {run_id} leaves it to that run")
                stale = held.claimed_at + lease < moment
                same_work = holder is not None and held.holder == holder
                if held.run_id == run_id and not stale and not same_work:
                    raise ClaimBusy(f"{slot.record_key}: being processed by another worker"
                                    f" since {held.claimed_at:%H:%M:%S}")
                taken = connection.execute(
                    update(claims).where(slot.where(claims), claims.c.token == held.token)
                    .values(run_id=run_id, token=token, claimed_at=moment, holder=holder,
                            epoch=epoch)
                ).rowcount
                if taken != 1:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now")
                taken_from = attempt_name(held.token)
            row = connection.execute(select(documents).where(slot.current(documents))).first()
        return Claim(slot, run_id, token, entry_from_row(row._mapping) if row else None,
                     bool(row.legal_hold) if row else False, epoch, taken_from)

    @staticmethod
    def _live_epoch(connection: Connection, run_id: str, slot: Slot) -> int:
        """The epoch of ``run_id``, if it may still claim work; `FencedError` otherwise."""
        run = connection.execute(select(runs.c.status, runs.c.epoch, runs.c.job,
                                        runs.c.period).where(runs.c.run_id == run_id)).first()
        if run is None:
            return 0
        if run.status != "running":
            raise FencedError(f"{slot.record_key}: run {run_id} is {run.status}, no longer live"
                              f" (a newer run of {run.job} {run.period} took over); this"
                              " attempt stops without writing")
        return int(run.epoch)

    def complete(self, claim: Claim, entry: ArchiveEntry,
                 delivery: Mapping[str, Any] | None = None,
                 supersede: Supersession | None = None) -> ArchiveEntry | None:
        """Insert the document row and drop the claim atomically; return the revision that
        it superseded (or None), marked superseded by ``entry`` with ``supersede``'s who/why.

        With ``delivery`` (``key`` and the transport's ``message_id``), the same transaction
        marks that send "sent"."""
        with self.begin() as connection:
            self._check_claim(connection, claim)
            old = self._add_revision(connection, claim, entry, supersede)
            if delivery is not None:
                connection.execute(update(deliveries).where(
                    deliveries.c.delivery_key == delivery["key"]).values(**sent_values(delivery)))
            return old

    @staticmethod
    def _check_claim(connection: Connection, claim: Claim) -> None:
        held = connection.execute(select(claims.c.token, claims.c.run_id).where(
            claim.slot.where(claims)).with_for_update()).first()
        if held is not None and held.token == claim.token:
            return
        if held is not None and held.run_id != claim.run_id:
            raise FencedError(f"{claim.slot.record_key}: the claim was taken over by run"
                              f" {held.run_id}; run {claim.run_id}'s attempt is discarded"
                              " unwritten")
        raise ArchiveError(f"{claim.slot.record_key}: the claim was taken over by"
                           " another worker; this attempt's result is discarded")

    @staticmethod
    def _add_revision(connection: Connection, claim: Claim, entry: ArchiveEntry,
                      supersede: Supersession | None) -> ArchiveEntry | None:
        """Document row in (the slot's current row, if any, marked superseded by it), claim
        out, one audit entry per supersession; return the superseded row."""
        old = connection.execute(select(documents).where(claim.slot.current(documents))
                                 ).first()
        if old is not None and old.legal_hold:
            raise LegalHoldError(f"document {old.document_id} is on legal hold: no revision"
                                 " can take its place until it is released")
        moment = now()
        if old is not None:
            who = supersede or Supersession(Actor("system", "system"), "")
            connection.execute(update(documents).where(
                documents.c.document_id == old.document_id).values(
                superseded_at=moment, superseded_by=entry.document_id,
                superseded_actor=who.actor.id[:64], supersede_reason=who.reason))
            append_entry(connection, who.actor, "document.supersede",
                         document_id=old.document_id, run_id=entry.run_id,
                         details={"superseded_by": entry.document_id,
                                  "revision": entry.revision, "reason": who.reason})
        connection.execute(insert(documents).values(**_row(entry)))
        connection.execute(delete(claims).where(claim.slot.where(claims),
                                                claims.c.token == claim.token))
        return entry_from_row(old._mapping) if old is not None else None

    def complete_numbered(self, claim: Claim, series: str,
                          build: Callable[[int], tuple[ArchiveEntry, Any]]
                          ) -> tuple[None, tuple[ArchiveEntry, Any]]:
        """Assign the next gapless number of ``series`` and archive in one transaction.

        ``build(number)`` renders and stores the document and returns (entry, anything); it
        runs with the series locked. A slot that has a number already is refused: an issued
        number is never rendered again (a correction is a credit note, with its own number).
        Returns None (nothing is ever superseded) and what ``build`` returned.
        """
        slot = claim.slot
        number_slot = and_(document_numbers.c.job == slot.job,
                           document_numbers.c.period == slot.period,
                           document_numbers.c.record_key == slot.record_key,
                           document_numbers.c.document_type == slot.document_type)
        with self.begin() as connection:
            self._check_claim(connection, claim)
            kept = connection.execute(select(document_numbers.c.series,
                                             document_numbers.c.number,
                                             document_numbers.c.document_id)
                                      .where(number_slot)).first()
            if kept is not None:
                raise ArchiveError(f"{slot.record_key}: number {kept.number} of series"
                                   f" {kept.series} was issued (document {kept.document_id});"
                                   " it is never rendered again: issue a credit note instead")
            number = self._lock_sequence(connection, series)
            built = build(number)
            self._check_claim(connection, claim)
            connection.execute(insert(document_numbers).values(
                series=series, number=number, job=slot.job, period=slot.period,
                record_key=slot.record_key, document_type=slot.document_type,
                document_id=built[0].document_id, assigned_at=now()))
            connection.execute(update(sequences).where(sequences.c.series == series)
                               .values(next_number=number + 1, updated_at=now()))
            self._add_revision(connection, claim, built[0], None)
        return None, built

    @staticmethod
    def _lock_sequence(connection: Connection, series: str) -> int:
        """The next number of ``series``, with its row locked until the transaction ends."""
        query = select(sequences.c.next_number).where(sequences.c.series == series) \
            .with_for_update()
        found = connection.execute(query).scalar_one_or_none()
        if found is None:
            try:
                with connection.begin_nested():
                    connection.execute(insert(sequences).values(
                        series=series, next_number=1, updated_at=now()))
            except IntegrityError:
                pass  # created by another worker meanwhile; lock theirs
            found = connection.execute(query).scalar_one()
        return int(found)

    def numbers(self, series: str) -> list[tuple[int, str, str]]:
        """(number, record key, document id) of every number assigned in ``series``."""
        with self.connect() as connection:
            rows = connection.execute(select(
                document_numbers.c.number, document_numbers.c.record_key,
                document_numbers.c.document_id).where(document_numbers.c.series == series)
                .order_by(document_numbers.c.number))
            return [(int(r.number), r.record_key, r.document_id) for r in rows]

    def next_number(self, series: str) -> int:
        with self.connect() as connection:
            found = connection.execute(select(sequences.c.next_number).where(
                sequences.c.series == series)).scalar_one_or_none()
        return int(found) if found is not None else 1

    def withdraw(self, slot: Slot, actor: Actor, reason: str) -> ArchiveEntry | None:
        """Mark the current row of ``slot`` superseded with no successor (a print file of a
        batch that no longer exists); its row and objects stay until retention. One audit
        entry ``document.withdraw``; return the row, or None."""
        with self.begin() as connection:
            row = connection.execute(select(documents).where(slot.current(documents))).first()
            if row is None:
                return None
            connection.execute(update(documents).where(
                documents.c.document_id == row.document_id).values(
                superseded_at=now(), superseded_actor=actor.id[:64], supersede_reason=reason))
            append_entry(connection, actor, "document.withdraw", document_id=row.document_id,
                         details={"reason": reason})
        return entry_from_row(row._mapping)

    def release(self, claim: Claim) -> None:
        """Give a slot back after a failure, so a later attempt starts clean."""
        with self.begin() as connection:
            connection.execute(delete(claims).where(claim.slot.where(claims),
                                                    claims.c.token == claim.token))

    def release_held_by(self, run_id: str, holder: str) -> int:
        """Drop every claim ``holder`` (a unit of work cut off mid-record) holds for ``run_id``;
        return how many. Only its own unit of work may call this: a claim is only a lock, so
        dropping it never loses a document, it lets the next attempt start clean."""
        with self.begin() as connection:
            return int(connection.execute(delete(claims).where(
                claims.c.run_id == run_id, claims.c.holder == holder)).rowcount or 0)

    def claims_held(self, run_id: str | None = None) -> int:
        query = select(func.count()).select_from(claims)
        if run_id:
            query = query.where(claims.c.run_id == run_id)
        with self.connect() as connection:
            return int(connection.execute(query).scalar_one())

    # -- template versions -----------------------------------------------------------------

    def remember_template_version(self, version: str, template_set: str, brand: str,
                                  storage_key: str) -> bool:
        """Record a template-set version; True if it is new."""
        with self.begin() as connection:
            known = connection.execute(select(template_versions.c.version).where(
                template_versions.c.version == version)).first()
            if known:
                return False
            try:
                with connection.begin_nested():
                    connection.execute(insert(template_versions).values(
                        version=version, template_set=template_set, brand=brand,
                        storage_key=storage_key, first_used_at=now()))
            except IntegrityError:
                return False
        return True

    def template_version(self, version: str) -> Mapping[str, Any] | None:
        with self.connect() as connection:
            row = connection.execute(select(template_versions).where(
                template_versions.c.version == version)).first()
        return dict(row._mapping) if row else None

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, run_id: str, job: str, period: str, *, executor: str, workers: int,
                  template_version: str, dry_run: bool, owner: str = "",
                  stale_after: timedelta = timedelta(minutes=5), actor: str = "",
                  reason: str | None = None) -> int:
        """Register a run; refuse if a live run of the same job and period exists; return the
        run's epoch (one more than any earlier run of the job and period: its fencing token).

        A run is live while its heartbeat is recent, unless its ``owner`` (``host:pid`` of
        the coordinator) is on this host and that process is gone (killed): then the new run
        takes over at once instead of waiting for the heartbeat to go stale, and the old one is
        marked abandoned, which fences its workers off. The database enforces the rule: the
        check and the insert run under a per-(job, period) advisory lock on PostgreSQL (SQLite
        serialises writers), and a partial unique index allows one "running" row per job and
        period, so two runs starting at the same moment can never both start.
        """
        moment = now()
        with self.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(7261002, hashtext(:k))"),
                                   {"k": f"{job}|{period}"})
            epoch = 0
            if not dry_run:
                for other in self._running(connection, job, period):
                    if _live(other, stale_after, moment):
                        raise _conflict(other, job, period)
                    connection.execute(update(runs).where(runs.c.run_id == other.run_id)
                                       .values(status="abandoned"))
                last = connection.execute(select(func.max(runs.c.epoch)).where(
                    runs.c.job == job, runs.c.period == period)).scalar_one_or_none()
                epoch = int(last or 0) + 1
            try:
                with connection.begin_nested():
                    connection.execute(insert(runs).values(
                        run_id=run_id, job=job, period=period, status="running",
                        dry_run=dry_run, executor=executor, workers=workers,
                        template_version=template_version, started_at=moment,
                        heartbeat_at=moment, owner=owner, epoch=epoch, actor=actor[:64],
                        reason=reason))
            except IntegrityError:  # the unique index on live runs: a run started meanwhile
                raise RunConflict(f"another run of {job} for {period} started at the same"
                                  " moment; wait for it, or stop it first") from None
        return epoch

    def live_run(self, job: str, period: str,
                 stale_after: timedelta = timedelta(minutes=5)) -> dict[str, Any] | None:
        """The live run of ``job`` for ``period`` that `start_run` would refuse to start
        beside, or None."""
        moment = now()
        with self.connect() as connection:
            live = [r for r in self._running(connection, job, period)
                    if _live(r, stale_after, moment)]
        return _run(live[0]._mapping) if live else None

    @staticmethod
    def _running(connection: Connection, job: str, period: str) -> list[Any]:
        return list(connection.execute(select(runs).where(
            runs.c.job == job, runs.c.period == period, runs.c.status == "running",
            runs.c.dry_run.is_(False))).all())

    def heartbeat(self, run_id: str, report: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now()}
        if report is not None:
            values["report"] = json.dumps(report, ensure_ascii=False)
        with self.begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

    def finish_run(self, run_id: str, status: str, report: Mapping[str, Any]) -> None:
        with self.begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(
                status=status, finished_at=now(), heartbeat_at=now(),
                report=json.dumps(report, ensure_ascii=False)))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self.connect() as connection:
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).first()
        return _run(row._mapping) if row else None

    def list_runs(self, job: str | Sequence[str] | None = None,
                  limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs, of one job or of any of several (``job``), or of all."""
        query = select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if isinstance(job, str) and job:
            query = query.where(runs.c.job == job)
        elif job is not None and not isinstance(job, str):
            query = query.where(runs.c.job.in_(list(job)))
        with self.connect() as connection:
            return [_run(row._mapping) for row in connection.execute(query)]

    # -- plumbing --------------------------------------------------------------------------

    def connect(self) -> Any:
        """A connection for reads; SQLAlchemy errors come out as `ArchiveError`."""
        return _Translated(self.engine.connect(), self.safe_url)

    def begin(self) -> Any:
        """A connection in a transaction (committed at the end, rolled back on an error);
        SQLAlchemy errors come out as `ArchiveError` (retryable when transient)."""
        return _Translated(self.engine.begin(), self.safe_url)


class _Translated:
    """Context manager around a connection that turns SQLAlchemy errors into ours."""

    def __init__(self, context: Any, where: str) -> None:
        self.context = context
        self.where = where

    def __enter__(self) -> Connection:
        try:
            return self.context.__enter__()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.where) from None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        try:
            self.context.__exit__(kind, exc, tb)
        except SQLAlchemyError as error:
            raise _translate(error, self.where) from None
        if isinstance(exc, SQLAlchemyError):
            raise _translate(exc, self.where) from None
        return False


def attempt_name(token: str) -> str:
    """The name of a claim's attempt in the storage keys it writes."""
    return token[:12]


def run_owner() -> str:
    """``host:pid`` of this process, recorded with the runs it coordinates."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _conflict(other: Any, job: str, period: str) -> RunConflict:
    return RunConflict(f"run {other.run_id} of {job} for {period} is still running"
                       f" (last heartbeat {other.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC);"
                       " wait for it, or stop it first")


def _live(run: Any, stale_after: timedelta, moment: datetime) -> bool:
    """A running run is live while its heartbeat is recent and its coordinator may exist."""
    return bool(run.heartbeat_at + stale_after > moment and _owner_alive(run.owner))


def _owner_alive(owner: str) -> bool:
    """False only when ``owner`` is a process of this host that no longer exists."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _translate(exc: SQLAlchemyError, where: str) -> ArchiveError:
    if is_no_space(exc):
        return NoSpaceError(f"index {where}: {_short(exc)}")
    if isinstance(exc, OperationalError) or getattr(exc, "connection_invalidated", False):
        return RetryableArchiveError(f"index {where}: {_short(exc)}")
    return ArchiveError(f"index {where}: {_short(exc)}")


def _short(exc: Exception) -> str:
    return str(exc).split("\n", 1)[0][:300]


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE")


_ENTRY_FIELDS = tuple(ArchiveEntry.__dataclass_fields__)


def entry_from_row(row: Mapping[str, Any]) -> ArchiveEntry:
    """The `ArchiveEntry` of a row of the documents table."""
    return ArchiveEntry(**{name: row[name] for name in _ENTRY_FIELDS})


def _row(entry: ArchiveEntry) -> dict[str, Any]:
    values = entry.as_dict()
    values["legal_hold"] = False
    return values


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
    "open_index",
    "run_owner",
]


def _run(row: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(row)
    result["report"] = json.loads(result["report"]) if result.get("report") else None
    return result


def open_index(url: str, *, migrate: bool = True) -> SqlIndex:
    """The index at ``url``; ``migrate`` brings its schema up to date first."""
    return SqlIndex(url, migrate=migrate)

"""The archive index: what was archived, by which run, and which records are in progress.

Takes a SQLAlchemy URL (``sqlite:///var/index.db`` by default, ``postgresql://...`` on a
cluster); gives `SqlIndex`, which records documents and runs and answers lookups. The
idempotency protocol for one record is::

    existing = index.find(slot)          # archived already? then skip (unless --force)
    claim = index.claim(slot, run_id, holder=task_id)   # before any work: take the slot
    ... render, store.put(...) ...       # deterministic storage key: a retry overwrites
    index.complete(claim, entry)         # one transaction: document row in, claim out

A crash anywhere leaves either nothing, or a claim that the next attempt takes over; never two
documents. A claim held by a live worker of the same run makes `claim` raise `ClaimBusy`
(retryable) for ``lease`` (`DEFAULT_LEASE`); a claim of another run, a stale claim, or one whose
``holder`` is the same unit of work (a Celery task redelivered after its worker died: same task
id) is taken over at once. Executors keep a task's time limit under the lease, so a live
worker's claim never goes stale. Database errors are translated to `ArchiveError` (retryable
when transient). ``postgresql://`` URLs use the psycopg 3 driver.

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

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import and_, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, OperationalError, SQLAlchemyError

from factory.archive.deliveries import DeliveryLog, sent_values
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


@dataclass(frozen=True, slots=True)
class Claim:
    slot: Slot
    run_id: str
    token: str
    existing: ArchiveEntry | None
    existing_held: bool = False


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

    def _alembic(self, connection: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    def migrate(self) -> None:
        """Bring the schema to the newest revision (safe to call from many processes)."""
        try:
            with self.engine.begin() as connection:
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7261001)")
                command.upgrade(self._alembic(connection), "head")
        except SQLAlchemyError as exc:
            raise ArchiveError(f"index {self.safe_url}: migration failed: {_short(exc)}") from None

    def schema_revision(self) -> str | None:
        """The Alembic revision the database is at (None: not created yet)."""
        try:
            with self.engine.connect() as connection:
                return MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.safe_url) from None

    def check_schema(self) -> None:
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
            row = connection.execute(select(documents).where(slot.where(documents))).first()
        return entry_from_row(row._mapping) if row else None

    def get(self, document_id: str) -> ArchiveEntry | None:
        with self.connect() as connection:
            row = connection.execute(
                select(documents).where(documents.c.document_id == document_id)).first()
        return entry_from_row(row._mapping) if row else None

    def entries(self, **filters: Any) -> Iterator[ArchiveEntry]:
        """Archived entries matching column equality filters, oldest first."""
        query = select(documents).order_by(documents.c.created_at, documents.c.document_id)
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
                documents.c.record_key.in_(keys)))
            return {row[0] for row in rows}

    def count(self, job: str, period: str) -> int:
        with self.connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(documents).where(
                    documents.c.job == job, documents.c.period == period)).scalar_one())

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
        """Take ``slot`` for ``run_id``; raise `ClaimBusy` if a live worker of it holds it.

        ``holder`` names the unit of work (a Celery task id): a claim left by the same holder
        is taken over at once, because the only way to meet it is a redelivery of that unit
        after its worker died (or a duplicate delivery, which the claim token then defeats).
        """
        token = secrets.token_hex(16)
        moment = now()
        with self.begin() as connection:
            held = connection.execute(
                select(claims).where(slot.where(claims)).with_for_update()).first()
            if held is None:
                try:
                    with connection.begin_nested():
                        connection.execute(insert(claims).values(
                            **slot.values(), run_id=run_id, token=token, claimed_at=moment,
                            holder=holder))
                except IntegrityError:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now") \
                        from None
            else:
                stale = held.claimed_at + lease < moment
                same_work = holder is not None and held.holder == holder
                if held.run_id == run_id and not stale and not same_work:
                    raise ClaimBusy(f"{slot.record_key}: being processed by another worker"
                                    f" since {held.claimed_at:%H:%M:%S}")
                taken = connection.execute(
                    update(claims).where(slot.where(claims), claims.c.token == held.token)
                    .values(run_id=run_id, token=token, claimed_at=moment, holder=holder)
                ).rowcount
                if taken != 1:
                    raise ClaimBusy(f"{slot.record_key}: taken by another worker just now")
            row = connection.execute(select(documents).where(slot.where(documents))).first()
        return Claim(slot, run_id, token, entry_from_row(row._mapping) if row else None,
                     bool(row.legal_hold) if row else False)

    def complete(self, claim: Claim, entry: ArchiveEntry,
                 delivery: Mapping[str, Any] | None = None) -> ArchiveEntry | None:
        """Insert the document row and drop the claim atomically; return the row replaced.

        With ``delivery`` (``key`` and the transport's ``message_id``), the same transaction
        marks that send "sent"."""
        with self.begin() as connection:
            self._check_claim(connection, claim)
            old = self._replace_document(connection, claim, entry)
            if delivery is not None:
                connection.execute(update(deliveries).where(
                    deliveries.c.delivery_key == delivery["key"]).values(**sent_values(delivery)))
            return old

    @staticmethod
    def _check_claim(connection: Connection, claim: Claim) -> None:
        held = connection.execute(select(claims.c.token).where(
            claim.slot.where(claims)).with_for_update()).scalar_one_or_none()
        if held != claim.token:
            raise ArchiveError(f"{claim.slot.record_key}: the claim was taken over by"
                               " another worker; this attempt's result is discarded")

    @staticmethod
    def _replace_document(connection: Connection, claim: Claim, entry: ArchiveEntry
                          ) -> ArchiveEntry | None:
        """Document row in (replacing the slot's old one), claim out; return the old row."""
        old = connection.execute(select(documents).where(claim.slot.where(documents))).first()
        if old is not None and old.legal_hold:
            raise LegalHoldError(f"document {old.document_id} is on legal hold: it cannot be"
                                 " replaced until it is released")
        if old is not None:
            connection.execute(delete(documents).where(claim.slot.where(documents)))
        connection.execute(insert(documents).values(**_row(entry)))
        connection.execute(delete(claims).where(claim.slot.where(claims),
                                                claims.c.token == claim.token))
        return entry_from_row(old._mapping) if old is not None else None

    def complete_numbered(self, claim: Claim, series: str,
                          build: Callable[[int], tuple[ArchiveEntry, Any]]
                          ) -> tuple[ArchiveEntry | None, tuple[ArchiveEntry, Any]]:
        """Assign the next gapless number of ``series`` and archive in one transaction.

        ``build(number)`` renders and stores the document and returns (entry, anything); it
        runs with the series locked. A slot that already has a number (``--force``) keeps it.
        Returns the row replaced (or None) and what ``build`` returned.
        """
        slot = claim.slot
        number_slot = and_(document_numbers.c.job == slot.job,
                           document_numbers.c.period == slot.period,
                           document_numbers.c.record_key == slot.record_key,
                           document_numbers.c.document_type == slot.document_type)
        with self.begin() as connection:
            self._check_claim(connection, claim)
            kept = connection.execute(select(document_numbers.c.series,
                                             document_numbers.c.number)
                                      .where(number_slot)).first()
            if kept is not None:
                number = int(kept.number)
                built = build(number)
                self._check_claim(connection, claim)
            else:
                number = self._lock_sequence(connection, series)
                built = build(number)
                self._check_claim(connection, claim)
                connection.execute(insert(document_numbers).values(
                    series=series, number=number, job=slot.job, period=slot.period,
                    record_key=slot.record_key, document_type=slot.document_type,
                    document_id=built[0].document_id, assigned_at=now()))
                connection.execute(update(sequences).where(sequences.c.series == series)
                                   .values(next_number=number + 1, updated_at=now()))
            entry: ArchiveEntry = built[0]
            old = self._replace_document(connection, claim, entry)
            if kept is not None:
                connection.execute(update(document_numbers).where(number_slot)
                                   .values(document_id=entry.document_id))
        return old, built

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

    def forget(self, slot: Slot) -> ArchiveEntry | None:
        """Remove the index row of ``slot`` (a superseded print file); return it."""
        with self.begin() as connection:
            row = connection.execute(select(documents).where(slot.where(documents))).first()
            if row is not None:
                connection.execute(delete(documents).where(slot.where(documents)))
        return entry_from_row(row._mapping) if row is not None else None

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
                  stale_after: timedelta = timedelta(minutes=5)) -> None:
        """Register a run; refuse if a live run of the same job and period exists.

        A run is live while its heartbeat is recent, unless its ``owner`` (``host:pid`` of
        the coordinator) is on this host and that process is gone (killed): then the new run
        takes over at once instead of waiting for the heartbeat to go stale.
        """
        moment = now()
        with self.begin() as connection:
            if not dry_run:
                for other in self._running(connection, job, period):
                    if _live(other, stale_after, moment):
                        raise RunConflict(
                            f"run {other.run_id} of {job} for {period} is still running"
                            f" (last heartbeat {other.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC);"
                            " wait for it, or stop it first")
                    connection.execute(update(runs).where(runs.c.run_id == other.run_id)
                                       .values(status="abandoned"))
            connection.execute(insert(runs).values(
                run_id=run_id, job=job, period=period, status="running", dry_run=dry_run,
                executor=executor, workers=workers, template_version=template_version,
                started_at=moment, heartbeat_at=moment, owner=owner))

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


def run_owner() -> str:
    """``host:pid`` of this process, recorded with the runs it coordinates."""
    return f"{socket.gethostname()}:{os.getpid()}"


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


def _run(row: Mapping[str, Any]) -> dict[str, Any]:
    result = dict(row)
    result["report"] = json.loads(result["report"]) if result.get("report") else None
    return result


def open_index(url: str, *, migrate: bool = True) -> SqlIndex:
    """The index at ``url``; ``migrate`` brings its schema up to date first."""
    return SqlIndex(url, migrate=migrate)

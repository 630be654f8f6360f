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
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator, Mapping
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

from factory.archive.tables import SLOT, claims, documents, runs, template_versions
from factory.errors import ArchiveError, ConfigError, RetryableArchiveError
from factory.models import ArchiveEntry

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


class ClaimBusy(RetryableArchiveError):
    """Another live worker of the same run holds this record."""


class RunConflict(ConfigError):
    """Another run of the same job and period is still running."""


def now() -> datetime:
    return datetime.now(UTC)


class SqlIndex:
    """The index in any database SQLAlchemy supports."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.url = url
        try:
            parsed = make_url(url)
            if parsed.drivername in _DRIVERS:
                parsed = parsed.set(drivername=_DRIVERS[parsed.drivername])
        except ArgumentError:
            raise ConfigError(f"index URL {url!r} is not a database URL") from None
        self.safe_url = parsed.render_as_string(hide_password=True)
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

    def check_schema(self) -> None:
        head = ScriptDirectory.from_config(self._alembic(None)).get_current_head()  # type: ignore[arg-type]
        try:
            with self.engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
        except SQLAlchemyError as exc:
            raise _translate(exc, self.safe_url) from None
        if current != head:
            raise ArchiveError(
                f"index {self.safe_url} is at schema revision {current}, this code needs {head};"
                " run `docfactory index upgrade`")

    def close(self) -> None:
        self.engine.dispose()

    # -- documents -------------------------------------------------------------------------

    def find(self, slot: Slot) -> ArchiveEntry | None:
        with self._connect() as connection:
            row = connection.execute(select(documents).where(slot.where(documents))).first()
        return _entry(row._mapping) if row else None

    def get(self, document_id: str) -> ArchiveEntry | None:
        with self._connect() as connection:
            row = connection.execute(
                select(documents).where(documents.c.document_id == document_id)).first()
        return _entry(row._mapping) if row else None

    def entries(self, **filters: Any) -> Iterator[ArchiveEntry]:
        """Archived entries matching column equality filters, oldest first."""
        query = select(documents).order_by(documents.c.created_at, documents.c.document_id)
        for name, value in filters.items():
            if value is not None:
                query = query.where(documents.c[name] == value)
        with self._connect() as connection:
            for row in connection.execute(query):
                yield _entry(row._mapping)

    def existing_keys(self, job: str, period: str, channel: str, document_type: str,
                      keys: list[str]) -> set[str]:
        """Which of ``keys`` already have an archived document in this slot family."""
        if not keys:
            return set()
        with self._connect() as connection:
            rows = connection.execute(select(documents.c.record_key).where(
                documents.c.job == job, documents.c.period == period,
                documents.c.channel == channel, documents.c.document_type == document_type,
                documents.c.record_key.in_(keys)))
            return {row[0] for row in rows}

    def count(self, job: str, period: str) -> int:
        with self._connect() as connection:
            return int(connection.execute(
                select(func.count()).select_from(documents).where(
                    documents.c.job == job, documents.c.period == period)).scalar_one())

    def claim(self, slot: Slot, run_id: str, lease: timedelta = DEFAULT_LEASE,
              holder: str | None = None) -> Claim:
        """Take ``slot`` for ``run_id``; raise `ClaimBusy` if a live worker of it holds it.

        ``holder`` names the unit of work (a Celery task id): a claim left by the same holder
        is taken over at once, because the only way to meet it is a redelivery of that unit
        after its worker died (or a duplicate delivery, which the claim token then defeats).
        """
        token = secrets.token_hex(16)
        moment = now()
        with self._begin() as connection:
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
        return Claim(slot, run_id, token, _entry(row._mapping) if row else None)

    def complete(self, claim: Claim, entry: ArchiveEntry) -> ArchiveEntry | None:
        """Insert the document row and drop the claim atomically; return the row replaced."""
        with self._begin() as connection:
            held = connection.execute(select(claims.c.token).where(
                claim.slot.where(claims)).with_for_update()).scalar_one_or_none()
            if held != claim.token:
                raise ArchiveError(f"{claim.slot.record_key}: the claim was taken over by"
                                   " another worker; this attempt's result is discarded")
            old = connection.execute(select(documents).where(
                claim.slot.where(documents))).first()
            if old is not None:
                connection.execute(delete(documents).where(claim.slot.where(documents)))
            connection.execute(insert(documents).values(**_row(entry)))
            connection.execute(delete(claims).where(claim.slot.where(claims),
                                                    claims.c.token == claim.token))
        return _entry(old._mapping) if old is not None else None

    def release(self, claim: Claim) -> None:
        """Give a slot back after a failure, so a later attempt starts clean."""
        with self._begin() as connection:
            connection.execute(delete(claims).where(claim.slot.where(claims),
                                                    claims.c.token == claim.token))

    def claims_held(self, run_id: str | None = None) -> int:
        query = select(func.count()).select_from(claims)
        if run_id:
            query = query.where(claims.c.run_id == run_id)
        with self._connect() as connection:
            return int(connection.execute(query).scalar_one())

    # -- template versions -----------------------------------------------------------------

    def remember_template_version(self, version: str, template_set: str, brand: str,
                                  storage_key: str) -> bool:
        """Record a template-set version; True if it is new."""
        with self._begin() as connection:
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
        with self._connect() as connection:
            row = connection.execute(select(template_versions).where(
                template_versions.c.version == version)).first()
        return dict(row._mapping) if row else None

    # -- runs ------------------------------------------------------------------------------

    def start_run(self, run_id: str, job: str, period: str, *, executor: str, workers: int,
                  template_version: str, dry_run: bool,
                  stale_after: timedelta = timedelta(minutes=5)) -> None:
        """Register a run; refuse if a live run of the same job and period exists."""
        moment = now()
        with self._begin() as connection:
            if not dry_run:
                live = connection.execute(select(runs).where(
                    runs.c.job == job, runs.c.period == period, runs.c.status == "running",
                    runs.c.dry_run.is_(False))).all()
                for other in live:
                    if other.heartbeat_at + stale_after > moment:
                        raise RunConflict(
                            f"run {other.run_id} of {job} for {period} is still running"
                            f" (last heartbeat {other.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC);"
                            " wait for it, or stop it first")
                    connection.execute(update(runs).where(runs.c.run_id == other.run_id)
                                       .values(status="abandoned"))
            connection.execute(insert(runs).values(
                run_id=run_id, job=job, period=period, status="running", dry_run=dry_run,
                executor=executor, workers=workers, template_version=template_version,
                started_at=moment, heartbeat_at=moment))

    def heartbeat(self, run_id: str, report: Mapping[str, Any] | None = None) -> None:
        values: dict[str, Any] = {"heartbeat_at": now()}
        if report is not None:
            values["report"] = json.dumps(report, ensure_ascii=False)
        with self._begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(**values))

    def finish_run(self, run_id: str, status: str, report: Mapping[str, Any]) -> None:
        with self._begin() as connection:
            connection.execute(update(runs).where(runs.c.run_id == run_id).values(
                status=status, finished_at=now(), heartbeat_at=now(),
                report=json.dumps(report, ensure_ascii=False)))

    def get_run(self, run_id: str) -> dict[str, Any] | None:
        with self._connect() as connection:
            row = connection.execute(select(runs).where(runs.c.run_id == run_id)).first()
        return _run(row._mapping) if row else None

    def list_runs(self, job: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = select(runs).order_by(runs.c.started_at.desc()).limit(limit)
        if job:
            query = query.where(runs.c.job == job)
        with self._connect() as connection:
            return [_run(row._mapping) for row in connection.execute(query)]

    # -- plumbing --------------------------------------------------------------------------

    def _connect(self) -> Any:
        return _Translated(self.engine.connect(), self.safe_url)

    def _begin(self) -> Any:
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


def _translate(exc: SQLAlchemyError, where: str) -> ArchiveError:
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


def _entry(row: Mapping[str, Any]) -> ArchiveEntry:
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

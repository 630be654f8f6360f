"""Health and readiness checks of the backends a process depends on.

Takes an open index and store, or their URLs, and an optional broker URL; gives one `Check` per
backend: its name (``index``, ``store``, ``broker``), whether it answered, and (for
``docfactory doctor`` only, never for ``/readyz``) the masked URL and the error. A check never
raises: a backend that does not answer is a failed check, whatever the error.

``/readyz`` shows ``{"status": "ready"|"not ready", "checks": {name: "ok"|"down"}}`` and nothing
else: no URL, no error text, no version, since it is served without authentication.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from factory.archive import SqlIndex, Store, open_index, open_store
from factory.urls import mask_url, mask_urls_in

#: Seconds a backend gets to answer one check.
TIMEOUT = 3.0
#: The object name the store check asks for: never written, only looked up.
PROBE_KEY = "readyz-probe"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    target: str = ""  # the masked URL (doctor only)
    detail: str = ""  # what answered, or the masked error (doctor only)


def _problem(exc: BaseException) -> str:
    return mask_urls_in(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]


def check_index(index: SqlIndex) -> Check:
    """A query against the index (its Alembic revision)."""
    try:
        revision = index.schema_revision()
    except Exception as exc:  # any failure means not ready; the reason goes to doctor only
        return Check("index", False, index.safe_url, _problem(exc))
    return Check("index", True, index.safe_url, f"schema revision {revision}")


def check_index_url(url: str) -> Check:
    """Open the index at ``url`` without migrating it, then query it."""
    try:
        index = open_index(url, migrate=False)
    except Exception as exc:
        return Check("index", False, mask_url(url), _problem(exc))
    try:
        return check_index(index)
    finally:
        index.close()


def check_store(store: Store) -> Check:
    """A lookup of an object that is never written: the store must answer, not find it."""
    target = mask_urls_in(store.url)
    try:
        store.exists(PROBE_KEY)
        root = getattr(store, "root", None)
        if root is not None and not root.is_dir():
            return Check("store", False, target, f"{root} is not a folder")
    except Exception as exc:
        return Check("store", False, target, _problem(exc))
    return Check("store", True, target, "answered")


def check_store_url(url: str) -> Check:
    try:
        store = open_store(url)
    except Exception as exc:
        return Check("store", False, mask_url(url), _problem(exc))
    return check_store(store)


def check_broker(url: str) -> Check:
    """A Redis PING on the broker."""
    target = mask_url(url)
    try:
        import redis
    except ImportError:
        return Check("broker", False, target, "the redis package is missing: pip install"
                                              " 'docfactory[cluster]'")
    try:
        client: Any = redis.Redis.from_url(url, socket_connect_timeout=TIMEOUT,
                                           socket_timeout=TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        return Check("broker", False, target, _problem(exc))
    return Check("broker", True, target, "PONG")


def readiness(checks: Iterable[Check]) -> tuple[bool, dict[str, Any]]:
    """(ready, the public body of ``/readyz``): status per check name, nothing else."""
    states = {check.name: "ok" if check.ok else "down" for check in checks}
    ready = all(state == "ok" for state in states.values())
    return ready, {"status": "ready" if ready else "not ready", "checks": states}


def backend_checks(index_url: str, store_url: str, broker_url: str | None) -> list[Check]:
    """The checks ``docfactory doctor`` runs for a job's configured backends."""
    checks = [check_index_url(index_url), check_store_url(store_url)]
    if broker_url:
        checks.append(check_broker(broker_url))
    return checks


def describe(checks: Iterable[Check]) -> Mapping[str, Mapping[str, Any]]:
    """The checks as doctor's JSON: name → ok, masked target, detail."""
    return {c.name: {"ok": c.ok, "target": c.target, "detail": c.detail} for c in checks}

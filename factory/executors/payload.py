"""Task payloads for executors that cross machines: JSON-safe dicts in, frozen values out.

Takes a `WorkerConfig`, `Record` and `Outcome` values; gives plain dicts (JSON through any
broker) and back. Paths travel relative to the coordinator's project root and are rebased on
the worker's own root, so machines may deploy the project in different folders. Passwords never
travel: URLs (archive, index, email and SMS transports) are sent without them, and a worker
puts back the password of its own configured URL for the same server (``FACTORY_INDEX_URL``,
``FACTORY_EMAIL_URL``, ``FACTORY_SMS_URL``...) or lets the driver find it (``PGPASSWORD``,
``~/.pgpass``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from factory.config import Settings
from factory.models import ChannelOutcome, ChannelStatus, Outcome, Position, Record, Status
from factory.pipeline import WorkerConfig

_PATHS = ("root", "templates_dir", "assets_dir", "var_dir")


def without_password(url: str) -> str:
    """``url`` with any password removed from its user part."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{user}@{host}" if user else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def with_local_password(url: str, local: Sequence[str | None]) -> str:
    """``url``, or the worker's own configured URL for the same server with its password."""
    for candidate in local:
        if candidate and urlsplit(candidate).password is not None \
                and without_password(candidate) == url:
            return candidate
    return url


def encode_config(config: WorkerConfig) -> dict[str, Any]:
    root = config.settings.root
    settings: dict[str, Any] = {name: _relative(getattr(config.settings, name), root)
                                for name in _PATHS}
    settings["root"] = str(root)
    settings["retention"] = dict(config.settings.retention)
    settings["seal"] = {k: dict(v) for k, v in config.settings.seal.items()}  # no secrets
    return {
        "job_path": _relative(Path(config.job_path), root),
        "settings": settings,
        "run_id": config.run_id,
        "period": config.period,
        "issued": config.issued.isoformat(),
        "store_url": without_password(config.store_url),
        "index_url": without_password(config.index_url),
        "template_version": config.template_version,
        "force": config.force,
        "attempts": config.attempts,
        "backoff": config.backoff,
        "transports": {name: without_password(url) for name, url in config.transports.items()},
        "resend_unknown": config.resend_unknown,
        "force_reason": config.force_reason,
        "actor": config.actor,
        "actor_role": config.actor_role,
        "job_text": config.job_text,
    }


def decode_config(data: Mapping[str, Any], local: Settings | None = None) -> WorkerConfig:
    """The `WorkerConfig` of a payload; relative paths resolve against ``local.root`` (the
    worker's project root) when given, else against the coordinator's root."""
    raw = data["settings"]
    root = local.root if local is not None else Path(raw["root"])
    paths = {name: root / raw[name] for name in _PATHS if name != "root"}
    # A sealing job's key password never travels: each worker has its own FACTORY_SEAL_*
    # (and its own FACTORY_WEBHOOK_SECRET).
    settings = Settings(root=root, retention=dict(raw["retention"]),
                        seal=dict(raw.get("seal", {})),
                        seal_secrets=dict(local.seal_secrets) if local is not None else {},
                        webhook_secret=local.webhook_secret if local is not None else None,
                        **paths)
    urls = [local.archive_url, local.index_url, local.email_url, local.sms_url,
            local.peppol_url, *local.transports.values()] \
        if local is not None else []
    # Older payloads carry email_url / sms_url / peppol_url beside (or instead of) transports.
    transports = {name: data[f"{name}_url"] for name in ("email", "sms", "peppol")
                  if data.get(f"{name}_url")}
    transports.update(data.get("transports") or {})
    return WorkerConfig(
        job_path=str(root / data["job_path"]), settings=settings, run_id=data["run_id"],
        period=data["period"], issued=date.fromisoformat(data["issued"]),
        store_url=with_local_password(data["store_url"], urls),
        index_url=with_local_password(data["index_url"], urls),
        template_version=data["template_version"], force=bool(data["force"]),
        attempts=int(data["attempts"]), backoff=float(data.get("backoff", 0.2)),
        transports={name: with_local_password(url, urls) for name, url in transports.items()},
        resend_unknown=bool(data.get("resend_unknown", False)),
        force_reason=str(data.get("force_reason", "")), actor=str(data.get("actor", "system")),
        actor_role=str(data.get("actor_role", "system")), job_text=data.get("job_text"))


def encode_record(record: Record) -> dict[str, Any]:
    return {"key": record.key, "customer_id": record.customer_id, "locale": record.locale,
            "position": asdict(record.position), "data": dict(record.data)}


def decode_record(data: Mapping[str, Any]) -> Record:
    return Record(data["key"], data["customer_id"], data["locale"],
                  Position(**data["position"]), data["data"])


def encode_outcome(outcome: Outcome) -> dict[str, Any]:
    values = asdict(outcome)
    values["status"] = outcome.status.value
    values["document_ids"] = list(outcome.document_ids)
    values["channels"] = [{**asdict(c), "status": c.status.value} for c in outcome.channels]
    return values


def decode_outcome(data: Mapping[str, Any]) -> Outcome:
    values = dict(data)
    values["position"] = Position(**values["position"])
    values["status"] = Status(values["status"])
    values["document_ids"] = tuple(values["document_ids"])
    values["channels"] = tuple(
        ChannelOutcome(**{**c, "status": ChannelStatus(c["status"])})
        for c in values.get("channels", ()))
    return Outcome(**values)


def _relative(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` when inside it, else absolute."""
    path = Path(path)
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)

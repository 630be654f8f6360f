"""Typed settings for one invocation of the factory.

Takes the project root, a mapping of environment variables and explicit overrides (the CLI
passes ``os.environ`` and its options; nothing below the CLI reads the environment). Gives a
frozen `Settings`. Precedence, strongest first: override > environment > job file >
``docfactory.toml`` in the project root > embedded default.

Environment variables: ``FACTORY_HOME`` (project root), ``FACTORY_VAR`` (work folder),
``FACTORY_ARCHIVE_URL``, ``FACTORY_INDEX_URL``, ``FACTORY_WORKERS``, ``FACTORY_CHUNK_SIZE``,
``FACTORY_TRANSPORT_<CHANNEL>`` (a channel's delivery transport, credentials included: it
overrides the job file's, which should hold none; ``FACTORY_EMAIL_URL``, ``FACTORY_SMS_URL`` and
``FACTORY_PEPPOL_URL`` are the older names of three of them, still read),
``FACTORY_WEBHOOK_SECRET`` (the key webhook notifications are signed with; never printed).
``FACTORY_EXPORT_MAX_BYTES`` (largest compliance export, ``500M``, ``2G`` or bytes) and
``FACTORY_FINANCE_DOCUMENT_TYPES`` (comma-separated document types whose jobs the finance role
may start and watch). ``FACTORY_SEAL_TRUST`` (trust anchors for seal checks, separated by
``:``) and every ``FACTORY_SEAL_*`` variable (passwords of seal keys, see `factory.jobs.seal`).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from factory.errors import ConfigError

#: How long each retention class keeps a document, as ``<n>y``, ``<n>m`` or ``<n>d``.
DEFAULT_RETENTION = {
    "statement": "10y",
    "invoice": "10y",
    "notice": "6y",
    "marketing": "2y",
    "transient": "90d",
}

_DURATION = re.compile(r"^\s*(\d+)\s*([ymd])\s*$")
_SIZE = re.compile(r"^\s*(\d+)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)

#: The largest export bundle, by default: 2 GiB of documents.
DEFAULT_EXPORT_MAX_BYTES = 2 * 1024**3
#: The largest request body the HTTP service reads (its JSON and forms are a few hundred bytes).
DEFAULT_API_MAX_BODY_BYTES = 1024**2
#: Failed authentications one client may make per minute before it gets 429.
DEFAULT_API_AUTH_FAILURES = 10
#: Address space one worker process may use: a warm worker peaks at ~380 MB; a runaway template
#: expression (``'x' * 3000000000``) fails its record with MemoryError instead of the machine.
DEFAULT_WORKER_MEMORY_BYTES = 2 * 1024**3

# A name that becomes part of paths, keys and URLs: jobs, brands, template sets, classes.
SLUG = r"^[a-z][a-z0-9_-]{0,62}$"


@dataclass(frozen=True)
class Settings:
    """Where things are and which backends to use. Built by `load_settings`."""

    root: Path
    templates_dir: Path
    assets_dir: Path
    var_dir: Path
    archive_url: str | None = None
    index_url: str | None = None
    email_url: str | None = None
    sms_url: str | None = None
    peppol_url: str | None = None
    #: ``{channel: transport URL}``: ``[factory.transports]``, ``FACTORY_TRANSPORT_<CHANNEL>``;
    #: ``email_url``, ``sms_url`` and ``peppol_url`` are aliases of three entries (see
    #: `transport_url`).
    transports: Mapping[str, str] = field(default_factory=dict)
    #: ``FACTORY_WEBHOOK_SECRET``: the HMAC key of webhook signatures. Never printed.
    webhook_secret: str | None = field(default=None, repr=False)
    workers: int = 1
    chunk_size: int = 4
    retention: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_RETENTION))
    export_max_bytes: int = DEFAULT_EXPORT_MAX_BYTES
    finance_document_types: tuple[str, ...] = ("invoice",)
    #: ``[factory.seal.<retention class>]`` tables (validated by `factory.jobs.seal`).
    seal: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: Trust anchors (PEM/DER files) that `archive verify` checks seals and timestamps against.
    seal_trust: tuple[Path, ...] = ()
    #: ``[factory.export_seal]``: the key (and TSA) that signs export bundles' manifests.
    export_seal: Mapping[str, Any] = field(default_factory=dict)
    #: ``FACTORY_SEAL_*`` environment variables: key passwords and token PINs. Never printed.
    seal_secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    api_max_body_bytes: int = DEFAULT_API_MAX_BODY_BYTES
    api_auth_failures: int = DEFAULT_API_AUTH_FAILURES
    worker_memory_bytes: int | None = DEFAULT_WORKER_MEMORY_BYTES
    #: ``FACTORY_LINK_SECRET``: the key that signs customers' document links (`factory.links`);
    #: ``FACTORY_PUBLIC_URL``: the address customers reach ``docfactory serve`` at.
    link_secret: str | None = field(default=None, repr=False)
    public_url: str | None = None
    #: ``FACTORY_SMS_WEBHOOK_SECRET``: the HMAC key of the SMS gateway's delivery reports.
    sms_webhook_secret: str | None = field(default=None, repr=False)

    @property
    def runs_dir(self) -> Path:
        return self.var_dir / "runs"

    @property
    def default_archive_url(self) -> str:
        return (self.var_dir / "archive").as_uri()

    @property
    def default_index_url(self) -> str:
        return f"sqlite:///{self.var_dir / 'index.db'}"

    def resolve(self, path: str | Path) -> Path:
        """A path from a job or setting, made absolute against the project root."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.root / candidate)

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def transport_url(self, channel: str) -> str | None:
        """The transport URL set for ``channel`` outside the job file, if any: an explicit
        ``email_url``/``sms_url``/``peppol_url`` (CLI options, their older variables) first,
        then ``transports``."""
        alias = getattr(self, f"{channel}_url", None) if channel in _ALIASES else None
        return alias or self.transports.get(channel)


_ALIASES = ("email", "sms", "peppol")


def resolve_url(url: str | None, settings: Settings) -> str | None:
    """Job-file URLs may use paths relative to the project root: ``file:var/archive``,
    ``sqlite:///var/index.db``, ``outbox:var/outbox``; other URLs are returned as they are."""
    if not url:
        return None
    if url.startswith("file:") and not url.startswith("file://"):
        return settings.resolve(url[len("file:"):]).as_uri()
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        return "sqlite:///" + str(settings.resolve(url[len("sqlite:///"):]))
    if url.startswith("outbox:") and not url.startswith("outbox:///"):
        relative = url[len("outbox:"):].removeprefix("//")
        return "outbox://" + str(settings.resolve(relative))
    return url


def archive_urls_for(store: str | None, index: str | None, settings: Settings
                     ) -> tuple[str, str]:
    """(store URL, index URL): options/environment, then the job's [archive] (``store``,
    ``index``), then the defaults under the work folder."""
    return (settings.archive_url or resolve_url(store, settings) or settings.default_archive_url,
            settings.index_url or resolve_url(index, settings) or settings.default_index_url)


def retention_until(settings: Settings, retention_class: str, start: datetime) -> datetime:
    """The moment a document of ``retention_class`` created at ``start`` may be purged."""
    spec = settings.retention.get(retention_class)
    if spec is None:
        known = ", ".join(sorted(settings.retention))
        raise ConfigError(f"unknown retention class {retention_class!r} (known: {known})")
    count, unit = parse_duration(spec)
    if unit == "d":
        return start + timedelta(days=count)
    months = count * 12 if unit == "y" else count
    year, month = divmod(start.month - 1 + months, 12)
    year += start.year
    month += 1
    day = min(start.day, _days_in_month(year, month))
    return start.replace(year=year, month=month, day=day)


def parse_duration(text: str) -> tuple[int, str]:
    match = _DURATION.match(str(text))
    if not match:
        raise ConfigError(f"retention {text!r} is not a duration like '10y', '18m' or '90d'")
    return int(match.group(1)), match.group(2)


def parse_size(value: Any) -> int:
    """A size in bytes from ``1048576``, ``500M``, ``2G`` or ``2GiB`` (powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        count, unit = value, ""
    else:
        match = _SIZE.match(str(value))
        if not match:
            raise ConfigError(f"size {value!r} is not a number of bytes like 1048576, 500M or 2G")
        count, unit = int(match.group(1)), match.group(2).lower()
    size = int(count * 1024 ** " kmgt".index(unit or " "))
    if size < 1:
        raise ConfigError(f"size {value!r} must be at least one byte")
    return size


def _names(value: Any) -> tuple[str, ...]:
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(sorted({str(item).strip() for item in items if str(item).strip()}))
    for name in names:
        if not re.match(SLUG, name):
            raise ConfigError(f"finance document type {name!r} is not a lower-case slug")
    return names


def _days_in_month(year: int, month: int) -> int:
    nxt = datetime(year + (month // 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def load_settings(
    root: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from the project root, environment and overrides."""
    env = dict(env or {})
    root = Path(root or env.get("FACTORY_HOME") or Path.cwd()).resolve()
    file_values = _read_project_file(root / "docfactory.toml")

    def pick(name: str, env_name: str, default: Any) -> Any:
        if overrides.get(name) is not None:
            return overrides[name]
        if env.get(env_name):
            return env[env_name]
        return file_values.get(name, default)

    def as_path(value: Any) -> Path:
        path = Path(str(value)).expanduser()
        return path if path.is_absolute() else root / path

    retention = dict(DEFAULT_RETENTION)
    retention.update({str(k): str(v) for k, v in file_values.get("retention", {}).items()})
    for spec in retention.values():
        parse_duration(spec)

    try:
        workers = int(pick("workers", "FACTORY_WORKERS", os.cpu_count() or 1))
        chunk_size = int(pick("chunk_size", "FACTORY_CHUNK_SIZE", 4))
    except ValueError as exc:
        raise ConfigError(f"workers and chunk size must be whole numbers: {exc}") from None
    if workers < 1 or chunk_size < 1:
        raise ConfigError("workers and chunk size must be at least 1")

    return Settings(
        root=root,
        templates_dir=as_path(pick("templates_dir", "FACTORY_TEMPLATES", "templates")),
        assets_dir=as_path(pick("assets_dir", "FACTORY_ASSETS", "assets")),
        var_dir=as_path(pick("var_dir", "FACTORY_VAR", "var")),
        archive_url=pick("archive_url", "FACTORY_ARCHIVE_URL", None),
        index_url=pick("index_url", "FACTORY_INDEX_URL", None),
        email_url=pick("email_url", "FACTORY_EMAIL_URL", None),
        sms_url=pick("sms_url", "FACTORY_SMS_URL", None),
        peppol_url=pick("peppol_url", "FACTORY_PEPPOL_URL", None),
        transports=_transports(file_values.get("transports", {}), env,
                               overrides.get("transports")),
        webhook_secret=overrides.get("webhook_secret") or env.get("FACTORY_WEBHOOK_SECRET")
        or None,
        workers=workers,
        chunk_size=chunk_size,
        retention=retention,
        export_max_bytes=parse_size(pick("export_max_bytes", "FACTORY_EXPORT_MAX_BYTES",
                                         DEFAULT_EXPORT_MAX_BYTES)),
        finance_document_types=_names(pick("finance_document_types",
                                           "FACTORY_FINANCE_DOCUMENT_TYPES", ["invoice"])),
        seal=_tables(file_values.get("seal", {})),
        export_seal=dict(file_values.get("export_seal", {})),
        seal_trust=tuple(as_path(p) for p in _paths(pick("seal_trust", "FACTORY_SEAL_TRUST",
                                                         []))),
        seal_secrets={k: v for k, v in env.items()
                      if k.startswith("FACTORY_SEAL_") and k != "FACTORY_SEAL_TRUST"},
        api_max_body_bytes=parse_size(pick("api_max_body_bytes", "FACTORY_API_MAX_BODY",
                                           DEFAULT_API_MAX_BODY_BYTES)),
        api_auth_failures=_whole(pick("api_auth_failures", "FACTORY_API_AUTH_FAILURES",
                                      DEFAULT_API_AUTH_FAILURES), "api_auth_failures"),
        worker_memory_bytes=_memory(pick("worker_memory", "FACTORY_WORKER_MEMORY",
                                         DEFAULT_WORKER_MEMORY_BYTES)),
        link_secret=overrides.get("link_secret") or env.get("FACTORY_LINK_SECRET") or None,
        public_url=pick("public_url", "FACTORY_PUBLIC_URL", None),
        sms_webhook_secret=overrides.get("sms_webhook_secret")
        or env.get("FACTORY_SMS_WEBHOOK_SECRET") or None,
    )


def _transports(table: Any, env: Mapping[str, str], override: Any) -> dict[str, str]:
    """``[factory.transports]``, then ``FACTORY_TRANSPORT_<CHANNEL>``, then the override."""
    if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
        raise ConfigError("docfactory.toml: [factory.transports] maps channel names to"
                          " transport URLs (webhook = \"webhook:\")")
    urls = {str(k): v for k, v in table.items()}
    urls.update({k[len("FACTORY_TRANSPORT_"):].lower(): v for k, v in env.items()
                 if k.startswith("FACTORY_TRANSPORT_") and v})
    urls.update(dict(override or {}))
    return urls


def _tables(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict) or not all(isinstance(v, dict) for v in value.values()):
        raise ConfigError("docfactory.toml: [factory.seal] holds one table per retention class"
                          " ([factory.seal.statement], ...)")
    return {str(k): dict(v) for k, v in value.items()}


def _paths(value: Any) -> list[str]:
    items = value.split(":") if isinstance(value, str) else list(value)
    return [str(item).strip() for item in items if str(item).strip()]


def _whole(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < 1:
        raise ConfigError(f"{name} must be at least 1, got {number}")
    return number


def _memory(value: Any) -> int | None:
    """A worker's memory cap: a size (``3G``), or ``none``/``0`` for no cap."""
    if str(value).strip().lower() in ("none", "off", "0", "unlimited"):
        return None
    size = parse_size(value)
    if size < 512 * 1024**2:
        raise ConfigError(f"worker memory {value!r} is too small: a worker needs at least 512M"
                          " to load WeasyPrint and its fonts")
    return size


def _read_project_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    section: dict[str, Any] = data.get("factory", {})
    allowed = {"templates_dir", "assets_dir", "var_dir", "archive_url", "index_url", "workers",
               "chunk_size", "retention", "email_url", "sms_url", "peppol_url", "transports",
               "export_max_bytes", "finance_document_types", "seal", "seal_trust",
               "export_seal", "api_max_body_bytes", "api_auth_failures", "worker_memory",
               "public_url"}
    unknown = sorted(set(section) - allowed)
    if unknown:
        raise ConfigError(
            f"{path}: unknown key(s) in [factory]: {', '.join(unknown)}"
            f" (allowed: {', '.join(sorted(allowed))})"
        )
    return section

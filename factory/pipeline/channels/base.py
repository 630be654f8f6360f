"""What a channel is: the `Channel` protocol, the per-record context and the one registry.

Takes nothing; gives `Channel` (what one channel of one worker does), `Services` (what the
worker offers every channel: job, period, renderer, store, index, slots, transports),
`RecordContext` (what the channels of one record share: the archived PDF) and the registry
(`register_channel`, `channel_class`, `channel_names`), modelled on listmonk's
``Messenger``/``AddMessenger``. A channel is a class with:

    name: str                        its name in ``channels`` and in the index
    needs: tuple[str, ...]           channels it uses the result of (e.g. ``("pdf",)``)
    default_transport(job)           (static) the job file's transport URL, or None
    __init__(services)               once per worker process
    transport_options()              what `factory.deliver.open_transport` needs beside the URL
    process(record, route, context)  one record -> `ChannelOutcome` (raises FactoryError;
                                     the worker retries the retryable ones)
    done_keys(index, job, period, keys)   (optional, static) the record keys done already, for
                                     the dry run; default: those with a document in the slot

Built-in channels are imported only when a job names them (the coordinator imports none of
the rendering code). A new channel is one module and one line in ``_BUILTIN`` (or a
`register_channel` call from a plug-in).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

from factory.errors import ConfigError, RenderError
from factory.models import ArchiveEntry, Artifact, ChannelOutcome, Record, Route

if TYPE_CHECKING:
    from factory.archive.index import SqlIndex
    from factory.archive.keys import SlotKey
    from factory.archive.slots import SlotBatch, Slots
    from factory.archive.store import Store
    from factory.deliver import Transport, TransportOptions
    from factory.jobs import JobSpec
    from factory.models import Period
    from factory.pipeline.config import WorkerConfig
    from factory.pipeline.delivery import Deliverer
    from factory.pipeline.document import DocumentRenderer

#: name -> "module:Class" of the channels that come with docfactory, in no particular order
#: (the order of a record's channels is `factory.models.CHANNEL_ORDER`).
_BUILTIN = {
    "pdf": "factory.pipeline.channels.pdf:PdfChannel",
    "print": "factory.pipeline.channels.print:PrintChannel",
    "email": "factory.pipeline.channels.email:EmailChannel",
    "sms": "factory.pipeline.channels.sms:SmsChannel",
    "peppol": "factory.pipeline.channels.peppol:PeppolChannel",
    "webhook": "factory.pipeline.channels.webhook:WebhookChannel",
}


class Services(Protocol):
    """What the worker gives every channel (built once per process)."""

    config: WorkerConfig
    job: JobSpec
    period: Period
    documents: DocumentRenderer
    store: Store
    index: SqlIndex
    slots: Slots
    deliverer: Deliverer

    def transport(self, channel: str) -> Transport: ...

    def messages(self) -> Any: ...

    def slot_key(self, record: Record, channel: str) -> SlotKey: ...

    def entry(self, record: Record, channel: str, doc_id: str, artifact: Artifact, key: str,
              snapshot_key: str, created: datetime, revision: int,
              record_sha256: str | None = None) -> ArchiveEntry: ...

    def snapshot(self, record: Record, doc_id: str, created: datetime,
                 computed: dict[str, Any] | None = None) -> Artifact: ...


@dataclass
class RecordContext:
    """What the channels of one record share, in the worker's channel order."""

    record: Record
    route: Route
    holder: str | None
    services: Services
    #: The PDF's index row, once known (archived now or earlier).
    pdf_entry: ArchiveEntry | None = None
    #: The PDF's bytes, when this run rendered it (saves reading it back for an attachment).
    pdf_data: bytes | None = None
    pages: int = 0
    byte_size: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: The slots of the record's task claimed together (`factory.archive.slots.SlotBatch`),
    #: when the worker runs a chunk; None: every slot the per-record way.
    batch: SlotBatch | None = None

    def slots(self) -> Slots | SlotBatch:
        """Where the record's own document slot is found and opened: the task's batch, if
        any, else the worker's `Slots`."""
        return self.batch if self.batch is not None else self.services.slots

    def archived_pdf(self) -> ArchiveEntry:
        """The record's archived PDF (this run's or an earlier one's); `RenderError` if none."""
        if self.pdf_entry is None:
            self.pdf_entry = self.services.slots.find(
                self.services.slot_key(self.record, "pdf"))
        if self.pdf_entry is None:
            raise RenderError("the record's PDF is not archived")
        return self.pdf_entry

    def pdf_bytes(self) -> bytes:
        return self.pdf_data or self.services.store.get(self.archived_pdf().storage_key)


class Channel(Protocol):
    """One channel of one worker process (see the module docstring)."""

    name: str
    needs: tuple[str, ...]

    def __init__(self, services: Services) -> None: ...

    @staticmethod
    def default_transport(job: JobSpec) -> str | None: ...

    def transport_options(self) -> TransportOptions | None: ...

    def process(self, record: Record, route: Route, context: RecordContext
                ) -> ChannelOutcome: ...


_REGISTRY: dict[str, type[Channel] | str] = dict(_BUILTIN)


def register_channel(name: str, channel: type[Channel] | str) -> None:
    """Add (or replace) channel ``name``: a class, or ``"module:Class"`` imported on use."""
    _REGISTRY[name] = channel


def channel_names() -> tuple[str, ...]:
    return tuple(sorted(_REGISTRY))


def channel_class(name: str) -> type[Channel]:
    """The class of channel ``name``; `ConfigError` for an unknown one."""
    try:
        found = _REGISTRY[name]
    except KeyError:
        raise ConfigError(f"unknown channel {name!r} (known: {', '.join(channel_names())})"
                          ) from None
    if isinstance(found, str):
        module, _, attribute = found.partition(":")
        found = _REGISTRY[name] = getattr(import_module(module), attribute)
    assert not isinstance(found, str)
    return found


def done_keys(name: str, index: SqlIndex, job: JobSpec, period: str, keys: list[str]
              ) -> set[str]:
    """The record keys among ``keys`` whose channel ``name`` is done already (what a worker
    would skip): the channel's own ``done_keys``, else a current document in its slot."""
    check = getattr(channel_class(name), "done_keys", None)
    if check is not None:
        found: set[str] = check(index, job, period, keys)
        return found
    return index.documents.existing_keys(job.name, period, name, job.document_type, keys)


def default_transports(job: JobSpec, lookup: Callable[[str], str | None]) -> dict[str, str]:
    """{channel: transport URL} of ``job``'s channels that have a transport: ``lookup(name)``
    (options, environment, ``docfactory.toml``) first, then the job file's."""
    urls: dict[str, str] = {}
    for name in job.channels:
        url = lookup(name) or channel_class(name).default_transport(job)
        if url:
            urls[name] = url
    return urls


__all__ = ["Channel", "RecordContext", "Services", "channel_class", "channel_names",
           "default_transports", "done_keys", "register_channel"]

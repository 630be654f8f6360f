"""The transport protocol and the registry that opens one by URL scheme.

Takes a URL and `TransportOptions`; gives a `Transport`. Backends register a factory for their
schemes; those with optional dependencies (SMTP needs nothing extra, the HTTP gateway needs
httpx) are imported only when their scheme is asked for. `MemoryTransport` is the fake for
unit tests of the logic around a transport; every real transport is tested against a real
server on loopback.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from factory.errors import ConfigError
from factory.models import Message, Receipt
from factory.urls import mask_url


@dataclass(frozen=True)
class TransportOptions:
    """What a transport needs beside its URL, from the job's [email] or [sms] section."""

    channel: str
    rate_per_second: float = 0.0
    gateway: dict[str, Any] = field(default_factory=dict)
    #: A signing key (webhooks: ``FACTORY_WEBHOOK_SECRET``); never in a repr, log or error.
    secret: str | None = field(default=None, repr=False)


class Transport(Protocol):
    """Sends messages of one channel. ``url`` never contains credentials."""

    url: str
    resend_is_safe: bool

    def send(self, message: Message) -> Receipt:
        """Hand ``message`` over; raise Retryable/PermanentDeliveryError when it is refused."""
        ...

    def find(self, key: str) -> Receipt | None:
        """Proof that the message with idempotency ``key`` was delivered, if one can be had."""
        ...

    def close(self) -> None: ...


def safe_transport_url(url: str) -> str:
    """``url`` without its password, token or secret query parameters (for reports, logs and
    the index): `factory.urls.mask_url`, the one masking function."""
    return mask_url(url)


class MemoryTransport:
    """Keeps what it is given; for unit tests of the code around a transport."""

    resend_is_safe = True

    def __init__(self, url: str = "memory://", options: TransportOptions | None = None) -> None:
        self.url = url
        self.sent: dict[str, Message] = {}

    def send(self, message: Message) -> Receipt:
        self.sent[message.key] = message
        return Receipt(message.key, self.url, f"memory-{message.key}", datetime.now(UTC))

    def find(self, key: str) -> Receipt | None:
        if key in self.sent:
            return Receipt(key, self.url, f"memory-{key}", datetime.now(UTC), "found")
        return None

    def close(self) -> None:
        pass


Factory = Callable[[str, TransportOptions], Transport]
_TRANSPORTS: dict[str, Factory] = {}
_OPTIONAL = {"smtp": "factory.deliver.smtp", "smtps": "factory.deliver.smtp",
             "http": "factory.deliver.gateway", "https": "factory.deliver.gateway",
             "outbox": "factory.deliver.outbox", "webhook": "factory.deliver.webhook",
             "peppol+http": "factory.deliver.peppol", "peppol+https": "factory.deliver.peppol"}


def register_transport(scheme: str, factory: Factory) -> None:
    _TRANSPORTS[scheme] = factory


register_transport("memory", MemoryTransport)


def open_transport(url: str, options: TransportOptions) -> Transport:
    """The transport for ``url``; `ConfigError` for an unknown scheme or a bad URL."""
    scheme = urlsplit(url).scheme
    if scheme not in _TRANSPORTS and scheme in _OPTIONAL:
        __import__(_OPTIONAL[scheme])
    try:
        factory = _TRANSPORTS[scheme]
    except KeyError:
        known = ", ".join(f"{s}://" for s in sorted(set(_TRANSPORTS) | set(_OPTIONAL)))
        raise ConfigError(f"{options.channel} transport {safe_transport_url(url)!r}: unknown"
                          f" scheme (known: {known})") from None
    return factory(url, options)

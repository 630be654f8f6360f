"""The ``peppol`` channel's transport: hand a UBL e-invoice to the sender's Peppol access point.

Takes ``peppol+https://[:token@]host/base`` (``peppol+http://`` for an access point on
loopback) and the channel's options; gives `Receipt`s carrying the access point's message id
and the last status it reported. Certified Peppol access points ("digitálny poštár" in
Slovakia) each have their own HTTP API; this is the small adapter interface they are fitted to
(`AccessPointAdapter`), and `GenericAccessPoint` is the first adapter, for the common shape:

    POST {base}/documents        body: the UBL XML (application/xml)
                                 headers: Idempotency-Key, X-Peppol-Sender, X-Peppol-Receiver
                                 -> 2xx {"id": "...", "status": "accepted" | "delivered" | ...}
    GET  {base}/documents/{id}   -> {"id": ..., "status": ..., "reason": ...}   (status poll)
    GET  {base}/documents?idempotency_key=K -> 200 {"id", "status"} | 404     (`find`)

The message key is the channel's idempotency key (job, period, record, document type,
channel: the same keys as email and SMS), sent as ``Idempotency-Key`` on every attempt, so a
resend after a crash or a 5xx is dropped by the access point, and `find` proves an earlier
send. After a 2xx the status is polled for ``poll_seconds`` (default 0: the answer of the POST
is the receipt): ``rejected`` / ``failed`` raises `PermanentDeliveryError` with the reason
given; anything still pending is receipted with its status (the network delivers later).

Answers are translated here: 2xx accepted; 408, 429, 5xx, timeouts and connection errors
retryable; any other 4xx permanent, with the status and the reason the access point gave. The
token goes in ``Authorization: Bearer`` and never into a URL, a log, a receipt or an error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from factory.deliver.transport import TransportOptions, register_transport, safe_transport_url
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message, Receipt

CHANNEL = "peppol"
FINAL_BAD = {"rejected", "failed", "error"}
FINAL_GOOD = {"delivered", "acknowledged"}
_DEFAULTS: dict[str, Any] = {"timeout_seconds": 10.0, "poll_seconds": 0.0,
                             "poll_interval_seconds": 0.5}


class AccessPointAdapter(Protocol):
    """What the peppol channel needs of an access point's API (one adapter per provider)."""

    def submit(self, message: Message) -> dict[str, Any]:
        """Hand the document over; the provider's answer (``id``, ``status``)."""
        ...

    def status(self, message_id: str) -> dict[str, Any]:
        """The provider's current status of a submitted document."""
        ...

    def lookup(self, key: str) -> dict[str, Any] | None:
        """The submission made with idempotency ``key``, if the provider has one."""
        ...


class GenericAccessPoint:
    """POST the document, get a message id, poll its status (see the module docstring)."""

    def __init__(self, base: str, token: str | None, timeout: float, label: str) -> None:
        headers = {"Accept": "application/json", "User-Agent": "docfactory"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.base = base.rstrip("/")
        self.label = label
        self.timeout = timeout
        self.client = httpx.Client(headers=headers, timeout=timeout)

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.client.request(method, self.base + path, **kwargs)
        except httpx.TimeoutException:
            raise RetryableDeliveryError(
                f"Peppol access point {self.label}: timed out after {self.timeout} s") from None
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(
                f"Peppol access point {self.label}: {type(exc).__name__}: {exc}") from None

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json()
            except ValueError:
                data = None
            if not isinstance(data, dict) or not data.get("id"):
                raise RetryableDeliveryError(f"Peppol access point {self.label}: HTTP {status}"
                                             " without a message id")
            return data
        problem = f"Peppol access point {self.label}: HTTP {status}: {_reason(response)}"
        if status in (408, 429) or status >= 500:
            raise RetryableDeliveryError(problem)
        raise PermanentDeliveryError(problem)

    def submit(self, message: Message) -> dict[str, Any]:
        return self._json(self._call("POST", "/documents", content=message.body, headers={
            "Content-Type": "application/xml", "Idempotency-Key": message.key,
            "X-Peppol-Sender": message.sender, "X-Peppol-Receiver": message.recipient}))

    def status(self, message_id: str) -> dict[str, Any]:
        return self._json(self._call("GET", f"/documents/{message_id}"))

    def lookup(self, key: str) -> dict[str, Any] | None:
        response = self._call("GET", "/documents", params={"idempotency_key": key})
        if response.status_code == 404:
            return None
        return self._json(response)

    def close(self) -> None:
        self.client.close()


class PeppolTransport:
    """The `Transport` of the peppol channel, over an `AccessPointAdapter`."""

    resend_is_safe = True  # the access point drops a repeated Idempotency-Key

    def __init__(self, url: str, options: TransportOptions) -> None:
        if options.channel != CHANNEL:
            raise ConfigError(f"{safe_transport_url(url)}: a Peppol access point carries the"
                              " peppol channel only")
        parts = urlsplit(url)
        scheme = parts.scheme.removeprefix("peppol+")
        if scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"peppol transport {safe_transport_url(url)!r}: expected"
                              " peppol+https://[:token@]host/path")
        self.url = safe_transport_url(url)
        self.options = {**_DEFAULTS, **options.gateway}
        token = parts.password or parts.username
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        base = urlunsplit((scheme, netloc, parts.path or "/", "", ""))
        self.adapter: AccessPointAdapter = GenericAccessPoint(
            base, unquote(token) if token else None, float(self.options["timeout_seconds"]),
            self.url)

    def send(self, message: Message) -> Receipt:
        answer = self.adapter.submit(message)
        answer = self._settle(str(answer["id"]), answer)
        return self._receipt(message.key, answer)

    def _settle(self, message_id: str, answer: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + float(self.options["poll_seconds"])
        while True:
            status = str(answer.get("status") or "accepted").lower()
            if status in FINAL_BAD:
                raise PermanentDeliveryError(
                    f"Peppol access point {self.url}: document {message_id} {status}:"
                    f" {answer.get('reason') or 'no reason given'}")
            if status in FINAL_GOOD or time.monotonic() >= deadline:
                return answer
            time.sleep(float(self.options["poll_interval_seconds"]))
            answer = self.adapter.status(message_id)

    def _receipt(self, key: str, answer: dict[str, Any]) -> Receipt:
        status = str(answer.get("status") or "accepted").lower()
        return Receipt(key, self.url, str(answer["id"]), datetime.now(UTC), status)

    def find(self, key: str) -> Receipt | None:
        answer = self.adapter.lookup(key)
        if answer is None or str(answer.get("status", "")).lower() in FINAL_BAD:
            return None
        return self._receipt(key, answer)

    def close(self) -> None:
        close = getattr(self.adapter, "close", None)
        if close is not None:
            close()


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and (data.get("reason") or data.get("error")):
        return str(data.get("reason") or data.get("error"))[:300]
    return " ".join(response.text.split())[:200]


register_transport("peppol+http", PeppolTransport)
register_transport("peppol+https", PeppolTransport)

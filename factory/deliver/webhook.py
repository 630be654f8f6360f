"""The webhook transport: one signed JSON POST per message, to the URL the message names.

Takes ``webhook:`` and `TransportOptions` (``secret``: the HMAC key, from
``FACTORY_WEBHOOK_SECRET``; ``gateway.timeout_seconds``); gives receipts carrying the
receiver's id (its JSON ``id``) or the idempotency key. Every request carries::

    Content-Type: application/json
    Idempotency-Key: <the send's idempotency key, the same on every attempt>
    X-Docfactory-Timestamp: <Unix seconds>
    X-Docfactory-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>." + body, keyed by the secret>

so a receiver checks the signature (and that the timestamp is recent) before trusting the
body, and drops a repeated key: a resend after a crash is harmless (``resend_is_safe``).
Answers are translated here: 2xx accepted; 408, 429, 5xx, timeouts and connection errors
retryable; any other 4xx permanent. Redirects are not followed. Errors name the receiver's
host only: the path of a customer's URL may carry its own token; the secret is never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx

from factory.deliver.transport import TransportOptions, register_transport
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message, Receipt

SIGNATURE_HEADER = "X-Docfactory-Signature"
TIMESTAMP_HEADER = "X-Docfactory-Timestamp"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Docfactory-Signature`` value of ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body,
                      hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookTransport:
    resend_is_safe = True

    def __init__(self, url: str, options: TransportOptions) -> None:
        if not options.secret:
            raise ConfigError(f"{options.channel} transport: no signing key"
                              " (set FACTORY_WEBHOOK_SECRET)")
        self.url = "webhook:"
        self._secret = options.secret
        self.timeout = float(options.gateway.get("timeout_seconds", 10.0))
        self.client = httpx.Client(timeout=self.timeout, follow_redirects=False,
                                   headers={"User-Agent": "docfactory",
                                            "Accept": "application/json"})

    def send(self, message: Message) -> Receipt:
        host = urlsplit(message.recipient).hostname or "?"
        timestamp = str(int(time.time()))
        headers = {"Content-Type": "application/json", "Idempotency-Key": message.key,
                   TIMESTAMP_HEADER: timestamp,
                   SIGNATURE_HEADER: signature(self._secret, timestamp, message.body)}
        try:
            response = self.client.post(message.recipient, content=message.body,
                                        headers=headers)
        except httpx.TimeoutException:
            raise RetryableDeliveryError(
                f"webhook {host}: timed out after {self.timeout} s") from None
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(f"webhook {host}: {type(exc).__name__}") from None
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(message.key, self.url, _receiver_id(response, message.key),
                           datetime.now(UTC), f"HTTP {status}")
        problem = f"webhook {host}: HTTP {status}: {' '.join(response.text.split())[:200]}"
        if status in (408, 429) or status >= 500:
            raise RetryableDeliveryError(problem)
        raise PermanentDeliveryError(problem)

    def find(self, key: str) -> Receipt | None:
        return None

    def close(self) -> None:
        self.client.close()


def _receiver_id(response: httpx.Response, key: str) -> str:
    try:
        data = response.json()
    except ValueError:
        return key
    if isinstance(data, dict) and data.get("id") is not None:
        return str(data["id"])[:200]
    return key


register_transport("webhook", WebhookTransport)

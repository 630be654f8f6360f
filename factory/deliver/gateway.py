"""The HTTP SMS gateway transport: a JSON POST per message, through httpx.

Takes ``https://[:token@]host/path`` (``http://`` too, for a gateway on loopback) and the
``[sms.gateway]`` options; gives receipts carrying the gateway's message id. The body is a JSON
object whose field names the job chooses (``to_field``, ``text_field``, ``sender_field``,
``key_field``, optional ``encoding_field``); the token from the URL goes in ``auth_header``
(``Authorization: Bearer <token>`` by default) and never into the URL sent, a log or an error.
Every request also carries ``Idempotency-Key``: a gateway that honours it (or the key field)
drops a repeated message, which makes a resend after a crash harmless (``resend_is_safe``).

One ``httpx.Client`` per worker process keeps its connections alive. Answers are translated
here: 2xx accepted; 408, 429 and 5xx, timeouts and connection errors retryable; any other 4xx
permanent, with the status and the start of the gateway's answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from factory.deliver.transport import TransportOptions, register_transport, safe_transport_url
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message, Receipt
from factory.urls import mask_urls_in

_DEFAULTS: dict[str, Any] = {
    "to_field": "to", "text_field": "text", "sender_field": "from", "key_field": "reference",
    "encoding_field": None, "id_field": "id", "auth_header": "Authorization",
    "auth_scheme": "Bearer", "timeout_seconds": 10.0,
}


class GatewayTransport:
    resend_is_safe = True

    def __init__(self, url: str, options: TransportOptions) -> None:
        if options.channel != "sms":
            raise ConfigError(f"{safe_transport_url(url)}: an HTTP gateway sends SMS only")
        parts = urlsplit(url)
        if not parts.hostname:
            raise ConfigError(f"sms transport {safe_transport_url(url)!r}: no host")
        self.url = safe_transport_url(url)
        self.options = {**_DEFAULTS, **options.gateway}
        token = parts.password or parts.username
        netloc = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.endpoint = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        headers = {"Accept": "application/json", "User-Agent": "docfactory"}
        if token:
            scheme = self.options["auth_scheme"]
            value = unquote(token)
            headers[self.options["auth_header"]] = f"{scheme} {value}" if scheme else value
        self.client = httpx.Client(headers=headers,
                                   timeout=float(self.options["timeout_seconds"]))

    def send(self, message: Message) -> Receipt:
        o = self.options
        body: dict[str, Any] = {
            o["to_field"]: message.recipient,
            o["text_field"]: message.body.decode("utf-8"),
            o["sender_field"]: message.sender,
            o["key_field"]: message.key,
        }
        if o["encoding_field"]:
            body[o["encoding_field"]] = message.meta.get("encoding")
        try:
            response = self.client.post(self.endpoint, json=body,
                                        headers={"Idempotency-Key": message.key})
        except httpx.TimeoutException:
            raise RetryableDeliveryError(
                f"SMS gateway {self.url}: timed out after {o['timeout_seconds']} s") from None
        except httpx.HTTPError as exc:
            raise RetryableDeliveryError(
                f"SMS gateway {self.url}: {type(exc).__name__}: {mask_urls_in(str(exc))}"
            ) from None
        status = response.status_code
        if 200 <= status < 300:
            return Receipt(message.key, self.url, self._message_id(response, message.key),
                           datetime.now(UTC), f"HTTP {status}")
        text = " ".join(response.text.split())[:200]
        problem = f"SMS gateway {self.url}: HTTP {status}: {text}"
        if status in (408, 429) or status >= 500:
            raise RetryableDeliveryError(problem)
        raise PermanentDeliveryError(problem)

    def _message_id(self, response: httpx.Response, key: str) -> str:
        try:
            data = response.json()
        except ValueError:
            return key
        if isinstance(data, dict) and data.get(self.options["id_field"]) is not None:
            return str(data[self.options["id_field"]])
        return key

    def find(self, key: str) -> Receipt | None:
        return None

    def close(self) -> None:
        self.client.close()


register_transport("http", GatewayTransport)
register_transport("https", GatewayTransport)

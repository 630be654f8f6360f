"""The outbox transport: every message becomes a file, for demos, proofs and dry tests.

Takes ``outbox:///absolute/dir`` (the runner turns ``outbox:relative`` into that); gives
``<dir>/email/<key>.eml`` (the exact RFC 5322 bytes, openable in any mail client) and
``<dir>/sms/<key>.json`` (recipient, sender, text, encoding, segments). Files are written to a
temporary name and renamed, so one is either complete or absent; writing the same key again
replaces the file with the same content (``resend_is_safe``), and an existing file is the proof
``find`` gives after a crash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from factory.deliver.transport import TransportOptions, register_transport
from factory.errors import ConfigError, RetryableDeliveryError
from factory.files import write_atomic
from factory.models import Message, Receipt

_EXTENSIONS = {"email": "eml", "sms": "json"}


class OutboxTransport:
    resend_is_safe = True

    def __init__(self, url: str, options: TransportOptions) -> None:
        parts = urlsplit(url)
        raw = unquote(parts.netloc + parts.path) if parts.netloc not in ("", "localhost") \
            else unquote(parts.path)
        root = Path(raw)
        if not root.is_absolute():
            raise ConfigError(f"outbox URL {url!r}: use outbox:///absolute/path")
        if options.channel not in _EXTENSIONS:
            raise ConfigError(f"outbox: no {options.channel} messages")
        self.channel = options.channel
        self.folder = root / options.channel
        self.url = root.as_uri().replace("file:", "outbox:", 1)

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.{_EXTENSIONS[self.channel]}"

    def send(self, message: Message) -> Receipt:
        path = self._path(message.key)
        if self.channel == "email":
            data = message.body
        else:
            data = json.dumps({
                "key": message.key, "to": message.recipient, "from": message.sender,
                "text": message.body.decode("utf-8"), **dict(message.meta),
            }, ensure_ascii=False, indent=1).encode("utf-8")
        try:
            write_atomic(path, data)
        except OSError as exc:
            raise RetryableDeliveryError(f"outbox {self.folder}: {exc.strerror}") from None
        return Receipt(message.key, self.url, path.name, datetime.now(UTC), str(path))

    def find(self, key: str) -> Receipt | None:
        path = self._path(key)
        if not path.is_file():
            return None
        found = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        return Receipt(key, self.url, path.name, found, f"found {path}")

    def close(self) -> None:
        pass


register_transport("outbox", OutboxTransport)

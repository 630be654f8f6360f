"""Delivery: messages handed to a transport, receipts back.

Takes a transport URL and a `Message`; gives a `Receipt`, or raises `RetryableDeliveryError`
(try again later: SMTP 4xx, HTTP 5xx, a timeout, a dropped connection) or
`PermanentDeliveryError` (SMTP 5xx, HTTP 4xx). The backend is chosen by URL scheme, like the
archive's stores::

    smtp://[user:password@]host[:port][?starttls=auto|require|off&cafile=PATH&timeout=S]
    smtps://[user:password@]host[:port][?cafile=PATH&timeout=S]          (TLS from the start)
    https://[:token@]host/path, http://...   an HTTP SMS gateway (JSON body, auth header)
    outbox:///absolute/dir, outbox:relative   .eml and .json files: the default for demos
    webhook:                                  signed JSON POSTs to each recipient's own URL

Every transport states whether sending the same message again is harmless
(``resend_is_safe``: the outbox rewrites the same file, a gateway deduplicates by idempotency
key) and may prove an earlier delivery (``find``); SMTP can do neither, so the pipeline never
resends an SMTP message whose outcome a crash left unknown. Credentials come only from the URL
and never appear in ``url``, receipts or errors. `close_sessions` ends every SMTP session
of the process with QUIT (also run at process exit).
"""

from factory.deliver.smtp import close_sessions
from factory.deliver.transport import (
    Transport,
    TransportOptions,
    open_transport,
    register_transport,
    safe_transport_url,
)

__all__ = ["Transport", "TransportOptions", "close_sessions", "open_transport",
           "register_transport", "safe_transport_url"]

"""The SMTP transport: one connection per worker process, reused for every message.

Takes ``smtp://`` or ``smtps://`` URLs (see `factory.deliver`) and RFC 5322 message bytes;
gives receipts carrying the Message-ID and the server's reply. ``smtp://`` upgrades with
STARTTLS when the server offers it (``starttls=auto``, the default), insists on it
(``require``) or never does (``off``); ``smtps://`` speaks TLS from the first byte. Certificates
are verified (``cafile=PATH`` adds a private CA). ``user:password@`` logs in after TLS.

The connection is opened on the first send and kept; a connection the server has dropped
while idle is reopened transparently (nothing was sent on it). Every session ends with QUIT:
``close`` sends it, and `close_sessions` (run when the process exits: at interpreter exit, by
multiprocessing's exit finalizers in pool workers, and by Celery's ``worker_process_shutdown``
in its pool children) closes every session this process still has open, so a server never
sees a connection simply dropped after the last DATA. ``rate_per_second`` spaces the
sends of this process. Replies are translated at this edge: 4xx (and a dropped connection or a
timeout) raise `RetryableDeliveryError`, 5xx `PermanentDeliveryError`, both with the code and
the server's text. SMTP gives no way to ask whether a message was delivered, so ``find`` is
always None and ``resend_is_safe`` False.
"""

from __future__ import annotations

import atexit
import os
import smtplib
import ssl
import time
from datetime import UTC, datetime
from email.utils import parseaddr
from urllib.parse import parse_qs, unquote, urlsplit

from factory.deliver.transport import TransportOptions, register_transport, safe_transport_url
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message, Receipt

_STARTTLS = {"auto", "require", "off"}

#: Transports of this process with a session open (held until closed, so that a session
#: whose transport was let go still gets its QUIT), and the process that hooked the exit.
_OPEN: set[SmtpTransport] = set()
_HOOKED: list[int] = []


def close_sessions() -> None:
    """QUIT every SMTP session this process still has open (idempotent)."""
    for transport in list(_OPEN):
        transport.close()


def _close_at_exit() -> None:
    """Hook `close_sessions` to this process's exit, once per process (a forked child
    inherits neither the parent's sessions nor, in multiprocessing, its exit finalizers)."""
    if _HOOKED and _HOOKED[-1] == os.getpid():
        return
    _HOOKED.append(os.getpid())
    atexit.register(close_sessions)  # the main process (inline runs, the CLI)
    from multiprocessing import util

    # Pool workers leave through os._exit, which skips atexit but runs these finalizers.
    util.Finalize(None, close_sessions, exitpriority=10)


class SmtpTransport:
    resend_is_safe = False

    def __init__(self, url: str, options: TransportOptions) -> None:
        parts = urlsplit(url)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.url = safe_transport_url(url)
        self.implicit_tls = parts.scheme == "smtps"
        if not parts.hostname:
            raise ConfigError(f"email transport {self.url!r}: no host")
        self.host = parts.hostname
        try:
            self.port = parts.port or (465 if self.implicit_tls else 25)
        except ValueError:
            raise ConfigError(f"email transport {self.url!r}: bad port") from None
        self.user = unquote(parts.username) if parts.username else None
        self._password = unquote(parts.password) if parts.password else None
        self.starttls = query.get("starttls", "auto")
        if self.starttls not in _STARTTLS:
            raise ConfigError(f"email transport {self.url!r}: starttls must be one of"
                              f" {', '.join(sorted(_STARTTLS))}")
        try:
            self.timeout = float(query.get("timeout", "30"))
        except ValueError:
            raise ConfigError(f"email transport {self.url!r}: timeout must be seconds") from None
        self.local_hostname = query.get("helo") or None
        self.cafile = query.get("cafile") or None
        self._context: ssl.SSLContext | None = None
        self.interval = 1.0 / options.rate_per_second if options.rate_per_second else 0.0
        self._last = 0.0
        self._smtp: smtplib.SMTP | None = None
        self.connections = 0

    # -- connection ----------------------------------------------------------------------

    @property
    def context(self) -> ssl.SSLContext:
        """Built on first use: loading the CA bundle costs tens of milliseconds."""
        if self._context is None:
            self._context = ssl.create_default_context(cafile=self.cafile)
        return self._context

    def _connect(self) -> smtplib.SMTP:
        try:
            if self.implicit_tls:
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                    self.host, self.port, local_hostname=self.local_hostname,
                    timeout=self.timeout, context=self.context)
            else:
                smtp = smtplib.SMTP(self.host, self.port, local_hostname=self.local_hostname,
                                    timeout=self.timeout)
            smtp.ehlo()
            if not self.implicit_tls and self.starttls != "off":
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=self.context)
                    smtp.ehlo()
                elif self.starttls == "require":
                    smtp.close()
                    raise PermanentDeliveryError(
                        f"{self.url}: the server does not offer STARTTLS (starttls=require)")
            if self.user:
                smtp.login(self.user, self._password or "")
        except smtplib.SMTPAuthenticationError as exc:
            raise PermanentDeliveryError(
                f"{self.url}: login refused ({exc.smtp_code} {_text(exc.smtp_error)})") from None
        except smtplib.SMTPResponseException as exc:
            raise _translate(exc.smtp_code, exc.smtp_error, self.url, "connect") from None
        except ssl.SSLError as exc:
            raise PermanentDeliveryError(f"{self.url}: TLS failed: {exc.reason}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableDeliveryError(f"{self.url}: cannot connect: {_os_text(exc)}") from None
        self.connections += 1
        _OPEN.add(self)
        _close_at_exit()
        return smtp

    def close(self) -> None:
        """End the session with QUIT (the socket is closed if the server is gone)."""
        _OPEN.discard(self)
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                smtp.close()

    def _drop(self) -> None:
        _OPEN.discard(self)
        smtp, self._smtp = self._smtp, None
        if smtp is not None:
            smtp.close()

    # -- sending -------------------------------------------------------------------------

    def _pace(self) -> None:
        if self.interval:
            wait = self._last + self.interval - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._last = time.monotonic()

    def send(self, message: Message) -> Receipt:
        self._pace()
        sender = parseaddr(message.sender)[1]
        for attempt in (1, 2):
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            try:
                code, reply = smtp.mail(sender)
            except (TimeoutError, smtplib.SMTPServerDisconnected, ConnectionError):
                # Dropped while idle: nothing of this message was sent. Reconnect once.
                self._drop()
                if attempt == 1:
                    continue
                raise RetryableDeliveryError(f"{self.url}: connection lost") from None
            if code != 250:
                self._reset()
                raise _translate(code, reply, self.url, "MAIL FROM")
            return self._transaction(smtp, message)
        raise AssertionError("unreachable")

    def _transaction(self, smtp: smtplib.SMTP, message: Message) -> Receipt:
        try:
            code, reply = smtp.rcpt(message.recipient)
            if code not in (250, 251):
                self._reset()
                raise _translate(code, reply, self.url, f"RCPT TO <{message.recipient}>")
            code, reply = smtp.data(message.body)
            if code != 250:
                self._reset()
                raise _translate(code, reply, self.url, "DATA")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self._drop()
            raise RetryableDeliveryError(f"{self.url}: connection lost while sending:"
                                         f" {_os_text(exc)}") from None
        except smtplib.SMTPResponseException as exc:
            self._reset()
            raise _translate(exc.smtp_code, exc.smtp_error, self.url, "DATA") from None
        except UnicodeEncodeError:
            self._reset()
            raise PermanentDeliveryError(f"SMTP {self.url}: {message.recipient!r} is not an"
                                         " ASCII address (SMTPUTF8 is not used)") from None
        identifier = str(message.meta.get("message_id") or message.key)
        return Receipt(message.key, self.url, identifier, datetime.now(UTC),
                       f"{code} {_text(reply)}")

    def _reset(self) -> None:
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def find(self, key: str) -> Receipt | None:
        return None


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:200]


def _os_text(exc: BaseException) -> str:
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def _translate(code: int, reply: bytes | str, url: str, step: str
               ) -> RetryableDeliveryError | PermanentDeliveryError:
    text = f"{url}: {step}: {code} {_text(reply)}"
    if 400 <= code < 500 or code < 200:
        return RetryableDeliveryError("SMTP " + text)
    return PermanentDeliveryError("SMTP " + text)


register_transport("smtp", SmtpTransport)
register_transport("smtps", SmtpTransport)

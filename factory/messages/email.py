"""An email message: rendered HTML and text in, the RFC 5322 bytes that are archived and sent.

Takes the subject, the HTML and plain-text bodies, addresses, the idempotency key and optional
attachments; gives the message as bytes (CRLF line ends, ready for SMTP and for an ``.eml``
file). The HTML's ``<style>`` rules are inlined into ``style`` attributes by ``css-inline``
(email clients drop stylesheets), with the brand's CSS variables resolved; ``@media`` rules
stay in a ``<style>`` for the clients that read them. Structure::

    multipart/mixed                       (only with attachments)
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8
    │   └── multipart/related             (only with inline images)
    │       ├── text/html; charset=utf-8
    │       └── image/png                 (the brand's logo, Content-ID <logo@docfactory>)
    └── application/pdf                   (the record's archived letter)

Headers: From, To (with the customer's name), Reply-To, Subject, Date, a deterministic
Message-ID and
``X-Docfactory-Idempotency-Key`` (both derived from the idempotency key, the same on every
attempt, so a receiver can drop a duplicate), and for marketing messages List-Unsubscribe
with List-Unsubscribe-Post (RFC 8058 one-click) when an https target is given. Subject and
To are encoded and folded by `factory.messages.headers` (RFC 2047 words of at most 75
characters, no space lost at a fold), through a policy that leaves every other header to the
standard library.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import format_datetime, parseaddr
from typing import Any

from factory.errors import RenderError
from factory.messages.headers import fold_address, fold_unstructured

IDEMPOTENCY_HEADER = "X-Docfactory-Idempotency-Key"


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes


@dataclass(frozen=True)
class InlineImage:
    """An image the HTML shows as ``cid:<cid>`` (RFC 2392), sent in multipart/related."""

    cid: str
    media_type: str
    data: bytes
    filename: str


class _Policy(EmailPolicy):
    """``email.policy.SMTP``, but Subject and a one-address To folded by `headers`."""

    def _ours(self, name: str, value: Any) -> str | None:
        lower = name.lower()
        if lower == "subject":
            return fold_unstructured(name, str(value))
        addresses = getattr(value, "addresses", None)
        if lower == "to" and addresses and len(addresses) == 1:
            return fold_address(name, addresses[0].display_name, addresses[0].addr_spec)
        return None

    def fold(self, name: str, value: Any) -> str:
        folded = self._ours(name, value)
        return super().fold(name, value) if folded is None else \
            folded.replace("\r\n", self.linesep)

    def fold_binary(self, name: str, value: Any) -> bytes:
        folded = self._ours(name, value)
        if folded is None:
            return super().fold_binary(name, value)
        return folded.replace("\r\n", self.linesep).encode("ascii")


SMTP_POLICY = _Policy(linesep="\r\n")


@dataclass(frozen=True)
class EmailParts:
    subject: str
    html: str
    text: str
    sender: str
    recipient: str
    key: str
    date: datetime
    reply_to: str | None = None
    unsubscribe: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    recipient_name: str | None = None
    inline: tuple[InlineImage, ...] = field(default_factory=tuple)


def message_id(key: str, sender: str) -> str:
    """``<key@sender-domain>``: the same on every attempt of the same send."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "docfactory.invalid"
    return f"<{key}@{domain}>"


class HtmlInliner:
    """css-inline, configured once: no network, CSS variables resolved, @media kept."""

    def __init__(self, extra_css: str = "") -> None:
        import css_inline

        self._error = css_inline.InlineError
        self._inliner = css_inline.CSSInliner(
            keep_at_rules=True, load_remote_stylesheets=False, resolve_css_variables=True,
            extra_css=extra_css or None)

    def inline(self, html: str) -> str:
        try:
            return self._inliner.inline(html)
        except (self._error, ValueError) as exc:
            raise RenderError(f"email.html: CSS could not be inlined: {exc}") from None


def build_email(parts: EmailParts) -> tuple[bytes, str]:
    """The message bytes and its Message-ID."""
    subject = " ".join(parts.subject.split())
    if not subject:
        raise RenderError("email.subject: the template produced an empty subject")
    if not parts.text.strip():
        raise RenderError("email.txt: the template produced an empty text body")
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = parts.sender
    name = " ".join((parts.recipient_name or "").split())
    message["To"] = Address(display_name=name, addr_spec=parts.recipient)
    if parts.reply_to:
        message["Reply-To"] = parts.reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(parts.date)
    identifier = message_id(parts.key, parts.sender)
    message["Message-ID"] = identifier
    message[IDEMPOTENCY_HEADER] = parts.key
    if parts.unsubscribe:
        message["List-Unsubscribe"] = ", ".join(f"<{target}>" for target in parts.unsubscribe)
        if any(target.startswith("https:") for target in parts.unsubscribe):
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message.set_content(parts.text, subtype="plain", charset="utf-8")
    message.add_alternative(parts.html, subtype="html", charset="utf-8")
    if parts.inline:
        html_part = list(message.iter_parts())[1]  # multipart/alternative: text, html
        for image in parts.inline:
            maintype, _, subtype = image.media_type.partition("/")
            html_part.add_related(image.data, maintype=maintype, subtype=subtype,
                                  cid=f"<{image.cid}>", filename=image.filename,
                                  disposition="inline")
    for attachment in parts.attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message.as_bytes(policy=SMTP_POLICY), identifier


__all__ = ["IDEMPOTENCY_HEADER", "SMTP_POLICY", "Attachment", "EmailParts", "HtmlInliner",
           "InlineImage", "build_email", "message_id"]

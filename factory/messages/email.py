"""An email message: rendered HTML and text in, the RFC 5322 bytes that are archived and sent.

Takes the subject, the HTML and plain-text bodies, addresses, the idempotency key and optional
attachments; gives the message as bytes (CRLF line ends, ready for SMTP and for an ``.eml``
file). The HTML's ``<style>`` rules are inlined into ``style`` attributes by ``css-inline``
(email clients drop stylesheets), with the brand's CSS variables resolved; ``@media`` rules
stay in a ``<style>`` for the clients that read them. Structure::

    multipart/mixed                       (only with attachments)
    ├── multipart/alternative
    │   ├── text/plain; charset=utf-8
    │   └── text/html; charset=utf-8
    └── application/pdf                   (the record's archived letter)

Headers: From, To, Reply-To, Subject, Date, a deterministic Message-ID and
``X-Docfactory-Idempotency-Key`` (both derived from the idempotency key, the same on every
attempt, so a receiver can drop a duplicate), and for marketing messages List-Unsubscribe
with List-Unsubscribe-Post (RFC 8058 one-click) when an https target is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, parseaddr

from factory.errors import RenderError

IDEMPOTENCY_HEADER = "X-Docfactory-Idempotency-Key"


@dataclass(frozen=True)
class Attachment:
    filename: str
    media_type: str
    data: bytes


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
    message = EmailMessage(policy=SMTP)
    message["From"] = parts.sender
    message["To"] = Address(addr_spec=parts.recipient)
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
    for attachment in parts.attachments:
        maintype, _, subtype = attachment.media_type.partition("/")
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                               filename=attachment.filename)
    return message.as_bytes(policy=SMTP), identifier


__all__ = ["IDEMPOTENCY_HEADER", "Attachment", "EmailParts", "HtmlInliner", "build_email",
           "message_id"]

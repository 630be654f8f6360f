"""Email: the MIME message as built, and the SMTP transport against a real aiosmtpd server on
loopback (plain, STARTTLS with login, implicit TLS; one connection for many messages; 4xx
retryable, 5xx permanent)."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy

import pytest

from factory.deliver import TransportOptions, open_transport
from factory.errors import PermanentDeliveryError, RenderError, RetryableDeliveryError
from factory.messages.email import (
    IDEMPOTENCY_HEADER,
    Attachment,
    EmailParts,
    HtmlInliner,
    build_email,
)
from factory.models import Message

HTML = """<!DOCTYPE html><html><head><style>
h1 { color: var(--brand-primary); } p.note { font-size: 12px; }
@media (max-width: 480px) { h1 { font-size: 18px; } }
</style></head><body><h1>Prodloužení smlouvy</h1><p class="note">Díky, Jana</p></body></html>"""


def parts(**changes) -> EmailParts:
    values = {"subject": "Prodloužení smlouvy o účtu k 31. 12. 2026",
              "html": HtmlInliner(":root { --brand-primary: #0b3d91; }").inline(HTML),
              "text": "Dobrý den,\nVaše smlouva se prodlužuje.\n",
              "sender": "Northwind Bank <care@northwind.example>",
              "recipient": "jana@example.com", "key": "0f6f6a9e-4c1e-5d55-9d3e-5b8f7c1a2b3c",
              "date": datetime.now(UTC)}
    values.update(changes)
    return EmailParts(**values)


def parse(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


@pytest.mark.fast
def test_message_structure_headers_and_inlined_css() -> None:
    pdf = b"%PDF-1.7 fake letter"
    data, message_id = build_email(parts(attachments=(
        Attachment("notice.pdf", "application/pdf", pdf),)))
    assert b"\r\n" in data and b"\n\n" not in data.replace(b"\r\n", b"")
    message = parse(data)
    assert message["Subject"] == "Prodloužení smlouvy o účtu k 31. 12. 2026"
    assert message["Message-ID"] == message_id == \
        "<0f6f6a9e-4c1e-5d55-9d3e-5b8f7c1a2b3c@northwind.example>"
    assert message[IDEMPOTENCY_HEADER] == "0f6f6a9e-4c1e-5d55-9d3e-5b8f7c1a2b3c"
    assert message["List-Unsubscribe"] is None
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, html = alternative.iter_parts()
    assert text.get_content_type() == "text/plain"
    assert "Vaše smlouva se prodlužuje." in text.get_content()
    assert html.get_content_type() == "text/html"
    body = html.get_content()
    assert '<h1 style="color: #0b3d91;">' in body
    assert 'style="font-size: 12px;"' in body
    assert "@media (max-width: 480px)" in body, "media queries stay for clients that read them"
    assert attachment.get_filename() == "notice.pdf"
    assert attachment.get_content() == pdf


@pytest.mark.fast
def test_marketing_headers_and_no_attachment_means_alternative_only() -> None:
    data, _ = build_email(parts(unsubscribe=("mailto:unsubscribe@northwind.example",
                                             "https://northwind.example/u/C1")))
    message = parse(data)
    assert message.get_content_type() == "multipart/alternative"
    assert message["List-Unsubscribe"].strip() == \
        "<mailto:unsubscribe@northwind.example>, <https://northwind.example/u/C1>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


@pytest.mark.fast
def test_empty_subject_is_a_render_error_and_newlines_cannot_inject_headers() -> None:
    with pytest.raises(RenderError, match=r"email\.subject: the template produced an empty"):
        build_email(parts(subject=" \n "))
    data, _ = build_email(parts(subject="Hello\r\nBcc: victim@example.com"))
    message = parse(data)
    assert message["Bcc"] is None and message["Subject"] == "Hello Bcc: victim@example.com"


def smtp_message(n: int, recipient: str = "jana@example.com") -> Message:
    data, message_id = build_email(parts(key=f"key-{n}", recipient=recipient))
    return Message("email", f"key-{n}", recipient, "Northwind Bank <care@northwind.example>",
                   data, {"message_id": message_id})


def test_many_messages_over_one_connection(smtp_server) -> None:
    transport = open_transport(smtp_server.url(), TransportOptions("email"))
    receipts = [transport.send(smtp_message(n)) for n in range(5)]
    transport.close()
    assert len(smtp_server.messages) == 5
    assert len(smtp_server.handler.peers) == 1, "one connection reused for every message"
    assert transport.connections == 1
    assert receipts[0].message_id == "<key-0@northwind.example>"
    assert receipts[0].detail.startswith("250")
    received = parse(smtp_server.messages[3]["data"])
    assert received[IDEMPOTENCY_HEADER] == "key-3"
    assert smtp_server.messages[0]["from"] == "care@northwind.example"
    assert smtp_server.messages[0]["to"] == ["jana@example.com"]


def test_4xx_is_retryable_and_5xx_permanent_and_the_connection_survives(smtp_server) -> None:
    transport = open_transport(smtp_server.url(), TransportOptions("email"))
    smtp_server.handler.replies = ["451 4.3.0 Mailbox busy, try later",
                                   "550 5.1.1 No such user here"]
    with pytest.raises(RetryableDeliveryError, match=r"451 4\.3\.0 Mailbox busy"):
        transport.send(smtp_message(1))
    with pytest.raises(PermanentDeliveryError, match=r"550 5\.1\.1 No such user"):
        transport.send(smtp_message(2))
    transport.send(smtp_message(3))
    transport.close()
    assert [parse(m["data"])[IDEMPOTENCY_HEADER] for m in smtp_server.messages] == ["key-3"]
    assert len(smtp_server.handler.peers) == 1


def test_a_connection_dropped_while_idle_is_reopened(smtp_server) -> None:
    transport = open_transport(smtp_server.url(), TransportOptions("email"))
    transport.send(smtp_message(1))
    import socket

    # The server (or a NAT) dropped the connection while we were idle.
    transport._smtp.sock.shutdown(socket.SHUT_RDWR)
    transport.send(smtp_message(2))
    transport.close()
    assert len(smtp_server.messages) == 2 and transport.connections == 2


def test_connection_refused_is_retryable() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    transport = open_transport(f"smtp://127.0.0.1:{port}?timeout=2", TransportOptions("email"))
    with pytest.raises(RetryableDeliveryError, match="cannot connect"):
        transport.send(smtp_message(1))


def test_starttls_and_login_with_a_verified_certificate(tls_ca) -> None:
    from tests.support.servers import SmtpServer

    server = SmtpServer(tls="starttls", ca=tls_ca, auth=True)
    try:
        url = server.url(query=f"starttls=require&cafile={tls_ca.path}",
                         userinfo="mailer:s3cret@")
        transport = open_transport(url, TransportOptions("email"))
        assert "s3cret" not in transport.url
        transport.send(smtp_message(1))
        transport.send(smtp_message(2))
        transport.close()
        assert server.handler.logins == ["mailer"]
        assert all(m["tls"] for m in server.messages) and len(server.messages) == 2
        wrong = open_transport(server.url(query=f"cafile={tls_ca.path}",
                                          userinfo="mailer:wrong@"), TransportOptions("email"))
        with pytest.raises(PermanentDeliveryError, match="login refused") as caught:
            wrong.send(smtp_message(3))
        assert "wrong" not in str(caught.value)
        untrusted = open_transport(server.url(query="starttls=require"),
                                   TransportOptions("email"))
        with pytest.raises(PermanentDeliveryError, match="TLS failed"):
            untrusted.send(smtp_message(4))
    finally:
        server.close()


def test_implicit_tls_smtps(tls_ca) -> None:
    from tests.support.servers import SmtpServer

    server = SmtpServer(tls="implicit", ca=tls_ca)
    try:
        transport = open_transport(server.url("smtps", f"cafile={tls_ca.path}"),
                                   TransportOptions("email"))
        transport.send(smtp_message(1))
        transport.close()
        assert len(server.messages) == 1 and server.messages[0]["tls"]
    finally:
        server.close()


def test_starttls_required_but_not_offered_is_permanent(smtp_server) -> None:
    transport = open_transport(smtp_server.url(query="starttls=require"),
                               TransportOptions("email"))
    with pytest.raises(PermanentDeliveryError, match="does not offer STARTTLS"):
        transport.send(smtp_message(1))
    assert smtp_server.messages == []


def test_rate_limit_spaces_sends(smtp_server, monkeypatch) -> None:
    import factory.deliver.smtp as smtp_module

    waits: list[float] = []
    monkeypatch.setattr(smtp_module.time, "sleep", waits.append)
    transport = open_transport(smtp_server.url(), TransportOptions("email", rate_per_second=5))
    for n in range(3):
        transport.send(smtp_message(n))
    transport.close()
    assert len(waits) >= 2 and all(0 < w <= 0.2 for w in waits)

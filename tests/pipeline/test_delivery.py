"""Transports other than SMTP: the HTTP SMS gateway against a real HTTP server on loopback
(accepted, 500 then 200, 400, a timeout), the outbox, the registry, and secrets kept out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from factory.deliver import TransportOptions, open_transport, safe_transport_url
from factory.errors import ConfigError, PermanentDeliveryError, RetryableDeliveryError
from factory.models import Message

SMS = Message("sms", "5d1c3f7e-0000-5000-8000-000000000001", "+420601123456", "Northwind",
              "Vaše smlouva se prodlužuje.".encode(), {"encoding": "UCS-2", "segments": 1})


def gateway_options(**gateway) -> TransportOptions:
    return TransportOptions("sms", gateway=gateway)


def test_gateway_posts_json_with_configured_fields_and_auth_header(sms_gateway) -> None:
    transport = open_transport(sms_gateway.url(), gateway_options(
        to_field="msisdn", text_field="message", sender_field="originator",
        key_field="client_ref", encoding_field="coding", auth_scheme="Token"))
    receipt = transport.send(SMS)
    transport.close()
    (request,) = sms_gateway.requests
    assert request["path"] == "/v1/sms"
    assert request["json"] == {"msisdn": "+420601123456", "message": "Vaše smlouva se prodlužuje.",
                               "originator": "Northwind", "client_ref": SMS.key,
                               "coding": "UCS-2"}
    assert request["headers"]["Authorization"] == "Token tok3n"
    assert request["headers"]["Idempotency-Key"] == SMS.key
    assert receipt.message_id == "gw-1"
    assert "tok3n" not in transport.url and "tok3n" not in receipt.transport


def test_gateway_500_is_retryable_then_200_delivers_once(sms_gateway) -> None:
    sms_gateway.script = [(500, {"error": "upstream busy"})]
    transport = open_transport(sms_gateway.url(), gateway_options())
    with pytest.raises(RetryableDeliveryError, match="HTTP 500"):
        transport.send(SMS)
    transport.send(SMS)
    transport.send(SMS)  # a resend with the same key: the gateway drops it
    assert len(sms_gateway.requests) == 3
    assert list(sms_gateway.delivered) == [SMS.key]


def test_gateway_400_is_permanent_with_the_gateway_answer(sms_gateway) -> None:
    sms_gateway.script = [(400, {"error": "invalid msisdn"})]
    transport = open_transport(sms_gateway.url(), gateway_options())
    with pytest.raises(PermanentDeliveryError, match=r"HTTP 400.*invalid msisdn"):
        transport.send(SMS)
    assert sms_gateway.delivered == {}


def test_gateway_timeout_is_retryable_and_named(sms_gateway) -> None:
    sms_gateway.script = [("sleep", 1.5)]
    transport = open_transport(sms_gateway.url(), gateway_options(timeout_seconds=0.3))
    with pytest.raises(RetryableDeliveryError, match=r"timed out after 0\.3 s") as caught:
        transport.send(SMS)
    assert "tok3n" not in str(caught.value)


@pytest.mark.fast
def test_gateway_refuses_email() -> None:
    with pytest.raises(ConfigError, match="sends SMS only"):
        open_transport("https://gw.example/v1", TransportOptions("email"))


@pytest.mark.fast
def test_outbox_writes_files_atomically_and_finds_them(tmp_path: Path) -> None:
    sms = open_transport(f"outbox://{tmp_path}", TransportOptions("sms"))
    assert sms.find(SMS.key) is None
    receipt = sms.send(SMS)
    path = tmp_path / "sms" / f"{SMS.key}.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["to"] == "+420601123456" and data["text"] == "Vaše smlouva se prodlužuje."
    assert data["encoding"] == "UCS-2" and data["segments"] == 1
    assert receipt.message_id == path.name
    assert sms.find(SMS.key).message_id == path.name
    mail = open_transport(f"outbox://{tmp_path}", TransportOptions("email"))
    mail.send(Message("email", "k1", "a@example.com", "b@example.com", b"Subject: x\r\n\r\nhi"))
    assert (tmp_path / "email" / "k1.eml").read_bytes() == b"Subject: x\r\n\r\nhi"
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".")]
    with pytest.raises(ConfigError, match="absolute"):
        open_transport("outbox:relative/dir", TransportOptions("sms"))


@pytest.mark.fast
def test_unknown_scheme_and_safe_urls() -> None:
    with pytest.raises(ConfigError, match="unknown scheme"):
        open_transport("carrier-pigeon://loft", TransportOptions("sms"))
    assert safe_transport_url("smtp://mailer:s3cret@mx.example:587?starttls=require") == \
        "smtp://mailer:***@mx.example:587?starttls=require"
    assert safe_transport_url("https://:tok3n@gw.example/v1") == "https://***@gw.example/v1"
    assert safe_transport_url("outbox:///var/outbox") == "outbox:///var/outbox"


@pytest.mark.fast
def test_delivery_log_protocol(index_url: str) -> None:
    """sending before the transport, sent with the document row in one transaction, failed
    and unknown with reasons, print queued once; the claim guards the send."""
    from datetime import UTC, datetime, timedelta

    from factory.archive import Slot, delivery_key, open_index
    from factory.errors import ArchiveError
    from factory.models import ArchiveEntry, DeliveryStatus

    index = open_index(index_url)
    slot = Slot("renewal_notice", "2026-12", "C1", "email", "renewal_notice")
    key = delivery_key("renewal_notice", "2026-12", "C1", "renewal_notice", "email")
    assert key == delivery_key("renewal_notice", "2026-12", "C1", "renewal_notice", "email")
    claim = index.claims.claim(slot, "run1")
    assert index.deliveries.begin(claim, key, document_id="d1", storage_key="j/p/C1/d1.eml",
                                  recipient="a@example.com", transport="smtp://mx") == 1
    index.deliveries.finish(key, DeliveryStatus.FAILED, reason="SMTP 451 try later")
    row = index.deliveries.get(key)
    assert (row.status, row.reason, row.attempts) == ("failed", "SMTP 451 try later", 1)
    assert index.deliveries.begin(claim, key, document_id="d1", storage_key="j/p/C1/d1.eml",
                                  recipient="a@example.com", transport="smtp://mx") == 2
    again = index.deliveries.get(key)
    assert again.status == "sending" and again.reason is None
    now = datetime.now(UTC)
    entry = ArchiveEntry("d1", "renewal_notice", "run1", "2026-12", "C1", "C1",
                         "renewal_notice", "email", "cs", "v" * 64, None, 10, "0" * 64,
                         "j/p/C1/d1.eml", "message/rfc822", now, now + timedelta(days=1))
    index.claims.complete(claim, entry, {"key": key, "message_id": "<k@x>", "sent_at": now})
    row = index.deliveries.get(key)
    assert (row.status, row.message_id, row.attempts) == ("sent", "<k@x>", 2)
    assert index.documents.find(slot).document_id == "d1" and index.claims.held() == 0
    with pytest.raises(ArchiveError, match="taken over"):
        index.deliveries.begin(claim, key, document_id="d1", storage_key="x", recipient="a",
                               transport="t")
    print_slot = Slot("renewal_notice", "2026-12", "C1", "print", "renewal_notice")
    print_key = delivery_key("renewal_notice", "2026-12", "C1", "renewal_notice", "print")
    assert index.deliveries.queue_print(print_slot, print_key, run_id="run1", document_id="p1",
                                        storage_key="j/p/C1/p1.pdf", recipient="C1")
    assert not index.deliveries.queue_print(print_slot, print_key, run_id="run2", document_id="p1",
                                            storage_key="j/p/C1/p1.pdf", recipient="C1")
    assert index.deliveries.existing("renewal_notice", "2026-12", "print", "renewal_notice",
                                     ["C1", "C2"], ("queued",)) == {"C1"}
    assert [r.channel for r in index.deliveries.where(record_key="C1")] in (
        ["email", "print"], ["print", "email"])
    index.close()

"""Routing: the preferred channel with fallbacks, consent and address checks, regulatory print,
as a pure function of the job and the validated record."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from factory.errors import ConfigError
from factory.jobs import load_job
from factory.jobs.spec import parse_job
from factory.models import Position, Record
from factory.routing import check_email, check_phone, route_record
from tests.conftest import REPO

pytestmark = pytest.mark.fast

RENEWAL = REPO / "jobs" / "renewal_notice.toml"


def renewal(**changes: Any):
    data = tomllib.loads(RENEWAL.read_text(encoding="utf-8"))
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    return parse_job(data, RENEWAL)


def record(**data: Any) -> Record:
    base = {"customer_id": "C000001", "name": "Jana Nováková", "locale": "cs",
            "email": "jana.novakova@example.com", "phone": "+420 601 123 456",
            "preferred_channel": "email", "consent_email": True, "consent_sms": True}
    base.update(data)
    return Record("C000001", "C000001", "cs", Position("customers.csv", 1, 2), base)


def test_preferred_channel_with_valid_address_and_consent() -> None:
    route = route_record(load_job(RENEWAL), record())
    assert route.channels == ("pdf", "email")
    assert route.suppressed == () and route.failure is None
    assert route.email == "jana.novakova@example.com"


def test_invalid_email_falls_back_to_sms_with_the_reason() -> None:
    route = route_record(load_job(RENEWAL), record(email="jana.novakova@@example"))
    assert route.channels == ("pdf", "sms")
    ((channel, reason),) = route.suppressed
    assert channel == "email" and reason.startswith("invalid email address")
    assert route.phone == "+420601123456"


@pytest.mark.parametrize(("changes", "reason"), [
    ({"consent_email": False}, "no consent (consent_email is False)"),
    ({"consent_email": None}, "consent missing (consent_email is empty)"),
    ({"email": None}, "no email address"),
])
def test_no_consent_or_no_address_suppresses(changes: dict, reason: str) -> None:
    route = route_record(load_job(RENEWAL), record(**changes))
    assert route.suppressed == (("email", reason),)
    assert route.channels == ("pdf", "sms")


def test_sms_preferred_then_print_when_nothing_electronic_works() -> None:
    job = load_job(RENEWAL)
    route = route_record(job, record(preferred_channel="sms", phone="12", email="x"))
    assert route.channels == ("pdf", "print")
    reasons = dict(route.suppressed)
    assert reasons["sms"].startswith("unparseable phone number") or \
        reasons["sms"].startswith("invalid phone number")
    assert reasons["email"].startswith("invalid email address")
    assert route.failure is None


def test_phone_without_country_uses_the_job_region_and_landlines_are_refused() -> None:
    assert check_phone("601 123 456", "CZ") == ("+420601123456", None)
    assert check_phone("0903 123 456", "SK") == ("+421903123456", None)
    assert check_phone("+420 224 123 456", "CZ") == (None, "not a mobile phone number")
    assert check_phone("call me", "CZ")[1].startswith("unparseable phone number")
    assert check_email("Jana.Novakova@Example.COM") == ("Jana.Novakova@example.com", None)
    assert check_email("jana@příklad.cz") == ("jana@xn--pklad-zsa96e.cz", None)
    assert check_email("jána@example.com") == (
        None, "email address needs SMTPUTF8 (a non-ASCII mailbox name)")


def test_no_usable_channel_is_a_failure_naming_every_reason() -> None:
    job = renewal(routing__fallback=["email", "sms"])
    route = route_record(job, record(email="", consent_sms=False, preferred_channel=None))
    assert route.failure == ("no channel can take it: email: no email address;"
                             " sms: no consent (consent_sms is False)")


def test_regulatory_document_types_always_go_to_print_too() -> None:
    job = renewal(routing__print_document_types=["renewal_notice"])
    route = route_record(job, record())
    assert route.channels == ("pdf", "print", "email")


def test_without_routing_every_channel_is_a_target_and_an_unusable_one_fails() -> None:
    data = tomllib.loads(RENEWAL.read_text(encoding="utf-8"))
    del data["routing"]
    data["channels"] = ["pdf", "email"]
    job = parse_job(data, RENEWAL)
    assert route_record(job, record()).channels == ("pdf", "email")
    bad = route_record(job, record(consent_email="no"))
    assert bad.failure == "email: no consent (consent_email is no)"


def test_route_is_a_pure_function() -> None:
    job = load_job(RENEWAL)
    assert route_record(job, record()) == route_record(job, record())


@pytest.mark.parametrize(("changes", "message"), [
    ({"routing__fallback": ["fax"]}, "routing.fallback"),
    ({"channels": ["pdf", "email"], "routing__fallback": ["email", "sms"]},
     "'sms' is not in channels"),
    ({"channels": ["print", "email", "sms"]}, "add 'pdf'"),
    ({"routing__always": []}, "routing.always: add 'pdf'"),
    ({"email__consent_field": "consent_mail"}, "email.consent_field 'consent_mail'"),
    ({"sms__default_region": "cz"}, "sms.default_region"),
    ({"email__sender": "nobody"}, "email.sender"),
    ({"email__bogus": 1}, "email.bogus: unknown key"),
])
def test_channel_sections_are_checked(changes: dict, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        renewal(**changes)
    assert message in str(caught.value)


def test_marketing_email_needs_an_unsubscribe_target() -> None:
    with pytest.raises(ConfigError, match="unsubscribe"):
        renewal(email__message_class="marketing")
    job = renewal(email__message_class="marketing",
                  email__unsubscribe=["https://northwind.example/u/{customer_id}"])
    assert job.email.unsubscribe


def test_the_renewal_job_loads(tmp_path: Path) -> None:
    job = load_job(RENEWAL)
    assert job.channels == ["pdf", "print", "email", "sms"]
    assert job.sms.max_segments == 4 and job.email.attach_pdf

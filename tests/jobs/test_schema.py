"""Record validation: types, blanks, line items, locales and keys, with named fields."""

from __future__ import annotations

from decimal import Decimal

import pytest

from factory.errors import RecordError
from factory.jobs import RecordSchema, load_job
from factory.models import Position, RawRecord
from tests.conftest import STATEMENT_JOB

pytestmark = pytest.mark.fast

GOOD = {
    "customer_id": "C000001", "name": "Jana Nováková", "email": "jana@example.com",
    "phone": "+420 601 123 456", "locale": "cs", "currency": "CZK",
    "address_line1": "Husova 5", "address_line2": "", "postal_code": "110 00",
    "city": "Praha 1", "country": "CZ", "account_iban": "CZ6508000000192000145399",
    "opening_balance": "1000.50", "preferred_channel": "email", "consent_email": "true",
    "consent_sms": "", "transactions": [
        {"date": "2026-11-03", "description": "Albert", "amount": "-120.00", "reference": ""},
    ],
}


@pytest.fixture(scope="module")
def schema() -> RecordSchema:
    return RecordSchema(load_job(STATEMENT_JOB))


def raw(**changes: object) -> RawRecord:
    data = dict(GOOD)
    data.update(changes)
    return RawRecord(Position("customers.csv", 1, 2), data)


def test_valid_record_is_json_safe_and_typed_back(schema: RecordSchema) -> None:
    record = schema.validate(raw())
    assert record.key == "C000001" and record.customer_id == "C000001"
    assert record.locale == "cs"
    assert record.data["opening_balance"] == "1000.50"
    assert record.data["address_line2"] is None
    assert record.data["phone"] == "+420601123456"
    typed = schema.typed(record.data)
    assert typed["opening_balance"] == Decimal("1000.50")
    assert typed["transactions"][0]["amount"] == Decimal("-120.00")
    assert typed["consent_email"] is True


@pytest.mark.parametrize(("changes", "field", "expected"), [
    ({"opening_balance": "12,50 Kč"}, "opening_balance", "expected a decimal number"),
    ({"name": "   "}, "name", "required, but empty"),
    ({"currency": "XYZ"}, "currency", "must be one of"),
    ({"email": "not-an-email"}, "email", "not a valid email address"),
    ({"phone": "12345"}, "phone", "international form"),
    ({"customer_id": "X1"}, "customer_id", "String should match pattern"),
    ({"country": "Czechia"}, "country", "String should match pattern"),
])
def test_bad_field_is_named(schema: RecordSchema, changes: dict, field: str,
                            expected: str) -> None:
    with pytest.raises(RecordError) as caught:
        schema.validate(raw(**changes))
    assert caught.value.field == field
    assert expected in caught.value.reason


def test_missing_field(schema: RecordSchema) -> None:
    data = dict(GOOD)
    del data["city"]
    with pytest.raises(RecordError) as caught:
        schema.validate(RawRecord(Position("x.jsonl", 3), data))
    assert caught.value.field == "city"
    assert "required, missing" in caught.value.reason


def test_line_item_error_names_the_item(schema: RecordSchema) -> None:
    items = [dict(GOOD["transactions"][0]), {"date": "2026-13-40", "description": "x",
                                             "amount": "1"}]
    with pytest.raises(RecordError) as caught:
        schema.validate(raw(transactions=items))
    assert caught.value.field == "transactions[2].date"
    assert "expected a date like 2026-11-30" in caught.value.reason


def test_non_utf8_bytes_are_rejected_by_field(schema: RecordSchema) -> None:
    broken = b"Nov\xe1kov\xe1".decode("utf-8", errors="surrogateescape")
    with pytest.raises(RecordError) as caught:
        schema.validate(raw(name=broken))
    assert caught.value.field == "name"
    assert "not valid UTF-8" in caught.value.reason


def test_problem_list_is_capped(schema: RecordSchema) -> None:
    with pytest.raises(RecordError) as caught:
        schema.validate(raw(name="", city="", country="", postal_code="", currency=""))
    assert "and 2 more problem(s)" in caught.value.reason


def schema_without(field: str, constraint: str) -> RecordSchema:
    """The statement schema with one constraint of one field removed."""
    job = load_job(STATEMENT_JOB)
    fields = dict(job.record_schema.fields)
    fields[field] = fields[field].model_copy(update={constraint: None})
    return RecordSchema(job.model_copy(update={"record_schema": job.record_schema.model_copy(
        update={"fields": fields})}))


@pytest.mark.parametrize(("value", "locale"), [("cs", "cs"), ("cs_CZ", "cs"), ("", "en")])
def test_locale_normalised_or_defaulted(value: str, locale: str) -> None:
    schema = schema_without("locale", "choices")
    assert schema.validate(raw(locale=value)).locale == locale


def test_unknown_locale_rejected() -> None:
    with pytest.raises(RecordError, match="locale 'de' is not one of"):
        schema_without("locale", "choices").validate(raw(locale="de"))


def test_key_that_could_escape_a_path_is_rejected() -> None:
    with pytest.raises(RecordError, match="becomes part of a storage path"):
        schema_without("customer_id", "pattern").validate(raw(customer_id="../../etc"))

"""Statements with an amount due print the bank details and a payment QR code on page 1.

Rendered for real (WeasyPrint), read back with pypdf and decoded with an independent QR reader
(zxing-cpp): QR Platba (SPAYD) for a CZK statement, PAY by square for EUR, the amount, IBAN,
BIC and variable symbol the page prints; a statement with nothing due has neither.
"""

from __future__ import annotations

import io
import tomllib
from datetime import date
from pathlib import Path

import pytest
import tomli_w
from pypdf import PdfReader

from factory.config import load_settings
from factory.errors import ConfigError
from factory.jobs import load_job
from factory.models import Period
from factory.pipeline.document import DocumentRenderer
from tests.conftest import REPO, STATEMENT_JOB
from tests.invoicing.test_payment_qr import by_square_fields, qr_codes
from tests.render.test_render import statement_record

PAYMENT = {"payee": "Northwind Bank a.s.", "iban": "CZ6508000000192000145399",
           "bic": "GIBACZPX", "amount_field": "amount_due", "payment_days": 10}


def payment_job(folder: Path, **payment: object) -> Path:
    spec = tomllib.loads(STATEMENT_JOB.read_text(encoding="utf-8"))
    spec["source"]["path"] = str(REPO / spec["source"]["path"])
    spec["source"]["items"]["path"] = str(REPO / spec["source"]["items"]["path"])
    spec["payment"] = {**PAYMENT, **payment}
    spec["schema"]["fields"]["amount_due"] = {"type": "decimal", "required": False, "min": 0}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "statements.toml"
    path.write_text(tomli_w.dumps(spec), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def renderer(tmp_path_factory: pytest.TempPathFactory) -> DocumentRenderer:
    settings = load_settings(REPO, {}, var_dir=str(tmp_path_factory.mktemp("var")))
    job = load_job(payment_job(tmp_path_factory.mktemp("jobs")))
    return DocumentRenderer(job, settings, Period.parse("2026-11"), date(2026, 12, 1))


def render(renderer: DocumentRenderer, **changes: object) -> bytes:
    _html, artifact = renderer.render(statement_record(**changes), "doc-1")
    return artifact.data


def page_one(pdf: bytes) -> str:
    text = PdfReader(io.BytesIO(pdf)).pages[0].extract_text()
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def test_czk_statement_with_an_amount_due_carries_qr_platba(renderer: DocumentRenderer
                                                            ) -> None:
    pdf = render(renderer, locale="cs", currency="CZK", amount_due="1234.5")
    codes = qr_codes(pdf)
    assert len(codes) == 1 and codes[0].startswith("SPD*1.0*")
    fields = dict(part.split(":", 1) for part in codes[0].split("*")[2:] if ":" in part)
    assert fields["ACC"].startswith("CZ6508000000192000145399")
    assert (fields["AM"], fields["CC"], fields["X-VS"], fields["DT"]) == \
        ("1234.50", "CZK", "000042", "20261211")
    text = page_one(pdf)
    assert "Částka k úhradě: 1 234,50 Kč" in text
    assert "CZ65 0800 0000 1920 0014 5399" in text and "GIBACZPX" in text
    assert "Variabilní symbol 000042" in text


def test_eur_statement_with_an_amount_due_carries_pay_by_square(renderer: DocumentRenderer
                                                                ) -> None:
    pdf = render(renderer, locale="sk", currency="EUR", amount_due="80.10")
    codes = qr_codes(pdf)
    assert len(codes) == 1
    fields = by_square_fields(codes[0])
    assert "80.10" in fields and "EUR" in fields and "20261211" in fields and "000042" in fields
    assert "CZ6508000000192000145399" in fields and "GIBACZPX" in fields
    text = page_one(pdf)
    assert "Suma na úhradu: 80,10 €" in text and "Variabilný symbol 000042" in text


@pytest.mark.parametrize("due", [None, "0", "0.00"])
def test_a_statement_with_nothing_due_has_no_payment_block(renderer: DocumentRenderer,
                                                           due: str | None) -> None:
    pdf = render(renderer, locale="cs", currency="CZK", amount_due=due)
    assert qr_codes(pdf) == []
    assert "Variabilní symbol" not in page_one(pdf)


def test_a_payment_table_naming_a_missing_field_or_a_bad_iban_is_a_job_error(tmp_path: Path
                                                                             ) -> None:
    from factory.invoicing.statement_payment import check_job

    job = load_job(payment_job(tmp_path, amount_field="owed", iban="CZ6508000000192000145398"))
    with pytest.raises(ConfigError) as caught:
        check_job(job)
    problems = str(caught.value) + " ".join(getattr(caught.value, "problems", []) or [])
    assert "payment.amount_field" in problems and "payment.iban" in problems

"""``[invoice]`` and ``[payment]``: numbering, seller and payment details of a job."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SellerSpec(_Strict):
    """The invoicing party (EN 16931 BG-4), printed on every invoice and put in its XML."""

    name: str = Field(min_length=1)
    vat_id: str = Field(pattern=r"^[A-Z]{2}[0-9A-Za-z+*.]{2,13}$")
    legal_id: str | None = None
    address_line1: str = Field(min_length=1)
    postal_code: str = Field(min_length=1)
    city: str = Field(min_length=1)
    country: str = Field(pattern=r"^[A-Z]{2}$")
    iban: str = Field(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    email: str | None = None


class PaymentSpec(_Strict):
    """``[payment]``: a document that may ask for a payment (a statement with an amount due)
    prints the payee's bank details and a payment QR code when its record's ``amount_field``
    is above zero: QR Platba (SPAYD) for CZK, PAY by square for EUR."""

    payee: str = Field(min_length=1, max_length=70)
    iban: str = Field(pattern=r"^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$")
    bic: str | None = Field(default=None, pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")
    #: the record field holding the amount due (decimal; nothing is printed when it is 0)
    amount_field: str = "amount_due"
    #: the record field whose digits are the variable symbol (at most 10)
    reference_field: str = "customer_id"
    payment_days: int = Field(default=14, ge=0, le=365)


class InvoiceSpec(_Strict):
    """``[invoice]``: numbering, seller and currencies of an invoice run (EN 16931)."""

    series: str = Field(default="FV{year}", min_length=1, max_length=40)
    credit_note_series: str | None = Field(default=None, max_length=40)
    number_format: str = Field(default="{series}{number:06d}", min_length=1)
    accounting_currency: str = Field(default="CZK", pattern=r"^[A-Z]{3}$")
    payment_days: int = Field(default=14, ge=0, le=365)
    #: "official": every e-invoice is checked against its syntax's XSD and official Schematron
    #: rules before its number is used; "xsd": the XSD only (benchmarks, never production)
    validation: Literal["official", "xsd"] = "official"
    #: also write the ISDOC 6.0.2 XML (Czechia), checked against the official ISDOC XSD before
    #: the number is used, embedded in the PDF/A-3 beside the Factur-X XML and attached to the
    #: email with the PDF
    isdoc: bool = False
    seller: SellerSpec

    @model_validator(mode="after")
    def _formats(self) -> InvoiceSpec:
        for name in ("series", "credit_note_series"):
            value = getattr(self, name)
            if value is not None:
                try:
                    value.format(year=2026, month=11)
                except (KeyError, IndexError, ValueError):
                    raise ValueError(f"{name} may only use {{year}} and {{month}}") from None
        try:
            self.number_format.format(series="X", number=1, year=2026)
        except (KeyError, IndexError, ValueError):
            raise ValueError("number_format may only use {series}, {number} and {year}"
                             ) from None
        return self

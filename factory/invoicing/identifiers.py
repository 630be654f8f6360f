"""Checks of the identifiers an invoice states, with checksums (never only a pattern).

Takes a VAT id (IČ DPH / DIČ with its country prefix), a company id (IČO), a Slovak tax id
(DIČ), an IBAN or a BIC; gives None when it is valid, else the reason. The checks are the
maintained libraries': ``python-stdnum`` (EU VAT numbers of every member state, the Czech
IČO/DIČ, the Slovak DIČ/IČ DPH) and ``schwifty`` (IBAN check digits and national bank codes,
BIC structure and, where schwifty knows the bank, that the BIC is the IBAN's bank's).
"""

from __future__ import annotations

from stdnum.exceptions import ValidationError


def vat_id_problem(value: str) -> str | None:
    from stdnum.eu import vat

    try:
        vat.validate(value)
    except ValidationError as exc:
        return f"{value!r} is not a valid EU VAT id ({exc})"
    return None


def company_id_problem(value: str, country: str) -> str | None:
    """An IČO: the Czech one has the mod-11 check of ``stdnum.cz.dic`` (a legal person's DIČ
    is CZ + IČO). For Slovakia python-stdnum has no IČO module: only its form is checked."""
    compact = "".join(value.split())
    if not (compact.isdigit() and len(compact) == 8):
        return f"{value!r} is not an IČO (8 digits)"
    if country == "CZ":
        from stdnum.cz import dic

        if not dic.is_valid(compact):
            return f"{value!r} is not a valid IČO (check digit)"
    return None


def slovak_tax_id_problem(value: str) -> str | None:
    """A Slovak DIČ (10 digits): valid when SK + DIČ passes ``stdnum.sk.dph``."""
    from stdnum.sk import dph

    compact = "".join(value.split()).upper().removeprefix("SK")
    if not (compact.isdigit() and len(compact) == 10) or not dph.is_valid("SK" + compact):
        return f"{value!r} is not a valid Slovak DIČ"
    return None


def iban_problem(value: str) -> str | None:
    from schwifty import IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        IBAN(value)
    except SchwiftyException as exc:
        return f"{value!r} is not a valid IBAN ({exc})"
    return None


def bic_problem(value: str, iban: str | None = None) -> str | None:
    from schwifty import BIC, IBAN
    from schwifty.exceptions import SchwiftyException

    try:
        bic = BIC(value)
    except SchwiftyException as exc:
        return f"{value!r} is not a valid BIC ({exc})"
    if iban is not None:
        try:
            known = IBAN(iban).bic
        except SchwiftyException:
            return None
        if known is not None and str(known)[:8] != str(bic)[:8]:
            return f"{value!r} is not the BIC of the IBAN's bank ({known})"
    return None

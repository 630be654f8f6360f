"""The proof report: ``report.html`` for people and ``report.json`` for machines.

Takes a `ProofReport` whose record folders (PDFs and page images) are already written; gives
the two files in its output folder, each written to a temporary name and renamed into place.
The HTML is rendered from ``report.html.j2`` (beside this module) in Jinja's immutable sandbox
with autoescaping, so record data, file names and error messages can never inject markup;
images are linked relatively (``records/<key>/...png``), so the folder can be moved or zipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from factory.files import write_atomic
from factory.proofs.result import ProofReport, RecordProof

TEMPLATE = "report.html.j2"


def _diff_class(line: str, position: int) -> str:
    """CSS class of a unified-diff line; the first two lines are the file headers."""
    if position < 2 or line.startswith("@@"):
        return "hunk"
    if line.startswith("+"):
        return "add"
    if line.startswith("-"):
        return "del"
    return "ctx"


def _record_dir(record: RecordProof) -> str:
    return "records/" + quote(record.key, safe="")


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(Path(__file__).parent)), autoescape=True,
        undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["thousands"] = lambda value: f"{int(value):,}"
    env.globals.update(diff_class=_diff_class, rec_dir=_record_dir)
    return env


def render_html(report: ProofReport) -> str:
    return _environment().get_template(TEMPLATE).render(r=report)


def write_report(report: ProofReport) -> Path:
    """Write ``report.json`` and ``report.html``; return the HTML's path."""
    report.out_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(report.out_dir / "report.json",
                  json.dumps(report.as_dict(), ensure_ascii=False, indent=2) + "\n")
    write_atomic(report.html_path, render_html(report))
    return report.html_path

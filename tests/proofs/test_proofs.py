"""Proofs with real components: templates changed in a real git repository, both versions
rendered by WeasyPrint, read back with PDFium, diffed with Pillow; the layout checks
on what is really drawn; versions resolved from git and from the archive store."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from factory.archive import open_index, open_store, template_snapshot_key
from factory.archive.versions import keep_version
from factory.cli.app import cli, load_commands
from factory.errors import ArchiveError, ConfigError, IntegrityError
from factory.jobs import RecordSchema, load_job
from factory.models import Period
from factory.proofs import ProofOptions, resolve_ref, run_proof, working_tree
from factory.proofs.layout import recipient_text
from factory.sources import open_source
from factory.templates.templateset import TemplateSet
from tests.proofkit import (
    TWO_CUSTOMERS,
    commit,
    customer,
    edit,
    latin_only_fonts,
    make_project,
    project_settings,
    proof_job,
    write_records,
)

load_commands()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "project")


@pytest.fixture
def job_path(tmp_path: Path) -> Path:
    records = write_records(tmp_path / "data" / "customers.jsonl", TWO_CUSTOMERS)
    return proof_job(tmp_path / "jobs", records)


def cli_env(project: Path, tmp_path: Path) -> dict[str, str]:
    return {"FACTORY_HOME": str(project), "FACTORY_VAR": str(tmp_path / "var"),
            "FACTORY_WORKERS": "1"}


def proof_cli(project: Path, tmp_path: Path, job: Path, ref: str, out: Path, *extra: str):
    return CliRunner().invoke(
        cli, ["proof", str(job), "--against", ref, "--period", "2026-11", "--out", str(out),
              *extra], env=cli_env(project, tmp_path), catch_exceptions=False)


def api_proof(project: Path, tmp_path: Path, job_file: Path, ref: str, out: Path):
    settings = project_settings(project, tmp_path / "var")
    job = load_job(job_file)
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    against = resolve_ref(ref, job, settings, index, store, scratch)
    return run_proof(job, settings, open_source(job, settings), RecordSchema(job),
                     working_tree(settings), against,
                     ProofOptions(Period.parse("2026-11"), date(2026, 12, 1), out), index)


def findings(report_json: dict, key: str, side: str = "new") -> list[dict]:
    (record,) = [r for r in report_json["records"] if r["key"] == key]
    return record[side]["findings"]


def test_colour_change_shows_pixels_and_passes_address_move_fails(
        project: Path, job_path: Path, tmp_path: Path) -> None:
    # 1. Only a colour changes: every record shows a pixel diff, no text diff, checks pass.
    edit(project, "assets/northwind/brand.toml", 'primary = "#0b3d91"', 'primary = "#b0178a"')
    out = tmp_path / "proof-colour"
    result = proof_cli(project, tmp_path, job_path, "HEAD", out)
    assert result.exit_code == 1, result.output
    assert "changed: 2 of 2 record(s) changed, 0 failing" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "changed"
    assert report["against"]["label"].startswith("git HEAD")
    assert report["current"]["version"] != report["against"]["version"]
    for record in report["records"]:
        assert record["changed"] and not record["failed"]
        assert record["changed_pixels"] > 500
        assert record["text_diff_lines"] == 0, "a colour does not change the text"
        assert record["new"]["findings"] == [] and record["old"]["findings"] == []
        first = record["pages"][0]
        assert first["box"] is not None and first["ratio"] < 0.2
    # The files a reviewer opens: both page images, the overlay with red changed pixels.
    folder = out / "records" / "C000001"
    old, new = Image.open(folder / "old-1.png"), Image.open(folder / "new-1.png")
    assert old.size == new.size and old.tobytes() != new.tobytes()
    overlay = Image.open(folder / "diff-1.png").convert("RGB")
    assert (230, 0, 60) in {colour for _, colour in overlay.getcolors(1 << 20)}
    assert (folder / "old.pdf").read_bytes().startswith(b"%PDF")
    html = (out / "report.html").read_text()
    assert 'src="records/C000001/diff-1.png"' in html and "C000002" in html

    # 2. The address block moves below the envelope window: the layout check fails.
    commit(project, "purple brand")
    edit(project, "templates/_shared/base.css", "top: calc(var(--window-top) - 18mm)",
         "top: calc(var(--window-top) + 25mm)")
    out = tmp_path / "proof-address"
    result = proof_cli(project, tmp_path, job_path, "HEAD", out)
    assert result.exit_code == 3, result.output
    assert "address block outside the envelope window" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "failed" and report["records_failed"] == 2
    for key in ("C000001", "C000002"):
        (finding,) = findings(report, key)
        assert finding["check"] == "address-window" and finding["page"] == 1
        assert "y 45–85 mm" in finding["message"]
        assert findings(report, key, "old") == [], "the committed version was fine"
    assert "Amelia Smith" in findings(report, "C000001")[0]["message"]


def test_missing_cyrillic_glyphs_are_reported(project: Path, job_path: Path,
                                              tmp_path: Path) -> None:
    latin_only_fonts(project)
    report = api_proof(project, tmp_path, job_path, "HEAD", tmp_path / "proof")
    by_key = {r.key: r for r in report.records}
    ukrainian = by_key["C000002"]
    assert ukrainian.failed
    missing = [f for f in ukrainian.new.findings if f.check == "missing-glyph"]
    assert [f.page for f in missing] == list(range(1, ukrainian.new.pages + 1))
    message = missing[0].message
    for char in "Оксана":
        assert char in message
    assert "Northwind Sans" in message and "DejaVu" in message, message
    assert ukrainian.old.findings == [], "the full Noto Sans covers Cyrillic"
    english = by_key["C000001"]
    assert not [f for f in english.new.findings if f.check == "missing-glyph"]
    assert report.status == "failed"


def test_text_outside_page_and_printable_area_and_blank_page(
        project: Path, tmp_path: Path) -> None:
    records = write_records(tmp_path / "one.jsonl", [customer("C000001", "Amelia Smith", "en")])
    job = proof_job(tmp_path / "jobs", records)
    edit(project, "templates/statement/style.css", ".intro { margin-top: 62mm; }",
         ".intro { margin-top: 62mm; }\nh1 { margin-left: -40mm; }\n"
         ".facts { margin-left: -17mm; }")
    edit(project, "templates/statement/document.html", "30 days.\") }}</p>\n",
         "30 days.\") }}</p>\n<div style=\"break-before: page\"></div>\n")
    report = api_proof(project, tmp_path, job, "HEAD", tmp_path / "proof")
    (record,) = report.records
    assert record.new.pages == record.old.pages + 1
    checks = {(f.check, f.page) for f in record.new.findings}
    assert ("outside-page", 1) in checks
    assert ("outside-printable", 1) in checks
    assert ("blank-page", record.new.pages) in checks
    assert not any(f.check == "blank-page" and f.page != record.new.pages
                   for f in record.new.findings)
    outside = next(f for f in record.new.findings if f.check == "outside-page")
    assert "Acc" in outside.message, outside.message
    assert record.old.findings == []
    assert record.pages[-1].only_in == "new"


def test_proof_against_archived_versions(project: Path, job_path: Path, tmp_path: Path) -> None:
    settings = project_settings(project, tmp_path / "var")
    job = load_job(job_path)
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    current = TemplateSet.load(settings.templates_dir, settings.assets_dir, "statement",
                               "northwind")
    keep_version(store, index, current)
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    tree = resolve_ref(current.version[:10], job, settings, index, store, scratch)
    assert tree.label == "archived snapshot" and tree.version(job) == current.version
    assert tree.templates_dir.is_relative_to(scratch)

    # Unchanged templates: nothing differs, exit 0.
    result = proof_cli(project, tmp_path, job_path, current.version[:8], tmp_path / "p0")
    assert result.exit_code == 0, result.output
    assert "unchanged: 0 of 2 record(s) changed, 0 failing" in result.output
    report = json.loads((tmp_path / "p0" / "report.json").read_text())
    assert all(r["changed_pixels"] == 0 and r["text_diff_lines"] == 0
               for r in report["records"])

    # A wording change: text diff and pixels, exit 1.
    edit(project, "templates/statement/document.html", "{{ _(\"Transactions\") }}",
         "{{ _(\"Transactions\") }} (all)")
    result = proof_cli(project, tmp_path, job_path, current.version, tmp_path / "p1")
    assert result.exit_code == 1, result.output
    report = json.loads((tmp_path / "p1" / "report.json").read_text())
    assert all(r["text_diff_lines"] > 0 for r in report["records"])
    html = (tmp_path / "p1" / "report.html").read_text()
    assert "(all)" in html
    assert "&lt;Shop&gt;" in html and "<Shop>" not in html, "record text is escaped"

    # A snapshot whose bytes are not that version is refused.
    other = TemplateSet.load(settings.templates_dir, settings.assets_dir, "statement",
                             "northwind")
    assert other.version != current.version
    data = other.snapshot()
    with pytest.raises(ArchiveError, match="never replaced"):  # not through the store...
        store.put(template_snapshot_key(current.version), data, media_type="application/zip",
                  sha256=hashlib.sha256(data).hexdigest())
    stored = Path(store.url.removeprefix("file://")) / template_snapshot_key(current.version)
    stored.chmod(0o644)  # ...but by hand, behind the factory's back
    stored.write_bytes(data)
    with pytest.raises(IntegrityError, match="hash to"):
        resolve_ref(current.version, job, settings, index, store, tmp_path / "scratch2")


def test_refs_that_cannot_be_resolved(project: Path, job_path: Path, tmp_path: Path) -> None:
    settings = project_settings(project, tmp_path / "var")
    job = load_job(job_path)
    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    for version in ("abcd" + "0" * 60, "abcd" + "1" * 60):
        index.templates.remember(version, "statement", "northwind",
                                 template_snapshot_key(version))
    index.templates.remember("beef" + "0" * 60, "invoice", "northwind",
                             template_snapshot_key("beef" + "0" * 60))
    with pytest.raises(ConfigError, match="ambiguous"):
        resolve_ref("abcd", job, settings, index, store, tmp_path)
    with pytest.raises(ConfigError, match="of template set 'invoice'"):
        resolve_ref("beef", job, settings, index, store, tmp_path)
    with pytest.raises(ConfigError, match="not in the archive"):
        resolve_ref("abcd" + "0" * 60, job, settings, index, store, tmp_path)
    with pytest.raises(ConfigError) as caught:
        resolve_ref("cafe1234", job, settings, index, store, tmp_path)
    text = str(caught.value)
    assert "no template-set version starting with 'cafe1234'" in text
    assert "not a revision of the git repository" in text
    with pytest.raises(ConfigError, match="has been approved yet"):
        resolve_ref("approved", job, settings, index, store, tmp_path)

    result = proof_cli(project, tmp_path, job_path, "no-such-branch", tmp_path / "p")
    assert result.exit_code == 2
    assert "not a known template-set version nor a git revision" in result.output
    assert not (tmp_path / "p").exists()

    job_with_missing = proof_job(tmp_path / "jobs", tmp_path / "data" / "customers.jsonl",
                                 "missing.toml", proofs=["C000404"])
    result = proof_cli(project, tmp_path, job_with_missing, "HEAD", tmp_path / "p")
    assert result.exit_code == 2
    assert "C000404: not in customers.jsonl" in result.output


def test_proof_against_an_older_git_revision(project: Path, job_path: Path,
                                             tmp_path: Path) -> None:
    edit(project, "templates/statement/style.css", "h2 { font-size: 11pt;",
         "h2 { font-size: 14pt;")
    commit(project, "bigger h2")
    edit(project, "templates/statement/style.css", "h2 { font-size: 14pt;",
         "h2 { font-size: 11pt;")
    # The working tree is back to the first commit's styles: HEAD~1 is identical to it.
    result = proof_cli(project, tmp_path, job_path, "HEAD~1", tmp_path / "same")
    assert result.exit_code == 0, result.output
    result = proof_cli(project, tmp_path, job_path, "HEAD", tmp_path / "differs")
    assert result.exit_code == 1, result.output


def test_a_template_without_the_address_block_fails_the_window_check(
        project: Path, tmp_path: Path) -> None:
    records = write_records(tmp_path / "one.jsonl", [customer("C000001", "Amelia Smith", "en")])
    job = proof_job(tmp_path / "jobs", records)
    edit(project, "templates/statement/document.html",
         "{% block address %}{{ m.postal_address(record) }}{% endblock %}",
         "{% block address %}{% endblock %}")
    report = api_proof(project, tmp_path, job, "HEAD", tmp_path / "proof")
    (record,) = report.records
    assert [(f.check, f.page) for f in record.new.findings] == [("address-window", 1)]
    assert "no <address" in record.new.findings[0].message
    assert record.changed and record.failed and report.status == "failed"


def test_recipient_text_is_read_from_the_rendered_html() -> None:
    html = ('<p>Dear <b>x</b></p><address class="letter recipient">\n  <span class="name">'
            'O&#39;Connor &amp; Söhne</span><br>\n  Street 1<br>\n  CZ\n</address>'
            '<address class="recipient">second</address>')
    assert recipient_text(html) == "O'Connor & Söhne Street 1 CZ"
    assert recipient_text("<address>no class</address>") is None

"""Print production: householding, envelopes, sheets and batches; then real print files from a
real run, read back: DataMatrix decoded with zxing-cpp from pages rasterised with pypdfium2,
OMR dashes sampled from the pixels, page counts against documents plus blank pages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from click.testing import CliRunner
from pypdf import PdfReader

from factory.archive import open_index, open_store
from factory.cli.app import cli, load_commands
from factory.config import Settings
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.jobs.print import MarksSpec, OmrSpec
from factory.printing import PostalAddress, PrintItem, parse_rule, plan_batches
from factory.printing.marks import OMR_POSITIONS, check_clear, omr_bits
from factory.runner import RunOptions, run_job
from tests.conftest import REPO, csv_source, pdf_text, write_job

DPI = 200
PX_PER_MM = DPI / 25.4


def item(key: str, pages: int, line1: str = "Husova 5", postal: str = "602 00",
         country: str = "CZ", **attributes: str) -> PrintItem:
    address = PostalAddress("X", line1, "", postal, "Brno", country)
    return PrintItem(f"doc-{key}", f"k/{key}.pdf", "0" * 64, key, key, pages, address,
                     attributes)


def test_householding_sorting_blanks_and_sheets() -> None:
    items = [
        item("C3", 3, "Husova 5,", "602 00"),
        item("C1", 1, "HUSOVA  5", "60200"),           # same household as C3
        item("C2", 2, "Vinohradská 12", "120 00"),
        item("C4", 1, "Hlavná 1", "811 01", "SK"),
    ]
    (batch,) = plan_batches(items, job="j", period="2026-11", duplex=True)
    order = [[d.item.record_key for d in e.documents] for e in batch.envelopes]
    assert order == [["C2"], ["C1", "C3"], ["C4"]]  # CZ 12000, CZ 60200, SK 81101
    household = batch.envelopes[1]
    assert [d.blank_after for d in household.documents] == [True, True]
    assert household.sheets == 1 + 2 and household.pages == 2 + 4
    assert batch.blanks == 3 and batch.pages == 7 + 3 and batch.sheets == 5
    (simplex,) = plan_batches(items, job="j", period="2026-11", duplex=False)
    assert simplex.blanks == 0 and simplex.sheets == simplex.pages == 7


def test_batches_never_split_an_envelope_and_big_households_are_split() -> None:
    items = [item(f"C{i}", 4, f"Street {i}") for i in range(5)]  # 2 sheets each
    batches = plan_batches(items, job="j", period="p", max_sheets=5)
    assert [b.sheets for b in batches] == [4, 4, 2]
    assert [e.sequence for e in batches[1].envelopes] == [1, 2]
    assert batches[0].batch_id.endswith("-001") and batches[2].batch_id.endswith("-003")
    crowd = [item(f"H{i}", 2) for i in range(5)]  # one household, one sheet each
    split = plan_batches(crowd, job="j", period="p", envelope_max_sheets=2)
    assert [e.sheets for b in split for e in b.envelopes] == [2, 2, 1]
    (huge,) = plan_batches([item("B", 40)], job="j", period="p", max_sheets=5,
                           envelope_max_sheets=3)
    assert huge.sheets == 20  # one document larger than both limits: alone, never lost


def test_select_rules() -> None:
    record = {"preferred_channel": "print", "country": "CZ"}
    assert parse_rule("all")(record)
    assert parse_rule("preferred_channel == print")(record)
    assert parse_rule("preferred_channel == 'print'")(record)
    assert not parse_rule("preferred_channel != print")(record)
    assert parse_rule("preferred_channel != email")({})
    with pytest.raises(ConfigError, match=r"print\.select"):
        parse_rule("preferred_channel ~ print")


def test_marks_must_stay_out_of_the_address_window() -> None:
    window = (20.0, 45.0, 85.0, 40.0)
    check_clear(MarksSpec(), OmrSpec(enabled=True), window)
    with pytest.raises(ConfigError, match="overlaps the brand's address window"):
        check_clear(MarksSpec(x=30, y=50), OmrSpec(), window)
    with pytest.raises(ConfigError, match=r"print.omr: .* overlaps"):
        check_clear(MarksSpec(), OmrSpec(enabled=True, x=90, y=60), window)
    with pytest.raises(ConfigError, match="does not fit"):
        check_clear(MarksSpec(x=200), OmrSpec(), None)


def test_omr_bits_have_even_parity_and_end_of_collation() -> None:
    for sheets in (1, 2, 3, 9):
        for sheet in range(1, sheets + 1):
            bits = omr_bits(sheet, sheets)
            assert len(bits) == OMR_POSITIONS and bits[0] and bits[-1]
            assert sum(bits) % 2 == 0
            assert bits[1] == (sheet == sheets)


def households_input(folder: Path, sample_dir: Path) -> Path:
    """The sample customers, with C000002 moved to C000001's address (one envelope)."""
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    first = rows[0]
    rows[1].update({k: first[k] for k in ("address_line1", "address_line2", "postal_code",
                                          "city", "country")})
    rows[1]["address_line1"] = first["address_line1"].upper() + ","
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "customers.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(first))
        writer.writeheader()
        writer.writerows(rows)
    return path


PRINT = {"enabled": True, "select": "all", "max_sheets": 8, "duplex": True,
         "omr": {"enabled": True}}


@pytest.fixture
def print_run(tmp_path: Path, sample_dir: Path, settings: Settings):
    customers = households_input(tmp_path / "data", sample_dir)
    job = load_job(write_job(tmp_path / "jobs", print=PRINT, source=csv_source(
        customers, sample_dir / "transactions.csv")))
    report = run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    return job, report


def decode_marks(pdf: bytes) -> tuple[list[str | None], list[list[bool]]]:
    """Per page: the DataMatrix text (None if none) and the OMR dashes seen."""
    document = pypdfium2.PdfDocument(pdf)
    codes_per_page: list[str | None] = []
    omr_per_page: list[list[bool]] = []
    for page in document:
        image = page.render(scale=DPI / 72).to_pil()
        codes = [b.text for b in zxingcpp.read_barcodes(image)
                 if b.format == zxingcpp.BarcodeFormat.DataMatrix]
        assert len(codes) <= 1
        codes_per_page.append(codes[0] if codes else None)
        omr_per_page.append(read_omr(image))
    document.close()
    return codes_per_page, omr_per_page


def read_omr(image) -> list[bool]:  # type: ignore[no-untyped-def]
    omr = OmrSpec(enabled=True)
    gray = image.convert("L")
    x = int((omr.x + omr.length / 2) * PX_PER_MM)
    return [gray.getpixel((x, int((omr.y + i * omr.pitch) * PX_PER_MM))) < 100
            for i in range(OMR_POSITIONS)]


def test_print_files_read_back(print_run, settings: Settings) -> None:
    job, report = print_run
    assert report.counts.archived == 12 and report.balanced
    summary = report.print_files
    assert summary["selected"] == 12 and summary["documents"] == 12
    assert summary["envelopes"] == 11, "C000001 and C000002 share an envelope"
    assert summary["batches"] >= 2 and summary["written"] == 4 * summary["batches"]

    index = open_index(settings.default_index_url)
    store = open_store(settings.default_archive_url)
    documents = {e.record_key: e for e in index.documents.entries(job=job.name, channel="pdf")}
    outputs = {(e.record_key, e.document_type): e
               for e in index.documents.entries(job=job.name, channel="print")}
    assert len(outputs) == 4 * summary["batches"]
    seen_keys: list[str] = []
    for number in range(1, summary["batches"] + 1):
        batch_key = f"print-{number:03d}"
        manifest = json.loads(store.get(outputs[(batch_key, "print-manifest")].storage_key))
        stream = store.get(outputs[(batch_key, "print-stream")].storage_key)
        pages = len(PdfReader(io.BytesIO(stream)).pages)
        own = sum(d["pages"] for env in manifest["items"] for d in env["documents"])
        assert pages == own + manifest["blank_pages"] == manifest["pages"]
        assert manifest["sheets"] <= 8 or len(manifest["items"]) == 1
        assert outputs[(batch_key, "print-stream")].page_count == pages

        marks, omr_marks = decode_marks(stream)
        assert len(marks) == pages
        expected_fronts = []
        for sequence, envelope in enumerate(manifest["items"], 1):
            assert envelope["envelope"] == sequence
            page = envelope["first_page"]
            for sheet in range(1, envelope["sheets"] + 1):
                expected_fronts.append((envelope["envelope"], sheet, envelope["sheets"], page))
                page += 2
            assert page - 1 == envelope["last_page"]
            seen_keys += [d["record_key"] for d in envelope["documents"]]
        for env, sheet, sheets, page in expected_fronts:
            assert marks[page - 1] == \
                f"{manifest['batch_id']}|{env:06d}|{sheet:02d}|{sheets:02d}"
            bits = omr_marks[page - 1]
            assert bits == omr_bits(sheet, sheets)
            assert marks[page] is None and not any(omr_marks[page]), "back sides are clean"
        assert sum(m is not None for m in marks) == manifest["sheets"]

        rows = list(csv.DictReader(io.StringIO(store.get(
            outputs[(batch_key, "print-manifest-csv")].storage_key).decode())))
        assert [int(r["envelope"]) for r in rows] == \
            [e["envelope"] for e in manifest["items"]]
        cover = store.get(outputs[(batch_key, "print-cover")].storage_key)
        assert len(PdfReader(io.BytesIO(cover)).pages) == 1
        assert manifest["batch_id"] in pdf_text(cover)
    assert sorted(seen_keys) == sorted(documents)
    shared = [env for number in range(1, summary["batches"] + 1)
              for env in json.loads(store.get(outputs[(f"print-{number:03d}",
                                                        "print-manifest")].storage_key))["items"]
              if len(env["documents"]) == 2]
    assert [[d["record_key"] for d in env["documents"]] for env in shared] == \
        [["C000001", "C000002"]]


def test_rebuild_is_idempotent_and_select_narrows(print_run, tmp_path: Path,
                                                  settings: Settings) -> None:
    job, _report = print_run
    index = open_index(settings.default_index_url)
    before = {(e.record_key, e.document_type): e.sha256
              for e in index.documents.entries(job=job.name, channel="print")}
    load_commands()
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(settings.var_dir)}
    result = CliRunner().invoke(cli, ["print", str(job.path), "--period", "2026-11"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"0 output(s) written, {len(before)} unchanged" in result.output
    after = {(e.record_key, e.document_type): e.sha256
             for e in index.documents.entries(job=job.name, channel="print")}
    assert after == before

    narrowed = write_job(tmp_path / "jobs2", print={**PRINT, "select":
                                                     "preferred_channel == print"},
                         source=job.source.model_dump())
    result = CliRunner().invoke(cli, ["print", str(narrowed), "--period", "2026-11"], env=env,
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    store = open_store(settings.default_archive_url)
    wanted = sorted(e.record_key for e in index.documents.entries(job=job.name, channel="pdf")
                    if json.loads(store.get(e.record_storage_key))["record"]
                    .get("preferred_channel") == "print")
    printed = sorted(d["record_key"] for e in index.documents.entries(job=job.name, channel="print",
                                                                      document_type="print-manifest")
                     for env_ in json.loads(store.get(e.storage_key))["items"]
                     for d in env_["documents"])
    assert printed == wanted
    streams = list(index.documents.entries(job=job.name, channel="print",
                                           document_type="print-stream"))
    assert all(store.exists(e.storage_key) for e in streams)
    # Nothing was deleted: every print file ever written is still stored and indexed, the
    # rebuilt ones marked superseded by their new revision, the dropped batches withdrawn.
    every = list(index.documents.entries(job=job.name, channel="print", revisions=True))
    assert sorted(store.keys(f"{job.name}/2026-11/print-")) == \
        sorted(e.storage_key for e in every)
    current = [e for e in every if e.current]
    assert len(current) == 4 * len(streams) < len(every)
    assert all(e.superseded_actor == "system:print" for e in every if not e.current)


def test_a_run_with_marks_over_the_address_window_stops_before_it_starts(
        tmp_path: Path, sample_dir: Path, settings: Settings) -> None:
    job = load_job(write_job(tmp_path / "jobs", print={**PRINT, "marks": {"x": 40, "y": 50}},
                             source=csv_source(sample_dir / "customers.csv",
                                               sample_dir / "transactions.csv")))
    with pytest.raises(ConfigError, match="address window"):
        run_job(job, settings, RunOptions(period="2026-11"), InlineExecutor())
    assert not (settings.var_dir / "archive").exists()


def test_an_archive_with_print_files_verifies_clean(print_run, settings: Settings) -> None:
    """Print outputs carry the print settings' hash, not a template-set version: verify must
    not look for a template-set snapshot of it."""
    from factory.compliance.verify import verify_archive

    index = open_index(settings.default_index_url)
    report = verify_archive(index, open_store(settings.default_archive_url))
    assert report.findings == [] and report.ok
    assert report.documents > 12  # the statements and the print files

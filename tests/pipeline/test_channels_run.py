"""Runs of the renewal notice on every channel, end to end: real rendering, a real SMTP server
and a real HTTP SMS gateway on loopback, the archive and the index; routing fallbacks, bad
input with named reasons, reruns and crashes that never send twice."""

from __future__ import annotations

import csv
import email
import io
import json
import shutil
import tomllib
from email import policy
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from pypdf import PdfReader

from factory.archive import open_index, open_store
from factory.archive.claims import ClaimRepository
from factory.config import Settings
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.messages.email import IDEMPOTENCY_HEADER
from factory.runner import RunOptions, run_job
from tests.conftest import REPO

PERIOD = "2026-12"

#: (customer id, locale, changes): each row one routing case.
CASES: list[tuple[str, str, dict[str, str]]] = [
    ("C000101", "cs", {"preferred_channel": "email"}),                       # email
    ("C000102", "en", {"preferred_channel": "email", "email": "jana@@example"}),  # → sms
    ("C000103", "uk", {"preferred_channel": "sms"}),                         # sms (Cyrillic)
    ("C000104", "bg", {"preferred_channel": "print"}),                       # print
    ("C000105", "sk", {"preferred_channel": "email", "consent_email": "",
                       "consent_sms": "false"}),                              # → print
    ("C000106", "cs", {"preferred_channel": "sms", "phone": "call me"}),     # → email
]


def customers(folder: Path, sample_dir: Path, cases=CASES) -> Path:
    with (sample_dir / "customers.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    path = folder / "customers.csv"
    folder.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        for n, (key, locale, changes) in enumerate(cases):
            row = dict(rows[n % len(rows)], customer_id=key, locale=locale,
                       email=f"{key.lower()}@example.com", phone=f"+420 601 000 {n:03d}",
                       consent_email="true", consent_sms="true")
            row.update(changes)
            writer.writerow(row)
    return path


def renewal_job(folder: Path, source: Path, **changes: Any):
    data = tomllib.loads((REPO / "jobs" / "renewal_notice.toml").read_text(encoding="utf-8"))
    data["source"] = {"type": "csv", "path": str(source)}
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for part in parents:
            node = node[part]
        node[last] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "renewal_notice.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return load_job(path)


def run(job, settings: Settings, **options: Any):
    return run_job(job, settings, RunOptions(period=PERIOD, **options), InlineExecutor())


def channel(report, name: str) -> dict[str, int]:
    return report.as_dict()["channels"][name]


def lines(path: str | None) -> list[dict[str, Any]]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines()] \
        if path else []


@pytest.fixture
def transports(settings: Settings, smtp_server, sms_gateway) -> Settings:
    return settings.with_overrides(email_url=smtp_server.url(), sms_url=sms_gateway.url())


def test_one_run_three_channels_real_smtp_and_gateway_then_rerun_sends_nothing(
        tmp_path: Path, sample_dir: Path, transports: Settings, smtp_server,
        sms_gateway) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir))
    report = run(job, transports)
    c = report.counts
    assert (c.input, c.archived, c.failed, c.rejected) == (6, 6, 0, 0)
    assert report.balanced
    assert channel(report, "pdf")["archived"] == 6
    assert channel(report, "email") | {} == {
        "rendered": 2, "sent": 2, "queued": 0, "archived": 0, "skipped": 0,
        "failed_retryable": 0, "failed_permanent": 0, "suppressed": 2}
    assert channel(report, "sms")["sent"] == 2 and channel(report, "sms")["suppressed"] == 2
    assert channel(report, "print")["queued"] == 2
    suppressed = {(r["key"], r["channel"]): r["reason"] for r in lines(report.suppressions_file)}
    assert suppressed[("C000102", "email")].startswith("invalid email address")
    assert suppressed[("C000105", "email")] == "consent missing (consent_email is empty)"
    assert suppressed[("C000105", "sms")] == "no consent (consent_sms is False)"
    assert suppressed[("C000106", "sms")].startswith("unparseable phone number")

    index = open_index(transports.default_index_url)
    store = open_store(transports.default_archive_url)
    # Email: what the SMTP server received is what the archive holds, PDF attached.
    assert len(smtp_server.messages) == 2
    for received in smtp_server.messages:
        message = email.message_from_bytes(received["data"], policy=policy.default)
        key = message["To"].addresses[0].addr_spec.split("@")[0].upper()
        (eml,) = list(index.documents.entries(record_key=key, channel="email"))
        archived = store.get(eml.storage_key)
        assert archived.replace(b"\r\n", b"\n") == received["data"].replace(b"\r\n", b"\n")
        assert eml.media_type == "message/rfc822" and eml.storage_key.endswith(".eml")
        (pdf,) = list(index.documents.entries(record_key=key, channel="pdf"))
        alternative, attachment = message.iter_parts()
        text, related = alternative.iter_parts()
        html, logo = related.iter_parts()
        assert text.get_content_type() == "text/plain" and html.get_content_type() == \
            "text/html"
        assert logo["Content-ID"] == "<logo@docfactory>"
        assert attachment.get_content() == store.get(pdf.storage_key)
        assert key in "".join(p.extract_text() for p in PdfReader(io.BytesIO(
            attachment.get_content())).pages)
        body = html.get_content()
        assert 'class="brand" style="background: #ffffff;' in body, "CSS inlined"
        assert "border-bottom: 4px solid #0b3d91" in body, "brand colour resolved"
        assert "var(--" not in body
        (row,) = index.deliveries.where(record_key=key, channel="email")
        assert row.status == "sent" and row.message_id == message["Message-ID"]
        assert row.delivery_key == message[IDEMPOTENCY_HEADER]
        assert row.document_id == eml.document_id and row.attempts == 1
    czech = next(m for m in smtp_server.messages if "c000101" in m["to"][0])
    subject = email.message_from_bytes(czech["data"], policy=policy.default)["Subject"]
    assert subject == "Prodloužení smlouvy o účtu ke dni 31. prosince 2026"

    # SMS through the gateway, archived as JSON beside the PDF.
    assert {r["json"]["to"] for r in sms_gateway.requests} == {"+420601000001",
                                                                "+420601000002"}
    ukrainian = next(r["json"] for r in sms_gateway.requests
                     if r["json"]["to"] == "+420601000002")
    assert "договір рахунку продовжується" in ukrainian["text"]
    (sms_entry,) = list(index.documents.entries(record_key="C000103", channel="sms"))
    archived_sms = json.loads(store.get(sms_entry.storage_key))
    assert archived_sms["text"] == ukrainian["text"] and archived_sms["encoding"] == "UCS-2"
    assert archived_sms["segments"] == 3
    # Print: the PDF handed to the print stream, the postal address in the record snapshot.
    prints = index.deliveries.where(channel="print")
    assert {p.record_key for p in prints} == {"C000104", "C000105"}
    for row in prints:
        (pdf,) = list(index.documents.entries(record_key=row.record_key, channel="pdf"))
        assert row.status == "queued" and row.document_id == pdf.document_id
        snapshot = json.loads(store.get(pdf.record_storage_key))
        assert snapshot["record"]["postal_code"] and snapshot["record"]["city"]
    assert index.claims.held() == 0
    # ... and the print step put exactly those two letters in the print file for the mail room.
    assert report.print_files is not None and report.print_files["selected"] == 2
    (manifest,) = list(index.documents.entries(channel="print", document_type="print-manifest"))
    batch = json.loads(store.get(manifest.storage_key))
    printed = {d["record_key"] for envelope in batch["items"] for d in envelope["documents"]}
    assert printed == {"C000104", "C000105"}
    (stream,) = list(index.documents.entries(channel="print", document_type="print-stream"))
    pages = len(PdfReader(io.BytesIO(store.get(stream.storage_key))).pages)
    assert pages == batch["pages"] == sum(
        d["pages"] for e in batch["items"] for d in e["documents"]) + batch["blank_pages"]

    again = run(job, transports)
    assert (again.counts.skipped, again.counts.archived, again.counts.rendered) == (6, 0, 0)
    assert len(smtp_server.messages) == 2 and len(sms_gateway.requests) == 2
    assert channel(again, "email")["skipped"] == 2 and channel(again, "print")["skipped"] == 2
    forced = run(job, transports, force=True, force_reason="template fix")
    assert forced.counts.archived == 6 and channel(forced, "pdf")["archived"] == 6
    assert len(smtp_server.messages) == 2 and len(sms_gateway.requests) == 2, \
        "--force renders the letters again but never resends a message"


def test_dry_run_shows_routing_without_sending(tmp_path: Path, sample_dir: Path,
                                               transports: Settings, smtp_server) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir))
    report = run(job, transports, dry_run=True)
    assert report.routing == {"pdf": 6, "email": 2, "sms": 2, "print": 2}
    assert channel(report, "email")["suppressed"] == 2
    assert report.counts.pending == 6 and report.balanced
    assert smtp_server.messages == []
    assert not (transports.var_dir / "archive").exists() or \
        not list((transports.var_dir / "archive").rglob("*.eml"))


def test_bad_input_ends_in_named_reasons_and_the_rest_goes_on(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server,
        sms_gateway) -> None:
    cases = [
        ("C000201", "en", {"preferred_channel": "email"}),                   # fine
        ("C000202", "uk", {"preferred_channel": "sms"}),                     # over 2 segments
        ("C000203", "en", {"preferred_channel": "sms"}),                     # gateway timeout
        ("C000204", "cs", {"preferred_channel": "sms", "phone": "",          # no channel
                           "email": "x@", "consent_sms": "true"}),
        ("C000205", "bg", {"preferred_channel": "email", "consent_email": "",
                           "phone": "+359 2 123 4567"}),                     # no channel
    ]
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases),
                      sms__max_segments=2, routing__fallback=["email", "sms"],
                      sms__gateway={"timeout_seconds": 0.5})
    sms_gateway.script = [("sleep", 2), ("sleep", 2), ("sleep", 2)]
    settings = settings.with_overrides(email_url=smtp_server.url(), sms_url=sms_gateway.url())
    planned = run(job, settings, dry_run=True)  # routing failures are known before sending
    planned_failures = {f["key"]: f for f in lines(planned.failures_file)}
    assert set(planned_failures) == {"C000204", "C000205"}
    assert planned_failures["C000205"]["channel"] == "routing"
    assert sum(planned.failure_reasons.values()) == 2 and planned.counts.failed == 2
    report = run(job, settings)
    c = report.counts
    assert c.input == 5 and report.balanced
    failures = {f["key"]: f for f in lines(report.failures_file)}
    assert set(failures) == {"C000202", "C000203", "C000204", "C000205"}
    assert "SMS over the segment limit: 3 segments (UCS-2" in failures["C000202"]["reason"]
    assert "transliterated to GSM-7 it would be 2" in failures["C000202"]["reason"]
    assert failures["C000202"]["channel"] == "sms" and not failures["C000202"]["retryable"]
    assert "timed out after 0.5 s" in failures["C000203"]["reason"]
    assert failures["C000203"]["retryable"] is True
    assert channel(report, "sms")["failed_retryable"] == 1
    assert channel(report, "sms")["failed_permanent"] == 1
    suppressed = {(r["key"], r["channel"]): r["reason"] for r in lines(report.suppressions_file)}
    assert suppressed[("C000205", "sms")] == "not a mobile phone number"
    assert suppressed[("C000204", "sms")] == "no phone number"
    assert suppressed[("C000204", "email")].startswith("invalid email address")
    assert failures["C000205"]["channel"] == "routing"
    assert failures["C000205"]["reason"] == (
        "routing: no channel can take it: email: consent missing (consent_email is empty);"
        " sms: not a mobile phone number")
    assert (c.archived, c.failed) == (1, 4)
    assert len(smtp_server.messages) == 1
    index = open_index(settings.default_index_url)
    (timed_out,) = index.deliveries.where(record_key="C000203")
    assert timed_out.status == "failed" and "timed out" in timed_out.reason
    assert index.claims.held() == 0
    saved = json.loads((settings.runs_dir / report.run_id / "report.json").read_text())
    assert saved["channels"]["sms"]["failed_retryable"] == 1
    assert any("segment limit" in reason for reason in saved["failure_reasons"])


def test_empty_subject_fails_the_email_with_the_template_named(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server) -> None:
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    (tmp_path / "templates" / "renewal_notice" / "email.subject").write_text(
        "{{ '' }}\n", encoding="utf-8")
    settings = settings.with_overrides(templates_dir=tmp_path / "templates",
                                       email_url=smtp_server.url())
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, CASES[:1]))
    report = run(job, settings)
    (failure,) = lines(report.failures_file)
    assert failure["channel"] == "email"
    assert "email.subject: the template produced an empty subject" in failure["reason"]
    assert smtp_server.messages == [] and report.balanced


def test_gateway_500_then_200_is_retried_and_400_is_permanent(
        tmp_path: Path, sample_dir: Path, settings: Settings, sms_gateway) -> None:
    cases = [("C000301", "cs", {"preferred_channel": "sms"}),
             ("C000302", "cs", {"preferred_channel": "sms"})]
    # No other channel to fall back to: the 400 fails the record (fallbacks: test_fallback.py).
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases),
                      sms__transliterate=True, routing__fallback=["sms"])
    sms_gateway.script = [(500, {"error": "busy"}), (200, None), (400, {"error": "blocked"})]
    report = run(job, settings.with_overrides(sms_url=sms_gateway.url()))
    assert channel(report, "sms")["sent"] == 1
    assert channel(report, "sms")["failed_permanent"] == 1
    (failure,) = lines(report.failures_file)
    assert failure["key"] == "C000302" and "HTTP 400" in failure["reason"]
    texts = [r["json"]["text"] for r in sms_gateway.requests]
    assert texts[0] == texts[1], "the retry sends the same message"
    assert texts[0].isascii() and "Vase smlouva o uctu" in texts[0]
    assert len({r["headers"]["Idempotency-Key"] for r in sms_gateway.requests[:2]}) == 1


def crash_after_send(monkeypatch) -> None:
    """The worker dies right after the transport accepted a message, before the index
    records it (the 'sending' row and the archived message stay behind)."""
    real = ClaimRepository.complete

    def complete(self, claim, entry, delivery=None, **kwargs):
        if delivery is not None:
            raise SystemExit("simulated crash between send and record")
        return real(self, claim, entry, delivery, **kwargs)

    monkeypatch.setattr(ClaimRepository, "complete", complete)


def test_crash_between_send_and_record_smtp_holds_instead_of_resending(
        tmp_path: Path, sample_dir: Path, settings: Settings, smtp_server,
        monkeypatch) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, CASES[:1]))
    settings = settings.with_overrides(email_url=smtp_server.url())
    crash_after_send(monkeypatch)
    with pytest.raises(SystemExit):
        run(job, settings)
    monkeypatch.undo()
    assert len(smtp_server.messages) == 1
    index = open_index(settings.default_index_url)
    (row,) = index.deliveries.where(channel="email")
    assert row.status == "sending"

    rerun = run(job, settings)
    assert len(smtp_server.messages) == 1, "the rerun did not send it twice"
    (failure,) = lines(rerun.failures_file)
    assert failure["channel"] == "email" and "delivery unknown" in failure["reason"]
    assert row.delivery_key in failure["reason"]
    assert index.deliveries.get(row.delivery_key).status == "unknown"
    assert channel(rerun, "pdf")["skipped"] == 1
    again = run(job, settings)
    assert len(smtp_server.messages) == 1 and again.counts.failed == 1

    resent = run(job, settings, resend_unknown=True)
    assert resent.counts.archived == 1 and len(smtp_server.messages) == 2
    first, second = (email.message_from_bytes(m["data"], policy=policy.default)
                     for m in smtp_server.messages)
    assert first["Message-ID"] == second["Message-ID"]
    assert first[IDEMPOTENCY_HEADER] == second[IDEMPOTENCY_HEADER]
    final = index.deliveries.get(row.delivery_key)
    assert final.status == "sent" and final.attempts == 2
    assert index.claims.held() == 0


def test_crash_between_send_and_record_outbox_finds_its_proof(
        tmp_path: Path, sample_dir: Path, settings: Settings, monkeypatch) -> None:
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, CASES[:3]))
    outbox = tmp_path / "outbox"
    settings = settings.with_overrides(email_url=f"outbox://{outbox}",
                                       sms_url=f"outbox://{outbox}")
    crash_after_send(monkeypatch)
    with pytest.raises(SystemExit):
        run(job, settings)
    monkeypatch.undo()
    (sent,) = list(outbox.rglob("*.eml"))
    before = sent.stat().st_mtime_ns
    report = run(job, settings)
    assert report.counts.failed == 0 and report.balanced
    index = open_index(settings.default_index_url)
    rows = index.deliveries.where()
    assert {r.channel for r in rows} == {"email", "sms"}
    assert all(r.status == "sent" for r in rows)
    first = next(r for r in rows if r.record_key == "C000101")
    assert first.attempts == 1, "recorded from the outbox's proof, not sent again"
    assert sent.stat().st_mtime_ns == before
    assert len(list(outbox.rglob("*.eml"))) == 1 and len(list(outbox.rglob("*.json"))) == 2


def test_crash_between_send_and_record_gateway_resends_with_the_same_key(
        tmp_path: Path, sample_dir: Path, settings: Settings, sms_gateway,
        monkeypatch) -> None:
    cases = [("C000401", "uk", {"preferred_channel": "sms"})]
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases))
    settings = settings.with_overrides(sms_url=sms_gateway.url())
    crash_after_send(monkeypatch)
    with pytest.raises(SystemExit):
        run(job, settings)
    monkeypatch.undo()
    report = run(job, settings)
    assert report.counts.archived == 1 and channel(report, "sms")["sent"] == 1
    keys = [r["headers"]["Idempotency-Key"] for r in sms_gateway.requests]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(sms_gateway.delivered) == 1, "the gateway delivered it once"
    (row,) = open_index(settings.default_index_url).deliveries.where()
    assert row.status == "sent" and row.attempts == 2


def test_the_cli_dry_run_validate_and_run_through_the_pool_with_smtp_reuse(
        tmp_path: Path, sample_dir: Path, smtp_server, sms_gateway) -> None:
    """The edge: options and FACTORY_* variables pick the transports; the local pool keeps one
    SMTP connection per worker process; the summary shows the per-channel counts."""
    from click.testing import CliRunner

    from factory.cli.app import cli, load_commands

    load_commands()
    cases = [(f"C0005{n:02d}", "en", {"preferred_channel": "email"}) for n in range(8)]
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases))
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_SMS_URL": sms_gateway.url()}
    runner = CliRunner()
    dry = runner.invoke(cli, ["run", str(job.path), "--period", PERIOD, "--dry-run"], env=env,
                        catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert "routing: pdf 8, email 8" in dry.output
    checked = runner.invoke(cli, ["validate", str(job.path), "--period", PERIOD], env=env,
                            catch_exceptions=False)
    assert checked.exit_code == 0, checked.output
    result = runner.invoke(cli, ["run", str(job.path), "--period", PERIOD, "--workers", "2",
                                 "--chunk-size", "1", "--email-transport", smtp_server.url()],
                           env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "email: rendered 8, sent 8, skipped 0, failed 0 permanent + 0 retryable" in \
        result.output
    assert len(smtp_server.messages) == 8
    assert len(smtp_server.handler.peers) <= 2, "one SMTP connection per worker process"
    assert "tok3n" not in result.output


def test_validate_catches_an_sms_over_the_segment_limit(tmp_path: Path, sample_dir: Path
                                                         ) -> None:
    from factory.config import load_settings
    from factory.runner.preflight import check_job

    cases = [("C000601", "bg", {"preferred_channel": "sms"})]
    job = renewal_job(tmp_path / "jobs", customers(tmp_path / "data", sample_dir, cases),
                      sms__max_segments=1)
    checked = check_job(job.path, load_settings(REPO, {}, var_dir=str(tmp_path / "var")),
                        PERIOD)
    (problem,) = checked.problems
    assert "record C000601" in problem and "SMS over the segment limit: 3 segments" in problem


@pytest.mark.parametrize("locale", ["en", "cs", "sk", "uk", "bg"])
def test_renewal_texts_are_translated_and_fit(locale: str, tmp_path: Path) -> None:
    """Every locale translates every text of the set, and its SMS fits the demo limit; with
    transliteration it goes GSM-7."""
    from factory.config import load_settings
    from factory.jobs import RecordSchema
    from factory.messages.sms import GSM7
    from factory.models import Period, Position, RawRecord
    from factory.pipeline.document import DocumentRenderer
    from factory.pipeline.messages import MessageRenderer

    job = load_job(REPO / "jobs" / "renewal_notice.toml")
    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    period = Period.parse(PERIOD)
    documents = DocumentRenderer(job, settings, period, period.end)
    assert documents.templates.catalogs.missing(locale) == []
    raw = {"customer_id": "C000701", "name": "Олена Коваленко", "locale": locale,
           "address_line1": "Vinohradská 12", "postal_code": "120 00", "city": "Praha 2",
           "country": "CZ", "account_iban": "CZ6508000000192000145399"}
    record = RecordSchema(job).validate(RawRecord(Position("t", 1), raw))
    messages = MessageRenderer(job, documents.templates, documents.schema)
    facts = messages.sms_text(record, documents.meta("d1"))
    assert 1 <= facts.segments <= job.sms.max_segments
    if locale == "en":
        assert (facts.encoding, facts.segments) == (GSM7, 1)
    assert "31" in facts.text and "www.northwind.example" in facts.text
    transliterating = job.model_copy(update={"sms": job.sms.model_copy(
        update={"transliterate": True})})
    short = MessageRenderer(transliterating, documents.templates, documents.schema) \
        .sms_text(record, documents.meta("d1"))
    assert short.encoding == GSM7 and short.segments <= facts.segments

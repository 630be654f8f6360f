"""Checks before anything runs: job, template set, brand, translations, data.

Takes a job file path and settings; gives a `Checked` result with the problems that stop a
run (each naming the file and the field) and notes that do not (a sample of rejected records).
``docfactory validate`` prints it. The data check reads the header and the first ``sample``
records, validates them and renders them to HTML (and the first one to PDF), and, for jobs with
email or SMS, routes them and renders the message of each channel they are routed to (an empty
subject, an SMS over the segment limit), so a template that references a missing field is
caught here, not half-way through a batch. An archive on a server (S3) is opened as a run
would open it, so a missing bucket or lock=on without Object Lock is caught here too. Nothing
is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from factory.archive import document_id, open_store
from factory.config import Settings
from factory.errors import ConfigError, FactoryError, RetryableSealError, SealError, SourceError
from factory.jobs import JobSpec, RecordSchema, load_job
from factory.models import Artifact, Period, Record, Reject
from factory.pipeline.document import DocumentRenderer
from factory.routing import route_record
from factory.runner.plan import plan_records
from factory.runner.run import archive_urls, check_columns, default_issued
from factory.sources import SeenKeys, open_source
from factory.templates.blocks import with_sample_letter


@dataclass
class Checked:
    job: JobSpec | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    records_checked: int = 0
    template_version: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems


def _lines(exc: FactoryError) -> list[str]:
    if isinstance(exc, ConfigError) and exc.problems:
        head = str(exc).split("\n", 1)[0]
        return [f"{head}: {p}" if not p.startswith(head) else p for p in exc.problems]
    return [str(exc)]


def check_job(path: Path, settings: Settings, period: str = "2026-11",
              sample: int = 20) -> Checked:
    result = Checked()
    try:
        job = load_job(path)
    except ConfigError as exc:
        result.problems.extend(_lines(exc))
        return result
    result.job = job
    try:
        renderer = DocumentRenderer(job, settings, Period.parse(period),
                                    default_issued(Period.parse(period), Period.parse(period).end))
    except (ConfigError, ValueError) as exc:
        result.problems.extend(_lines(exc) if isinstance(exc, ConfigError) else [str(exc)])
        return result
    result.template_version = renderer.version
    templates = renderer.templates
    for locale in job.locales:
        result.problems.extend(templates.catalogs.missing(locale))
        if locale not in templates.brand.footer:
            result.notes.append(f"{templates.brand.folder / 'brand.toml'}: footer has no"
                                f" {locale!r} text; the {job.default_locale!r} one is used")
    _check_seal(renderer, result)
    if result.problems:
        return result
    _check_data(job, settings, renderer, sample, result)
    _check_archive(job, settings, result)
    return result


def _check_archive(job: JobSpec, settings: Settings, result: Checked) -> None:
    """A store with a server (S3) is opened as a run would: the bucket, the credentials and
    what the URL asks of it (lock=on: Object Lock). A file store is not created here."""
    store_url, _index_url = archive_urls(job, settings)
    if urlsplit(store_url).scheme == "file":
        return
    try:
        store = open_store(store_url)
    except FactoryError as exc:
        result.problems.append(f"archive: {exc}")
        return
    result.notes.extend(getattr(store, "notes", ()))


def _check_seal(renderer: DocumentRenderer, result: Checked) -> None:
    """The seal key opens and its certificate is valid now (a problem), or ends soon (a note)."""
    if renderer.seal_spec is None:
        return
    where = str(renderer.job.label)
    try:
        problems, notes = renderer.sealer().check()
    except ConfigError as exc:
        result.problems.extend(f"{where}: {line}" for line in _lines(exc))
        return
    result.problems.extend(f"{where}: {p}" for p in problems)
    result.notes.extend(f"{where}: {n}" for n in notes)


def _check_data(job: JobSpec, settings: Settings, renderer: DocumentRenderer, sample: int,
                result: Checked) -> None:
    source = open_source(job, settings)
    try:
        check_columns(source, job)
        schema = RecordSchema(job)
        rendered_pdf = False
        built: dict[str, Any] = {}  # the MessageRenderer, built for the first record needing it
        with SeenKeys(settings.var_dir / "tmp") as seen:
            for item in plan_records(source, schema, seen, limit=sample):
                result.records_checked += 1
                if isinstance(item, Reject):
                    result.notes.append(f"sample record rejected: {item.describe()}")
                    continue
                _render_check(renderer, item, job, not rendered_pdf, result, built)
                rendered_pdf = True
                if result.problems:
                    return
    except SourceError as exc:
        result.problems.append(str(exc))


def _render_check(renderer: DocumentRenderer, record: Record, job: JobSpec, pdf: bool,
                  result: Checked, built: dict[str, Any]) -> None:
    doc_id = document_id(job.name, renderer.period.code, record.key, job.document_type, "pdf", 0)
    blocks = renderer.templates.template_set.manifest.blocks
    if blocks:  # an interactive letter set: checked with its blocks' sample texts, as proofs
        record = replace(record, data=with_sample_letter(record.data, blocks))
    try:
        if pdf:
            _html, artifact = renderer.render(record, doc_id)
            _seal_check(renderer, artifact, result)
        else:
            renderer.render_html(record, doc_id)
        renderer.check(record)  # an invoice's e-invoice against the official rules
        _message_check(renderer, record, job, doc_id, built)
    except FactoryError as exc:
        result.problems.append(f"{job.template_set} template with record {record.key}"
                               f" ({record.position}): {exc}")


def _seal_check(renderer: DocumentRenderer, artifact: Artifact, result: Checked) -> None:
    """Seal the first sample PDF (and throw it away): the TSA answers, the profile works. A TSA
    that is down is a note: the run retries such records."""
    if renderer.seal_spec is None:
        return
    try:
        renderer.sealer().seal(artifact)
    except RetryableSealError as exc:
        result.notes.append(f"{renderer.job.label}: seal: {exc}; a run retries the records it"
                            " could not seal")
    except SealError as exc:
        result.problems.append(f"{renderer.job.label}: seal: {exc}")


def _message_check(renderer: DocumentRenderer, record: Record, job: JobSpec,
                   doc_id: str, built: dict[str, Any]) -> None:
    route = route_record(job, record)
    wanted = [c for c in route.channels if c in ("email", "sms")]
    if not wanted:
        return
    from factory.pipeline.messages import MessageRenderer

    messages = built.get("messages")
    if messages is None:
        messages = built["messages"] = MessageRenderer(job, renderer.templates, renderer.schema)
    meta = renderer.meta(doc_id)
    if "email" in wanted and route.email:
        messages.email(record, meta, route.email, doc_id, b"%PDF" if job.email and
                       job.email.attach_pdf else None)
    if "sms" in wanted and route.phone:
        messages.sms_text(record, meta)

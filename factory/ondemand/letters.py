"""Interactive letters: an agent writes a template set's editable blocks for one customer.

Takes the settings, the index, the `OnDemandService` and the jobs (a name -> `JobSpec`
catalogue); gives `LetterDesk`: the jobs whose template set declares editable blocks
(`letter_jobs`), the customer's record (from the job's source by key, or posted as JSON:
validated by the job's `RecordSchema` as on-demand validates it, `RecordError` naming the
field), a preview of the real pages (`preview`: the batch's `DocumentRenderer`, PNG pages by
PDFium, nothing archived), and the letter's life in the index (`factory.archive.letters`):

    submit ─► (require_second_person) pending ─► approve ─► send      reject (a reason)
           └► (no second person) ─────────────────────────► send

The blocks are sanitised by `factory.templates.blocks` (nh3, the allow-list of each block's
declaration) before anything is stored, and again when the document is rendered. Sending goes
through `OnDemandService.render` under the job's on-demand run of the day: the record with the
letter (blocks, author, reviewer) in its data, so the archived record snapshot keeps them, and
the letter's id as the idempotency key, so a retried send gives the same document, never a
second one. Submissions, reviews and sends are audited (``letter.submit``, ``letter.approve``,
``letter.reject``, ``letter.send``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from factory.archive import SqlIndex
from factory.archive.audit import Actor
from factory.archive.letters import APPROVED, PENDING, LetterConflict, LetterRow
from factory.compliance.trail import MAX_PREVIEW_PAGES, page_png
from factory.config import Settings
from factory.errors import ConfigError, FactoryError, IntegrityError, NotFoundError, RecordError
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.schema import KEY_PATTERN
from factory.models import Period, Position, RawRecord, Record, Reject
from factory.ondemand.service import OnDemandService, RenderRequest
from factory.pipeline.document import DocumentRenderer
from factory.sources import open_source
from factory.templates import TemplateSet
from factory.templates.blocks import LETTER_KEY, BlockSpec, check_blocks
from factory.urls import mask_urls_in

SOURCE = "letter"
#: Warm preview renderers kept at once (one per job and day).
MAX_RENDERERS = 4


@dataclass(frozen=True)
class LetterJob:
    """A job whose template set declares editable blocks."""

    job: JobSpec
    template_set: TemplateSet

    @property
    def name(self) -> str:
        return self.job.name

    @property
    def blocks(self) -> tuple[BlockSpec, ...]:
        return self.template_set.manifest.blocks

    @property
    def four_eyes(self) -> bool:
        return self.template_set.manifest.require_second_person


def letter_jobs(jobs: Mapping[str, JobSpec], settings: Settings) -> dict[str, LetterJob]:
    """The jobs of ``jobs`` that write letters (a set that fails to load is left out)."""
    found = {}
    for name, job in sorted(jobs.items()):
        try:
            template_set = TemplateSet.load(settings.templates_dir, settings.assets_dir,
                                            job.template_set, job.brand)
        except ConfigError:
            continue
        if template_set.manifest.blocks:
            found[name] = LetterJob(job, template_set)
    return found


def letter_content(row: LetterRow) -> dict[str, Any]:
    """The record and blocks a letter was submitted with, checked against its SHA-256."""
    if hashlib.sha256(row.content.encode("utf-8")).hexdigest() != row.content_sha256:
        raise IntegrityError(f"letter {row.letter_id}: its stored content does not match its"
                             " SHA-256")
    content: dict[str, Any] = json.loads(row.content)
    return content


class LetterDesk:
    """Letters of the jobs in a catalogue; thread-safe (previews render one at a time)."""

    def __init__(self, settings: Settings, index: SqlIndex, ondemand: OnDemandService,
                 today: Callable[[], date] | None = None) -> None:
        self.settings = settings
        self.index = index
        self.ondemand = ondemand
        self.today = today or (lambda: datetime.now(UTC).date())
        self._renderers: dict[tuple[str, str, str], DocumentRenderer] = {}
        self._lock = threading.Lock()

    # -- the customer's record -----------------------------------------------------------------

    def record_by_key(self, job: LetterJob, key: str) -> Record:
        """The record of ``key`` in the job's source, validated; `NotFoundError` if absent."""
        key = key.strip()
        field = job.job.key_field
        if not KEY_PATTERN.match(key):
            raise RecordError(f"{key[:40]!r} is not a record key (letters, digits, '.', '_',"
                              " '-')", field)
        schema = RecordSchema(job.job)
        records = open_source(job.job, self.settings).records()
        try:
            for raw in records:
                if isinstance(raw, Reject) or str(raw.data.get(field, "")).strip() != key:
                    continue
                return schema.validate(raw)
        finally:
            close = getattr(records, "close", None)
            if close is not None:  # a generator left early: its files closed now
                close()
        raise NotFoundError(f"no record with {field} {key!r} in the source of job {job.name}")

    def record_from_json(self, job: LetterJob, text: str) -> Record:
        """A record posted as a JSON object, validated against the job's schema."""
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise RecordError(f"the record is not valid JSON: {exc}", None) from None
        if not isinstance(data, dict):
            raise RecordError("the record must be a JSON object of the job's fields", None)
        data.pop(LETTER_KEY, None)  # a letter is written here, never posted
        return RecordSchema(job.job).validate(RawRecord(Position(SOURCE, 1), data))

    # -- preview -------------------------------------------------------------------------------

    def preview(self, job: LetterJob, record: Record, texts: Mapping[str, str],
                author: Actor) -> list[bytes]:
        """The letter's pages as PNG images, rendered now by the job's renderer; nothing is
        archived or sent. `BlockError` when a block does not fit."""
        blocks = check_blocks(job.blocks, texts)
        letter = {"letter_id": "preview", "blocks": blocks, "author": author.id,
                  "author_role": author.role}
        drafted = dataclasses.replace(record, data={**record.data, LETTER_KEY: letter})
        with self._lock:
            renderer = self._renderer(job.job)
            _html, artifact = renderer.render(drafted, f"preview-{record.key}"[:36])
            count = min(artifact.page_count or 1, MAX_PREVIEW_PAGES)
            return [page_png(artifact.data, page) for page in range(1, count + 1)]

    def _renderer(self, job: JobSpec) -> DocumentRenderer:
        day = self.today()
        key = (job.name, job.text or "", day.isoformat())
        found = self._renderers.get(key)
        if found is None:
            for stale in [k for k in self._renderers if k[0] == job.name]:
                del self._renderers[stale]
            while len(self._renderers) >= MAX_RENDERERS:
                del self._renderers[next(iter(self._renderers))]
            found = self._renderers[key] = DocumentRenderer(
                job, self.settings, Period.parse(day.isoformat()), day)
        return found

    # -- the letter's life ---------------------------------------------------------------------

    def submit(self, job: LetterJob, record: Record, texts: Mapping[str, str],
               author: Actor) -> LetterRow:
        """Store the letter (pending a second person, or approved) and send it when no second
        person is needed; the stored letter."""
        blocks = check_blocks(job.blocks, texts)
        content = json.dumps({"record": dict(record.data), "blocks": blocks,
                              "locale": record.locale}, ensure_ascii=False, sort_keys=True)
        now = datetime.now(UTC)
        row = LetterRow(
            letter_id=uuid.uuid4().hex, job=job.name, record_key=record.key,
            customer_id=record.customer_id, status=PENDING if job.four_eyes else APPROVED,
            four_eyes=job.four_eyes, author=author.id, author_role=author.role,
            created_at=now, content=content,
            content_sha256=hashlib.sha256(content.encode("utf-8")).hexdigest(), updated_at=now)
        self.index.letters.add(row, {"job": job.name, "record_key": record.key,
                                     "customer_id": record.customer_id,
                                     "four_eyes": job.four_eyes,
                                     "characters": {k: len(v) for k, v in texts.items()}})
        return row if job.four_eyes else self.send(job, row, author)

    def review(self, job: LetterJob, letter_id: str, reviewer: Actor, approve: bool,
               reason: str) -> LetterRow:
        """Approve (then send) or reject a pending letter; never its author's own."""
        reason = reason.strip()
        if not approve and not reason:
            raise RecordError("say why the letter is rejected: the author reads the reason",
                              "reason")
        row = self.index.letters.review(letter_id, reviewer, approve, reason)
        return self.send(job, row, reviewer) if approve else row

    def send(self, job: LetterJob, row: LetterRow, actor: Actor) -> LetterRow:
        """Archive and deliver an approved (or failed, tried again) letter through the
        on-demand path; the letter as it is now (sent, or failed with the reason)."""
        content = letter_content(row)
        letter = {"letter_id": row.letter_id, "blocks": content["blocks"],
                  "author": row.author, "author_role": row.author_role,
                  "submitted_at": row.created_at.isoformat(), "reviewer": row.reviewer,
                  "reviewed_at": row.reviewed_at.isoformat() if row.reviewed_at else None}
        details: dict[str, Any] = {"letter_id": row.letter_id, "job": row.job,
                                   "record_key": row.record_key, "author": row.author}
        try:
            result = self.ondemand.render(job.job, RenderRequest(
                data=content["record"], letter=letter, actor=actor,
                idempotency_key=f"letter:{row.letter_id}"))
        except FactoryError as exc:  # the record no longer fits, a batch run holds the day...
            return self._settle(row, actor, False, None, None, str(exc), details)
        sent = result.ok and result.document_id is not None
        reason = None if sent else mask_urls_in(result.outcome.reason or "no document")
        details["channels"] = {c.channel: c.status.value for c in result.outcome.channels}
        return self._settle(row, actor, sent, result.document_id, result.run_id, reason,
                            details)

    def _settle(self, row: LetterRow, actor: Actor, sent: bool, document_id: str | None,
                run_id: str | None, reason: str | None, details: dict[str, Any]) -> LetterRow:
        try:
            settled = self.index.letters.settle(row.letter_id, sent, document_id=document_id,
                                                run_id=run_id, reason=reason)
        except LetterConflict:  # a second click sent it first: the same document
            found = self.index.letters.get(row.letter_id)
            if found is None:
                raise
            return found
        self.index.audit.append(actor, "letter.send", outcome="ok" if sent else "failed",
                                document_id=document_id, run_id=run_id,
                                details={**details, **({"error": reason[:300]}
                                                       if reason else {})})
        return settled

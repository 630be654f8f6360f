"""One record to HTML and PDF, with no side effects: the rendering half of a worker.

Takes a job, settings, the period and the issue date; gives `DocumentRenderer`, whose
``render`` turns a validated `Record` into (HTML, PDF `Artifact`). Used by workers, by
``docfactory preview`` and by proofs. Builds the warm `PdfRenderer` once. A job's document-type
plugin (`factory.pipeline.plugins`) adds computed values to the record before the templates
see it (``number``: the gapless number the worker assigned, None for previews) and
post-processes the PDF. A record in a ``[[segments]]`` entry that names a ``variant`` is
rendered with that variant's document template (``[variants]`` of the set's ``set.toml``).
When the job (or its retention class) seals its documents, the PDF that
``render_typed`` gives — the one a worker archives, indexes and emails — is sealed
(`factory.render.seal`); ``render`` (previews, checks, proofs, re-renders) never seals.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from factory.config import Settings
from factory.errors import ConfigError
from factory.jobs import JobSpec, RecordSchema
from factory.jobs.seal import SealSpec, seal_for
from factory.jobs.segments import segment_variant, segment_variants
from factory.models import Artifact, Period, Record
from factory.pipeline.plugins import DocumentPlugin, plugin_for
from factory.render.engine import make_pdf_renderer
from factory.templates import DocumentMeta, DocumentTemplates
from factory.templates.blocks import LETTER_KEY, letter_of


class DocumentRenderer:
    """Templates, brand, fonts and stylesheets of one job, ready to render any record."""

    def __init__(self, job: JobSpec, settings: Settings, period: Period, issued: date,
                 expected_version: str | None = None, variants_required: bool = True) -> None:
        self.job = job
        self.settings = settings
        self.seal_spec: SealSpec | None = seal_for(job, settings)
        self._sealer: Any = None
        self.period = period
        self.issued = issued
        self.schema = RecordSchema(job)
        self.plugin: DocumentPlugin | None = plugin_for(job, period, issued)
        self.templates = DocumentTemplates.load(
            settings.templates_dir, settings.assets_dir, job.template_set, job.brand,
            job.locales, job.default_locale)
        if expected_version is not None and self.templates.version != expected_version:
            raise ConfigError(
                f"template set {job.template_set!r} changed since the run started"
                f" (the run uses {expected_version[:12]}, this worker sees"
                f" {self.templates.version[:12]}); deploy one version to every worker")
        template_set = self.templates.template_set
        if variants_required:  # not for an older version a proof compares against
            template_set.check_variants(segment_variants(job))
        self.pdf = make_pdf_renderer(  # WeasyPrint's PdfRenderer (a stub only in benches)
            base_url=template_set.set_dir.as_uri() + "/",
            allowed=template_set.roots,
            stylesheets=self.templates.stylesheets(),
            pdf_variant=job.render.pdf_variant,
            tagged=job.render.tagged,
        )
        # Compile the document template (and what it extends) now, not on the first record;
        # and the variants the job's segments use.
        for variant in {None, *segment_variants(job).values()}:
            if variant is None or variant in template_set.manifest.variants:
                self.templates.env.get_template(template_set.manifest.document_for(variant))

    @property
    def version(self) -> str:
        return self.templates.version

    def meta(self, doc_id: str) -> DocumentMeta:
        return DocumentMeta(doc_id, self.job.document_type, self.job.name, self.period,
                            self.issued, self.templates.version)

    def series(self, record: Record) -> str | None:
        """The numbering series of ``record``, or None when its documents are not numbered."""
        return self.plugin.series(record) if self.plugin is not None else None

    def typed(self, record: Record, number: int | None = None) -> dict[str, Any]:
        """The record's values for templates, with the plugin's computed values."""
        typed = self.schema.typed(record.data)
        letter = letter_of(record.data)
        if letter is not None:  # an interactive letter's blocks (factory.templates.blocks)
            typed[LETTER_KEY] = letter
        if self.plugin is not None:
            typed = self.plugin.enrich(typed, record, number)
        return typed

    def check(self, record: Record) -> None:
        """Run the plugin's own checks on ``record`` (an invoice's XML against the official
        rules) without rendering; raises the plugin's `RenderError`."""
        check = getattr(self.plugin, "check", None)
        if check is not None:
            check(self.typed(record))

    def snapshot(self, typed: dict[str, Any]) -> dict[str, Any] | None:
        """What the record snapshot keeps of computed values: the plugin's, and for a sealing
        job the seal profile (so `archive verify` knows the document must carry a seal, even
        when the seal came from its retention class rather than the job file)."""
        computed = self.plugin.snapshot(typed) if self.plugin is not None else None
        if self.seal_spec is not None:
            computed = {**(computed or {}), "seal": self.seal_spec.profile}
        return computed

    def variant(self, record: Record) -> str | None:
        """The template variant of the record's segment (None: the set's own document, also
        when this version of the set does not have the variant yet)."""
        variant = segment_variant(self.job, record.data, record.locale)
        return variant if variant in self.templates.template_set.manifest.variants else None

    def _html(self, typed: dict[str, Any], record: Record, doc_id: str) -> str:
        document = self.templates.template_set.manifest.document_for(self.variant(record))
        return self.templates.render(document, typed, record.locale, self.meta(doc_id))

    def render_html(self, record: Record, doc_id: str, number: int | None = None) -> str:
        return self._html(self.typed(record, number), record, doc_id)

    def render(self, record: Record, doc_id: str, number: int | None = None
               ) -> tuple[str, Artifact]:
        """HTML and PDF as rendered, never sealed (previews, checks, proofs, re-renders)."""
        html, artifact, _typed = self._render(record, doc_id, number)
        return html, artifact

    def render_typed(self, record: Record, doc_id: str, number: int | None = None
                     ) -> tuple[str, Artifact, dict[str, Any]]:
        """HTML, the finished PDF as it is archived (sealed when the job seals) and the typed
        values it was rendered from."""
        html, artifact, typed = self._render(record, doc_id, number)
        if self.seal_spec is not None:
            artifact = self.sealer().seal(artifact)
        return html, artifact, typed

    def sealer(self) -> Any:
        """The job's `factory.render.seal.Sealer`, loaded on first use (its key decrypted once
        per process); `ConfigError` when the job does not seal or the key is unusable."""
        if self._sealer is None:
            if self.seal_spec is None:
                raise ConfigError(f"job {self.job.name!r} does not seal its documents")
            from factory.render.seal import Sealer  # imports pyHanko

            self._sealer = Sealer(self.seal_spec, self.settings.seal_secrets, self.settings.root)
        return self._sealer

    def _render(self, record: Record, doc_id: str, number: int | None
                ) -> tuple[str, Artifact, dict[str, Any]]:
        typed = self.typed(record, number)
        html = self._html(typed, record, doc_id)
        artifact = self.pdf.render(html, doc_id)
        if self.plugin is not None:
            artifact = self.plugin.finish(artifact, typed)
        return html, artifact, typed

"""One template-set version, warm, ready to render proof records.

Takes a job, the base settings, a `VersionTree`, the period, the issue date and a version stamp;
gives `ProofRenderer`, a `DocumentRenderer` reading that version's folders, and `Rendering`
(HTML, PDF bytes, or the error that stopped it). Both versions of a proof print the same
document id, issue date and template-version stamp (the current version's), so two renderings
differ only where their templates differ: without that, every footer would show a change.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

from factory.archive import document_id
from factory.config import Settings
from factory.errors import FactoryError
from factory.jobs import JobSpec
from factory.models import Period, Record
from factory.pipeline.document import DocumentRenderer
from factory.proofs.layout import font_coverage
from factory.proofs.versions import VersionTree
from factory.templates import DocumentMeta
from factory.templates.blocks import with_sample_letter

PROOF_REVISION = 0


@dataclass(frozen=True)
class Rendering:
    html: str = ""
    pdf: bytes = b""
    error: str | None = None


class ProofRenderer(DocumentRenderer):
    """A `DocumentRenderer` for one version's folders, stamping a fixed version."""

    def __init__(self, job: JobSpec, settings: Settings, tree: VersionTree, period: Period,
                 issued: date, stamp: str | None = None, variants_required: bool = True
                 ) -> None:
        # The version compared against may predate a variant the job's segments name: its
        # records then show the set's own document there, which is what they got before.
        super().__init__(job, tree.settings(settings), period, issued,
                         variants_required=variants_required)
        self.tree = tree
        self.stamp = stamp or self.version
        self.coverage = font_coverage(self.templates.brand)

    def meta(self, doc_id: str) -> DocumentMeta:
        return replace(super().meta(doc_id), template_version=self.stamp)

    def proof(self, record: Record) -> Rendering:
        """Render ``record``; a failure is returned, not raised."""
        doc_id = document_id(self.job.name, self.period.code, record.key,
                             self.job.document_type, "pdf", PROOF_REVISION)
        blocks = self.templates.template_set.manifest.blocks
        if blocks:  # an interactive letter set: proofs show the declared sample texts
            record = replace(record, data=with_sample_letter(record.data, blocks))
        try:
            html, artifact = self.render(record, doc_id)
        except FactoryError as exc:
            return Rendering(error=f"{type(exc).__name__}: {exc}")
        return Rendering(html, artifact.data)

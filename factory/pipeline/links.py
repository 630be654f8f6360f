"""The customer's link to the record's archived PDF, for email and SMS templates.

Takes the run's settings (``link_secret``, ``public_url``), the job (``link_days``), a message's
`DocumentMeta` and the PDF's document id; gives the meta with ``link`` set (templates write
``{{ document.link }}``), or unchanged when links are not configured (no secret or no public
address). The token names the PDF's document id only (`factory.links`).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from factory.config import Settings
from factory.errors import RenderError
from factory.jobs import JobSpec
from factory.links import LinkSigner
from factory.templates import DocumentMeta

if TYPE_CHECKING:
    from factory.pipeline.channels.base import RecordContext, Services


def with_link(meta: DocumentMeta, settings: Settings, job: JobSpec,
              pdf_document_id: str | None) -> DocumentMeta:
    if not (settings.link_secret and settings.public_url and pdf_document_id):
        return meta
    token, _link_id = LinkSigner(settings.link_secret).issue(pdf_document_id, job.link_days)
    return dataclasses.replace(meta, link=f"{settings.public_url.rstrip('/')}/d/{token}")


def linked(meta: DocumentMeta, services: Services, context: RecordContext) -> DocumentMeta:
    """``meta`` with the customer's link to the record's archived PDF (unchanged when links
    are not configured or the record has no archived PDF)."""
    settings = services.config.settings
    if not settings.link_secret:
        return meta
    try:
        pdf_id = context.archived_pdf().document_id
    except RenderError:
        return meta
    return with_link(meta, settings, services.job, pdf_id)

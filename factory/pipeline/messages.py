"""One record to an email and an SMS, from the same template set, brand and catalogs as its PDF.

Takes the job, the loaded `DocumentTemplates` and the record schema; gives `MessageRenderer`,
whose ``email`` and ``sms`` turn a validated record, its document metadata, its recipient and
its idempotency key into (archived `Artifact`, `Message` for the transport). The fixed texts
come from the same gettext catalogs and the brand context is the same as the PDF's, so the
channels say the same thing. Built once per worker process (the CSS inliner and the brand's
inline email logo included). The To header carries the record's ``name``.

Failures are `RenderError`s naming the template: an empty subject or text, an SMS over the
job's segment limit (with the encoding, its length and, when transliteration is off, what it
would cost transliterated).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from factory.errors import RenderError
from factory.jobs import JobSpec, RecordSchema
from factory.messages.email import (
    Attachment,
    EmailParts,
    HtmlInliner,
    InlineImage,
    build_email,
)
from factory.models import Artifact, Message, Record
from factory.templates import DocumentMeta, DocumentTemplates
from factory.templates.brand import EMAIL_LOGO_CID

EML_MEDIA_TYPE = "message/rfc822"
SMS_MEDIA_TYPE = "application/json"
_SPACES = re.compile(r"[ \t\u00a0\u2007\u202f\u2009]+")


class MessageRenderer:
    def __init__(self, job: JobSpec, templates: DocumentTemplates,
                 schema: RecordSchema) -> None:
        self.job = job
        self.templates = templates
        self.schema = schema
        manifest = templates.template_set.manifest
        self.names = {"html": manifest.email_html, "text": manifest.email_text,
                      "subject": manifest.email_subject, "sms": manifest.sms}
        templates.template_set.check_channels(list(job.channels))
        self.inliner = HtmlInliner(templates.brand.colour_css()) if job.email else None
        self.inline: tuple[InlineImage, ...] = ()
        logo = templates.brand.email_logo_path
        if job.email and logo is not None:
            kind = "image/jpeg" if logo.suffix.lower() in {".jpg", ".jpeg"} else \
                f"image/{logo.suffix.lower().lstrip('.')}"
            self.inline = (InlineImage(EMAIL_LOGO_CID, kind, logo.read_bytes(), logo.name),)
        for channel, names in (("email", ("html", "text", "subject")), ("sms", ("sms",))):
            if channel in job.channels:
                for name in names:
                    templates.env.get_template(self.names[name])

    def _render(self, name: str, typed: Any, record: Record, meta: DocumentMeta) -> str:
        return self.templates.render(self.names[name], typed, record.locale, meta)

    def email(self, record: Record, meta: DocumentMeta, recipient: str, key: str,
              pdf: bytes | None = None) -> tuple[Artifact, Message]:
        spec = self.job.email
        assert spec is not None and self.inliner is not None
        typed = self.schema.typed(record.data)  # once for the three templates
        html = self.inliner.inline(self._render("html", typed, record, meta))
        attachments: tuple[Attachment, ...] = ()
        if pdf is not None:
            name = f"{self.job.document_type}-{meta.period.code}-{record.key}.pdf"
            attachments = (Attachment(name, "application/pdf", pdf),)
            if self.job.invoice is not None and self.job.invoice.isdoc:
                # the ISDOC the archived PDF carries, byte for byte (Czech accounting systems
                # import the .isdoc file; ISDOC 6.0.2 names application/xml for it)
                from factory.invoicing.isdoc import isdoc_from_pdf

                found = isdoc_from_pdf(pdf)
                if found is not None:
                    attachments += (Attachment(found[0], "application/xml", found[1]),)
        unsubscribe: tuple[str, ...] = ()
        if spec.message_class == "marketing":
            unsubscribe = tuple(
                target.replace("{customer_id}", quote(record.customer_id, safe=""))
                .replace("{key}", quote(record.key, safe="")) for target in spec.unsubscribe)
        parts = EmailParts(
            subject=self._render("subject", typed, record, meta),
            html=html, text=self._render("text", typed, record, meta), sender=spec.sender,
            recipient=recipient, key=key, date=datetime.now(UTC), reply_to=spec.reply_to,
            unsubscribe=unsubscribe, attachments=attachments,
            recipient_name=str(typed.get("name") or "") or None, inline=self.inline)
        data, message_id = build_email(parts)
        artifact = Artifact.of("email", EML_MEDIA_TYPE, "eml", data)
        message = Message("email", key, recipient, spec.sender, data,
                          {"message_id": message_id})
        return artifact, message

    def sms_text(self, record: Record, meta: DocumentMeta) -> Any:
        """The SMS text as sent (whitespace folded, transliterated if the job says so)."""
        from factory.messages.sms import analyse
        from factory.messages.translit import to_gsm7

        spec = self.job.sms
        assert spec is not None
        text = " ".join(_SPACES.sub(" ", line).strip() for line in
                        self._render("sms", self.schema.typed(record.data), record, meta)
                        .splitlines() if line.strip())
        if spec.transliterate:
            text = to_gsm7(text, record.locale)
        facts = analyse(text)
        if facts.segments == 0:
            raise RenderError(f"{self.names['sms']}: the template produced an empty SMS")
        if facts.segments > spec.max_segments:
            hint = ""
            if not spec.transliterate and facts.encoding != "GSM-7":
                shorter = analyse(to_gsm7(text, record.locale))
                hint = (f"; transliterated to GSM-7 it would be {shorter.segments}"
                        " (sms.transliterate = true)")
            raise RenderError(
                f"{self.names['sms']}: SMS over the segment limit: {facts.segments} segments"
                f" ({facts.encoding}, {facts.units} units) > max_segments"
                f" {spec.max_segments}{hint}")
        return facts

    def sms(self, record: Record, meta: DocumentMeta, recipient: str, key: str
            ) -> tuple[Artifact, Message]:
        spec = self.job.sms
        assert spec is not None
        facts = self.sms_text(record, meta)
        details = {"encoding": facts.encoding, "segments": facts.segments,
                   "units": facts.units, "characters": facts.characters}
        archived = json.dumps({
            "key": key, "document_id": meta.document_id, "to": recipient, "from": spec.sender,
            "locale": record.locale, "text": facts.text, **details,
        }, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        artifact = Artifact.of("sms", SMS_MEDIA_TYPE, "json", archived)
        message = Message("sms", key, recipient, spec.sender, facts.text.encode("utf-8"),
                          details)
        return artifact, message

"""Fakes for the fast tier (``make test-fast``): a stub PDF renderer and shared in-memory store
and transports, so a whole run goes through routing, archive, index and delivery in
milliseconds per record, with no WeasyPrint layout and no server.

The stub still renders the template to HTML (the sandbox, filters and translations run); only
the layout is skipped: it writes a one-page PDF whose metadata names the document and the
SHA-256 of the HTML it was given, so a test can tell which record an archived PDF belongs to.
"""

from __future__ import annotations

import hashlib
import io

import pytest
from pypdf import PdfReader, PdfWriter

from factory.archive import MemoryStore, register_store
from factory.deliver.transport import MemoryTransport, register_transport
from factory.models import Artifact, Message, Receipt
from factory.render.pdf import PDF_MEDIA_TYPE, PdfRenderer


def stub_render(self: PdfRenderer, html: str, document_id: str) -> Artifact:
    """`PdfRenderer.render` without the layout: a blank A4 page, named in its metadata."""
    writer = PdfWriter()
    writer.add_blank_page(595, 842)
    writer.add_metadata({"/Subject": document_id,
                         "/Keywords": hashlib.sha256(html.encode("utf-8")).hexdigest()})
    out = io.BytesIO()
    writer.write(out)
    return Artifact.of("pdf", PDF_MEDIA_TYPE, "pdf", out.getvalue(), page_count=1)


def stub_metadata(data: bytes) -> tuple[str, str]:
    """(document id, SHA-256 of the HTML) that `stub_render` wrote into a PDF."""
    info = PdfReader(io.BytesIO(data)).metadata
    assert info is not None
    return str(info["/Subject"]), str(info["/Keywords"])


class RecordingTransport(MemoryTransport):
    """A `MemoryTransport` that also keeps the key of every send, repeats included."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.attempts: list[str] = []

    def send(self, message: Message) -> Receipt:
        self.attempts.append(message.key)
        return super().send(message)


class Fakes:
    """One test's in-memory store (``memtest://``) and transports (``memmail://`` for email,
    ``memsms://`` for SMS): every open of those URLs in this process gets the same object."""

    def __init__(self) -> None:
        self.store = MemoryStore()
        self.email = RecordingTransport("memmail://")
        self.sms = RecordingTransport("memsms://")
        register_store("memtest", lambda url: self.store)
        register_transport("memmail", lambda url, options: self.email)
        register_transport("memsms", lambda url, options: self.sms)


def install(monkeypatch: pytest.MonkeyPatch) -> Fakes:
    """Swap the PDF layout for `stub_render` and register fresh in-memory store/transports."""
    monkeypatch.setattr(PdfRenderer, "render", stub_render)
    return Fakes()

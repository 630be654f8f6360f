"""What the letter tests share: a copy of the golden archive with the repository's
``complaint_letter`` job (its source and outbox in the copy), a real ``docfactory serve``, one
key per role plus a second agent, and helpers to read a letter back from the archive."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader

from factory.compliance import Role
from factory.compliance.keys import create_key
from factory.models import ArchiveEntry
from tests.archive_fixtures import Built, Server, copy_archive, make_keys, start_server
from tests.conftest import REPO

JOB = "complaint_letter"


@dataclass
class LetterSite:
    built: Built
    server: Server
    keys: dict[str, str]

    @property
    def url(self) -> str:
        return self.server.url

    def letter(self, letter_id: str) -> Any:
        index = self.built.index()
        try:
            return index.letters.get(letter_id)
        finally:
            index.close()

    def audit(self, action: str) -> list[Any]:
        index = self.built.index()
        try:
            return [e for e in index.audit.entries() if e.action == action]
        finally:
            index.close()

    def letter_record(self, key: str) -> dict[str, Any]:
        """The customer's row of the copy's customers.csv, as the letter job reads it."""
        import csv

        with (self.built.var / "sample" / "customers.csv").open(encoding="utf-8") as handle:
            row = next(r for r in csv.DictReader(handle) if r["customer_id"] == key)
        return {k: v for k, v in row.items() if v != ""}

    def document(self, document_id: str) -> ArchiveEntry:
        index = self.built.index()
        try:
            entry = index.documents.get(document_id)
        finally:
            index.close()
        assert entry is not None, document_id
        return entry

    def snapshot(self, entry: ArchiveEntry) -> dict[str, Any]:
        assert entry.record_storage_key
        found: dict[str, Any] = json.loads(self.built.store().get(entry.record_storage_key))
        return found

    def pdf_runs(self, entry: ArchiveEntry) -> list[tuple[str, str]]:
        """(text, font name) of every text run of the archived PDF, read back with pypdf."""
        runs: list[tuple[str, str]] = []
        reader = PdfReader(io.BytesIO(self.built.store().get(entry.storage_key)))
        for page in reader.pages:
            page.extract_text(visitor_text=lambda text, _cm, _tm, font, _size: runs.append(
                (text, str((font or {}).get("/BaseFont", "")))))
        return runs


def letter_job(built: Built) -> Path:
    """The repository's letter job, reading the copy's customers and writing its outbox."""
    text = (REPO / "jobs" / f"{JOB}.toml").read_text(encoding="utf-8")
    text = text.replace('path = "var/sample/customers.csv"',
                        f'path = "{built.var / "sample" / "customers.csv"}"')
    text = text.replace('transport = "outbox:var/outbox"',
                        f'transport = "outbox:{built.var / "outbox"}"')
    path = built.jobs / f"{JOB}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def start_letter_site(golden: Built, root: Path) -> LetterSite:
    built = copy_archive(golden, root)
    letter_job(built)
    server = start_server(built, env={"FACTORY_API_AUTH_FAILURES": "100000"})
    keys = make_keys(built)
    index = built.index()
    try:
        keys["agent2"] = create_key(index, Role.AGENT, "second agent", "tests")[1]
    finally:
        index.close()
    return LetterSite(built, server, keys)

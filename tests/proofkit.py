"""Helpers for the proof and approval tests: a project folder under git, crafted records."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from fontTools import subset
from fontTools.ttLib import TTFont

from factory.config import Settings, load_settings
from tests.conftest import REPO, write_job

GIT_ENV = {"GIT_AUTHOR_NAME": "Proof Test", "GIT_AUTHOR_EMAIL": "proof@test.example",
           "GIT_COMMITTER_NAME": "Proof Test", "GIT_COMMITTER_EMAIL": "proof@test.example",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_SYSTEM": "/dev/null",
           "PATH": "/usr/local/bin:/usr/bin:/bin"}


def git(project: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=project, env=GIT_ENV, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip()


def make_project(folder: Path) -> Path:
    """A copy of the repository's templates and assets, committed to a fresh git repository."""
    folder.mkdir(parents=True)
    shutil.copytree(REPO / "templates", folder / "templates")
    shutil.copytree(REPO / "assets", folder / "assets")
    git(folder, "init", "-q", "-b", "main")
    commit(folder, "templates as in the repository")
    return folder


def commit(project: Path, message: str) -> str:
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", message)
    return git(project, "rev-parse", "HEAD")


def edit(project: Path, relative: str, old: str, new: str) -> None:
    path = project / relative
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def latin_only_fonts(project: Path) -> None:
    """Cut the brand's fonts down to Latin (no Cyrillic), as a cheaper font licence might."""
    for path in (project / "assets" / "northwind" / "fonts").glob("*.ttf"):
        font = TTFont(path)
        options = subset.Options()
        options.name_IDs = ["*"]
        options.notdef_outline = True
        options.layout_features = ["*"]
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=[*range(0x20, 0x250), *range(0x2000, 0x2070), 0x20AC])
        subsetter.subset(font)
        font.save(path)


def project_settings(project: Path, var: Path) -> Settings:
    return load_settings(project, {}, var_dir=str(var), workers=1)


def customer(key: str, name: str, locale: str, transactions: int = 3,
             **changes: Any) -> dict[str, Any]:
    currency = {"uk": "UAH", "en": "GBP"}.get(locale, "CZK")
    record: dict[str, Any] = {
        "customer_id": key, "name": name, "email": None, "phone": None, "locale": locale,
        "currency": currency, "address_line1": "Vinohradská 12", "address_line2": None,
        "postal_code": "120 00", "city": "Praha 2", "country": "CZ",
        "account_iban": "CZ6508000000192000145399", "opening_balance": "1500.00",
        "transactions": [
            {"date": f"2026-11-{day + 1:02d}", "description": f"Payment {day} <Shop>",
             "amount": "-12.50" if day % 2 else "230.00", "reference": None}
            for day in range(transactions)],
    }
    record.update(changes)
    return record


def write_records(path: Path, records: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def proof_job(folder: Path, records: Path, filename: str = "job.toml", **changes: Any) -> Path:
    return write_job(folder, filename, source={"type": "jsonl", "path": str(records)},
                     **changes)


TWO_CUSTOMERS = [
    customer("C000001", "Amelia Smith", "en", 4),
    customer("C000002", "Оксана Кравченко", "uk", 2, address_line1="вул. Хрещатик 22",
             city="Київ", postal_code="01001", country="UA"),
]

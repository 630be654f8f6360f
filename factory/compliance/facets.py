"""The values a search form offers in its lists: document types, channels and jobs that the
index holds, so the archive page's filters are choices, not free text.

Takes the index; gives sorted distinct values per column (read-only, one small query each).
"""

from __future__ import annotations

from sqlalchemy import select

from factory.archive import SqlIndex
from factory.archive.tables import documents

FACETS = ("document_type", "channel", "job")


def facets(index: SqlIndex) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    with index.connect() as conn:
        for name in FACETS:
            column = documents.c[name]
            found[name] = [row[0] for row in conn.execute(
                select(column).distinct().order_by(column).limit(500))]
    return found

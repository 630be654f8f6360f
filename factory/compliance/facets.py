"""The values a search form offers in its lists: document types, channels and jobs that the
index holds, so the archive page's filters are choices, not free text.

Takes the index; gives sorted distinct values per column (read-only, one small query each,
through ``index.search``).
"""

from __future__ import annotations

from factory.archive.protocols import HasSearch
from factory.archive.search import FACETS


def facets(index: HasSearch) -> dict[str, list[str]]:
    return index.search.facets()


__all__ = ["FACETS", "facets"]

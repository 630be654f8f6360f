"""Input sources: CSV, JSON Lines and SQL, all streamed in constant memory.

Takes a job's ``[source]`` table and the settings (to resolve relative paths); gives a `Source`
whose ``records()`` yields `RawRecord` or `Reject` values in input order. `open_source` is the
one registry: add a source type by adding a class and a branch here.
"""

from __future__ import annotations

from factory.config import Settings
from factory.jobs.spec import CsvSource as CsvSpec
from factory.jobs.spec import JobSpec
from factory.jobs.spec import JsonlSource as JsonlSpec
from factory.jobs.spec import SqlSource as SqlSpec
from factory.sources.base import Source
from factory.sources.csv_source import CsvSource
from factory.sources.jsonl_source import JsonlSource
from factory.sources.seen import SeenKeys
from factory.sources.spill import sweep_scratch
from factory.sources.sql_source import SqlSource, safe_url


def open_source(job: JobSpec, settings: Settings) -> Source:
    """The source a job's ``[source]`` table describes."""
    spec = job.source
    items_field = job.record_schema.items.field if job.record_schema.items else "items"
    if isinstance(spec, CsvSpec):
        return CsvSource(
            settings.resolve(spec.path),
            delimiter=spec.delimiter,
            items_path=settings.resolve(spec.items.path) if spec.items else None,
            items_key=spec.items.key if spec.items else None,
            items_field=items_field,
            items_delimiter=spec.items.delimiter if spec.items else ",",
            tmp_dir=settings.var_dir / "tmp",
        )
    if isinstance(spec, JsonlSpec):
        return JsonlSource(settings.resolve(spec.path))
    assert isinstance(spec, SqlSpec)
    return SqlSource(
        _sql_url(spec.url, settings),
        spec.query,
        spec.key,
        items_query=spec.items_query,
        items_key=spec.items_key,
        items_field=items_field,
        items_order_by=spec.items_order_by,
    )


def _sql_url(url: str, settings: Settings) -> str:
    """``sqlite:///relative.db`` is relative to the project root, like every other path."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and url != "sqlite://":
        return prefix + str(settings.resolve(url[len(prefix):]))
    return url


__all__ = ["CsvSource", "JsonlSource", "SeenKeys", "Source", "SqlSource", "open_source", "safe_url",
           "sweep_scratch"]

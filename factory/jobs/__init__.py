"""Job files: a TOML file in ``jobs/`` read into a validated `JobSpec` and its record schema."""

from factory.jobs.schema import RecordSchema
from factory.jobs.spec import JobSpec, load_job

__all__ = ["JobSpec", "RecordSchema", "load_job"]

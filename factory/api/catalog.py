"""The jobs the API may start: every valid job file in the jobs folder, by job name.

Takes the jobs folder; gives ``{name: JobSpec}`` read afresh on every call (job files are few
and small, and an edited file is seen at once) plus the problems of files that do not load.
A job is only ever looked up by name in this mapping: a name from a request is never a path.
"""

from __future__ import annotations

from pathlib import Path

from factory.errors import ConfigError
from factory.jobs import JobSpec, load_job


def load_catalog(jobs_dir: Path) -> tuple[dict[str, JobSpec], list[str]]:
    jobs: dict[str, JobSpec] = {}
    problems: list[str] = []
    if not jobs_dir.is_dir():
        return jobs, [f"{jobs_dir}: jobs folder not found"]
    for path in sorted(jobs_dir.glob("*.toml")):
        try:
            spec = load_job(path)
        except ConfigError as exc:
            problems.append(str(exc).split("\n", 1)[0])
            continue
        if spec.name in jobs:
            problems.append(f"{path}: job name {spec.name!r} is also used by"
                            f" {jobs[spec.name].path}; ignored")
            continue
        jobs[spec.name] = spec
    return jobs, problems

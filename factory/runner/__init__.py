"""Runs: a job streamed, validated, dispatched to an executor and accounted for.

Takes a job, settings, options, an executor and a progress sink; gives a `RunReport`. See
`run.run_job`; `plan` turns input into records and rejects, `files` writes the run's files.
"""

from factory.runner.progress import NoProgress, Progress
from factory.runner.run import Executor, Prepared, RunOptions, new_run_id, prepare, run_job

__all__ = ["Executor", "NoProgress", "Prepared", "Progress", "RunOptions", "new_run_id", "prepare",
           "run_job"]

"""The approval gate: a job with ``require_approval = true`` renders only approved templates.

Takes the job, the template-set version the run would use and the open index; gives None when
the run may go on, or the message that stops it: it names the template set and brand, the
version that would be used, the last approved version (who, when) and the commands that fix it.
"""

from __future__ import annotations

from factory.archive.index import SqlIndex
from factory.archive.versions import approval_of, last_approval
from factory.jobs import JobSpec
from factory.templates.templateset import short_version


def approval_problem(job: JobSpec, version: str, index: SqlIndex) -> str | None:
    """Why ``job`` may not run with template-set ``version``; None if it may."""
    if not job.require_approval or approval_of(index, job.template_set, version) is not None:
        return None
    last = last_approval(index, job.template_set, job.brand)
    head = (f"{job.label}: require_approval is set and template set {job.template_set!r}"
            f" (brand {job.brand!r}) version {short_version(version)} is not approved")
    if last is None:
        previous = "; no version of it has been approved yet"
        proof = ""
    else:
        previous = (f"; the last approved version is {short_version(last.version)}"
                    f" (approved by {last.approved_by} on {last.approved_at:%Y-%m-%d %H:%M} UTC)")
        proof = (f"`docfactory proof {job.label} --against {short_version(last.version)}`"
                 " to see what changed, then ")
    return (f"{head}{previous}. Run {proof}`docfactory templates approve --job {job.label}`"
            f" to approve it (full version {version})")

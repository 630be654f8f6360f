"""A template-set version to proof against, made into folders the renderer can read.

Takes a reference (``REF``), the job, the settings, the open index and store and a scratch
folder; gives a `VersionTree`: a ``templates/`` and an ``assets/`` folder holding that version's
files, and a label saying where they came from. ``REF`` is, in this order:

- ``approved``: the last approved version of the job's template set and brand;
- a template-set version hash recorded in the index, full or a unique prefix (4+ hex digits):
  its snapshot ``_template-sets/<version>.zip`` is read from the archive store and extracted;
  the extracted files must hash to the same version (else `IntegrityError`);
- a git revision (``HEAD``, ``HEAD~1``, a tag, a commit): ``git archive <rev>`` of the
  templates and assets folders of the repository holding the project root.

Anything else is a `ConfigError` that says what was tried. `working_tree` is the version on
disk now (the settings' own folders).
"""

from __future__ import annotations

import io
import re
import subprocess
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from factory.archive.index import SqlIndex
from factory.archive.keys import template_snapshot_key
from factory.archive.store import Store
from factory.archive.versions import last_approval, match_versions
from factory.config import Settings
from factory.errors import ConfigError, FactoryError, IntegrityError
from factory.jobs import JobSpec
from factory.templates.templateset import TemplateSet, short_version

_HEX = re.compile(r"^[0-9a-fA-F]{4,64}$")
GIT_TIMEOUT = 120


@dataclass(frozen=True)
class VersionTree:
    """The files of one template-set version, as folders."""

    label: str
    templates_dir: Path
    assets_dir: Path

    def settings(self, base: Settings) -> Settings:
        return base.with_overrides(templates_dir=self.templates_dir, assets_dir=self.assets_dir)

    def version(self, job: JobSpec) -> str:
        return TemplateSet.load(self.templates_dir, self.assets_dir, job.template_set,
                                job.brand).version


def working_tree(settings: Settings) -> VersionTree:
    return VersionTree("working tree", settings.templates_dir, settings.assets_dir)


def resolve_ref(ref: str, job: JobSpec, settings: Settings, index: SqlIndex, store: Store,
                scratch: Path) -> VersionTree:
    """The folders of version ``ref`` (see the module docstring)."""
    ref = ref.strip()
    if not ref:
        raise ConfigError("--against needs a version hash, 'approved' or a git revision")
    if ref == "approved":
        approval = last_approval(index, job.template_set, job.brand)
        if approval is None:
            raise ConfigError(f"no version of template set {job.template_set!r} (brand"
                              f" {job.brand!r}) has been approved yet in {index.safe_url}")
        return from_archive(approval.version, job, store, scratch,
                            f"last approved ({approval.approved_by},"
                            f" {approval.approved_at:%Y-%m-%d})")
    tried = []
    if _HEX.match(ref):
        matches = match_versions(index, ref)
        own = [m for m in matches if m["template_set"] == job.template_set]
        if len(own) == 1:
            version = own[0]["version"]
            return from_archive(version, job, store, scratch, "archived snapshot")
        if len(own) > 1:
            listed = ", ".join(short_version(m["version"]) for m in own)
            raise ConfigError(f"version prefix {ref!r} is ambiguous: it matches {listed};"
                              " give more digits")
        if matches:
            other = matches[0]
            raise ConfigError(f"version {short_version(other['version'])} is of template set"
                              f" {other['template_set']!r}, not {job.template_set!r}")
        tried.append(f"no template-set version starting with {ref!r} in {index.safe_url}")
    try:
        return from_git(ref, settings, scratch)
    except _NotGit as exc:
        tried.append(str(exc))
    raise ConfigError(f"--against {ref!r}: not a known template-set version nor a git revision",
                      tried)


def from_archive(version: str, job: JobSpec, store: Store, scratch: Path,
                 label: str) -> VersionTree:
    """Extract ``_template-sets/<version>.zip`` and check it hashes to ``version``."""
    key = template_snapshot_key(version)
    try:
        data = store.get(key)
    except FactoryError as exc:
        raise ConfigError(f"the snapshot of version {short_version(version)} is not in the"
                          f" archive: {exc}") from None
    target = scratch / f"version-{version[:16]}"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist():
                path = _safe_member(info.filename, target)
                if info.is_dir():
                    continue
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.read(info))
    except zipfile.BadZipFile as exc:
        raise IntegrityError(f"{store.url}/{key}: not a zip file: {exc}") from None
    tree = VersionTree(label, target / "templates", target / "assets")
    found = tree.version(job)
    if found != version:
        raise IntegrityError(f"{key}: the extracted files hash to {short_version(found)},"
                             f" not {short_version(version)}")
    return tree


class _NotGit(Exception):
    """``ref`` cannot be read from git (not a repository, unknown revision, no git)."""


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True,  # noqa: S603, S607
                              timeout=GIT_TIMEOUT, check=False)
    except FileNotFoundError:
        raise _NotGit("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise _NotGit(f"git {args[0]} took more than {GIT_TIMEOUT} s") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise _NotGit(f"git {args[0]}: {message[-1] if message else 'failed'}")
    return done.stdout


def from_git(ref: str, settings: Settings, scratch: Path) -> VersionTree:
    """``git archive`` the templates and assets folders at revision ``ref``."""
    if ref.startswith("-"):
        raise _NotGit(f"{ref!r} is not a revision")
    top = Path(_git(["rev-parse", "--show-toplevel"], settings.root).decode().strip())
    try:
        commit = _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top
                      ).decode().strip()
    except _NotGit:
        raise _NotGit(f"{ref!r} is not a revision of the git repository {top}") from None
    folders = []
    for folder in (settings.templates_dir, settings.assets_dir):
        try:
            folders.append(folder.resolve().relative_to(top.resolve()).as_posix())
        except ValueError:
            raise ConfigError(f"{folder} is not inside the git repository {top}") from None
    data = _git(["archive", "--format=tar", commit, "--", *folders], top)
    target = scratch / f"git-{commit[:12]}"
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(target, filter="data")
    return VersionTree(f"git {ref} ({commit[:10]})", target / folders[0], target / folders[1])


def _safe_member(name: str, target: Path) -> Path:
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or ".." in parts or "\\" in name:
        raise IntegrityError(f"template snapshot holds an unsafe path {name!r}")
    return target.joinpath(*parts)

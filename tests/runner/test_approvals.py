"""Approvals: `templates approve` records who approved which version; a job that requires
approval refuses an unapproved template before anything runs; `templates list` shows versions,
approvals and documents. On SQLite and on a real PostgreSQL database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from factory.archive import open_index, open_store, template_snapshot_key
from factory.archive.versions import (
    approval_of,
    approve,
    keep_version,
    last_approval,
    list_versions,
)
from factory.cli.app import cli, load_commands
from factory.errors import ConfigError
from factory.executors import InlineExecutor
from factory.jobs import load_job
from factory.runner import RunOptions, run_job
from factory.templates.templateset import TemplateSet
from tests.proofkit import TWO_CUSTOMERS, edit, make_project, project_settings, proof_job
from tests.proofkit import write_records as write_customers

load_commands()


def invoke(env: dict[str, str], *args: str):
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_unapproved_change_blocks_a_require_approval_run(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    settings = project_settings(project, tmp_path / "var")
    env = {"FACTORY_HOME": str(project), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1", "USER": "ops-user", "LOGNAME": "ops-user"}
    records = write_customers(tmp_path / "data" / "c.jsonl", TWO_CUSTOMERS)
    job_file = proof_job(tmp_path / "jobs", records, require_approval=True)
    job = load_job(job_file)
    assert job.require_approval

    def run(**options: object):
        return run_job(job, settings, RunOptions(period="2026-11", **options), InlineExecutor())

    # Nothing approved yet: refused before anything runs.
    with pytest.raises(ConfigError, match="no version of it has been approved yet"):
        run()
    index = open_index(settings.default_index_url)
    assert index.runs.recent() == [] and list(index.documents.entries()) == []
    dry = run(dry_run=True)
    assert dry.counts.pending == 2 and any("not approved" in w for w in dry.warnings)

    # Approve (who defaults to the OS user), then the run goes ahead.
    result = invoke(env, "templates", "approve", "--job", str(job_file), "--note", "CHG-1")
    assert result.exit_code == 0, result.output
    assert "approved template set 'statement' (brand 'northwind')" in result.output
    approved = TemplateSet.load(settings.templates_dir, settings.assets_dir, "statement",
                                "northwind").version
    approval = approval_of(index, "statement", approved)
    assert approval is not None and approval.approved_by == "ops-user"
    assert approval.note == "CHG-1" and approval.approved_at.tzinfo is not None
    store = open_store(settings.default_archive_url)
    assert store.exists(template_snapshot_key(approved)), "the version can be rendered again"
    result = invoke(env, "templates", "approve", "statement", "--by", "someone-else")
    assert result.exit_code == 0 and "already approved by ops-user" in result.output
    assert approval_of(index, "statement", approved).approved_by == "ops-user"

    report = run()
    assert report.counts.archived == 2 and report.balanced

    # A new legal footer: the run is refused with the versions and the way out named.
    edit(project, "assets/northwind/brand.toml", "Supervised by the Czech National Bank.",
         "Supervised by the Czech National Bank. Deposits are insured.")
    changed = TemplateSet.load(settings.templates_dir, settings.assets_dir, "statement",
                               "northwind").version
    with pytest.raises(ConfigError) as caught:
        run(force=True, force_reason="template change")
    message = str(caught.value)
    assert f"version {changed[:12]} is not approved" in message
    assert f"the last approved version is {approved[:12]} (approved by ops-user" in message
    assert f"docfactory proof {job_file} --against {approved[:12]}" in message
    assert f"docfactory templates approve --job {job_file}" in message
    assert len(index.runs.recent()) == 1, "the refused run was never registered"

    result = invoke(env, "run", str(job_file), "--period", "2026-11", "--executor", "inline")
    assert result.exit_code == 2
    assert "is not approved" in result.output

    # templates list: the approved version with its documents; the new one is not yet known.
    listed = json.loads(invoke(env, "templates", "list", "--json").output)
    assert [(v["version"], v["documents"], v["approved_by"], v["current"]) for v in listed] \
        == [(approved, 2, "ops-user", False)]

    result = invoke(env, "templates", "approve", "statement", "--by", "alice")
    assert result.exit_code == 0, result.output
    assert run(force=True, force_reason="template change").counts.archived == 2
    listed = json.loads(invoke(env, "templates", "list", "--json").output)
    assert [(v["version"][:12], v["documents"], v["approved_by"], v["current"])
            for v in listed] == [(approved[:12], 2, "ops-user", False),  # superseded, kept
                                 (changed[:12], 2, "alice", True)]
    table = invoke(env, "templates", "list").output
    assert changed[:12] in table and "current" in table and "alice" in table

    # A job without require_approval is not gated.
    free = load_job(proof_job(tmp_path / "jobs", records, "free.toml"))
    edit(project, "assets/northwind/brand.toml", "Deposits are insured.", "Deposits insured.")
    assert run_job(free, settings, RunOptions(period="2026-12"), InlineExecutor()) \
        .counts.archived == 2


def test_approve_needs_a_template_set_and_a_brand(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project")
    (project / "assets" / "other").mkdir()
    (project / "assets" / "other" / "brand.toml").write_text("name = 'x'\n")
    env = {"FACTORY_HOME": str(project), "FACTORY_VAR": str(tmp_path / "var")}
    result = invoke(env, "templates", "approve", "--by", "a")
    assert result.exit_code == 2 and "name the template set" in result.output
    result = invoke(env, "templates", "approve", "statement", "--by", "a")
    assert result.exit_code == 2 and "brands in" in result.output and "other" in result.output
    result = invoke(env, "templates", "approve", "nosuchset", "--brand", "northwind",
                    "--by", "a")
    assert result.exit_code == 2 and "template set 'nosuchset' not found" in result.output


def test_approvals_and_version_list_on_postgresql(pg_url: str, tmp_path: Path) -> None:
    from factory.config import load_settings
    from tests.conftest import REPO

    settings = load_settings(REPO, {}, var_dir=str(tmp_path / "var"))
    index = open_index(pg_url)
    store = open_store(settings.default_archive_url)
    current = TemplateSet.load(settings.templates_dir, settings.assets_dir, "statement",
                               "northwind")
    assert keep_version(store, index, current) == current.version
    other = "f" * 64
    index.templates.remember(other, "statement", "otherbrand",
                             template_snapshot_key(other))
    start = datetime(2026, 11, 1, tzinfo=UTC)
    first, new = approve(index, "statement", current.version, "alice", "v1", at=start)
    assert new and first.approved_at == start
    again, new = approve(index, "statement", current.version, "bob")
    assert not new and again.approved_by == "alice"
    approve(index, "statement", other, "carol", at=start + timedelta(days=1))
    assert last_approval(index, "statement").approved_by == "carol"
    assert last_approval(index, "statement", "northwind").approved_by == "alice"
    assert last_approval(index, "invoice") is None
    versions = list_versions(index, "statement")
    assert [(v.version, v.brand, v.approval.approved_by if v.approval else None, v.documents)
            for v in versions] == [(current.version, "northwind", "alice", 0),
                                   (other, "otherbrand", "carol", 0)]
    with pytest.raises(ConfigError, match="--by"):
        approve(index, "statement", current.version, "  ")
    index.close()

"""Symbolic links out of the template folders (issue 14): refused when the set is loaded (so a
job fails at validate, naming the link), refused by the loader even if made later; links that
stay inside are followed by the snapshot as by the renderer, so the version covers them."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from factory.cli.app import cli, load_commands
from factory.errors import ConfigError, TemplateError
from factory.templates import TemplateSet
from factory.templates.templateset import snapshot_version
from tests.conftest import REPO, csv_source, write_job
from tests.render.test_templates import META, copy_project, load, record

pytestmark = pytest.mark.fast

load_commands()
SECRET = "root:x:0:0:TOP-SECRET"


def secret_outside(tmp_path: Path) -> Path:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    return outside


def include(templates_dir: Path, name: str) -> None:
    """Make the statement's document include ``name`` (the way a hostile template would)."""
    page = templates_dir / "statement" / "document.html"
    page.write_text(page.read_text(encoding="utf-8").replace(
        "{% block content %}", f"{{% block content %}}{{% include {name!r} %}}", 1),
        encoding="utf-8")


@pytest.mark.parametrize("how", ["file", "folder", "brand file", "brand folder", "shared"])
def test_a_link_out_of_the_allowed_folders_is_refused_naming_it(how: str, tmp_path: Path
                                                                ) -> None:
    templates_dir, assets = copy_project(tmp_path)
    outside = secret_outside(tmp_path)
    if how == "file":
        link = templates_dir / "statement" / "legal.txt"
        link.symlink_to(outside / "secret.txt")
        include(templates_dir, "legal.txt")
    elif how == "folder":
        link = templates_dir / "statement" / "parts"
        link.symlink_to(outside, target_is_directory=True)
        include(templates_dir, "parts/secret.txt")
    elif how == "brand file":
        link = assets / "northwind" / "notes.txt"
        link.symlink_to(outside / "secret.txt")
    elif how == "brand folder":
        moved = tmp_path / "brands" / "northwind"
        moved.parent.mkdir()
        (assets / "northwind").rename(moved)
        link = assets / "northwind"
        link.symlink_to(moved, target_is_directory=True)
    else:
        link = templates_dir / "_shared" / "legal.html"
        link.symlink_to(outside / "secret.txt")
    with pytest.raises(ConfigError) as caught:
        TemplateSet.load(templates_dir, assets, "statement", "northwind")
    assert str(link) in str(caught.value) and "symbolic link" in str(caught.value)


def test_validate_and_run_fail_at_once_naming_the_link(tmp_path: Path, sample_dir: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    outside = secret_outside(tmp_path)
    (templates_dir / "statement" / "legal.txt").symlink_to(outside / "secret.txt")
    include(templates_dir, "legal.txt")
    job = write_job(tmp_path / "jobs", source=csv_source(sample_dir / "customers.csv",
                                                          sample_dir / "transactions.csv"))
    env = {"FACTORY_HOME": str(REPO), "FACTORY_VAR": str(tmp_path / "var"),
           "FACTORY_WORKERS": "1", "FACTORY_TEMPLATES": str(templates_dir),
           "FACTORY_ASSETS": str(assets)}
    for command in (["validate", str(job)], ["run", str(job), "--executor", "inline"]):
        result = CliRunner().invoke(cli, [*command, "--period", "2026-11"], env=env)
        assert result.exit_code == 2, result.output
        assert "statement/legal.txt: a symbolic link to" in result.output
        assert SECRET not in result.output
    assert not (tmp_path / "var" / "archive").exists() or \
        not list((tmp_path / "var" / "archive").rglob("*.pdf"))


def test_links_inside_are_followed_and_covered_by_snapshot_and_version(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    real = templates_dir / "statement" / "extra"
    real.mkdir()
    (real / "legal.txt").write_text("Inside-the-set legal text", encoding="utf-8")
    (templates_dir / "statement" / "linked").symlink_to("extra", target_is_directory=True)
    (templates_dir / "statement" / "alias.txt").symlink_to("extra/legal.txt")
    (templates_dir / "statement" / "loop").symlink_to(".", target_is_directory=True)
    include(templates_dir, "linked/legal.txt")
    include(templates_dir, "alias.txt")
    template_set = TemplateSet.load(templates_dir, assets, "statement", "northwind")
    names = [name for name, _ in template_set.files()]
    assert "templates/statement/linked/legal.txt" in names
    assert "templates/statement/alias.txt" in names
    snapshot = template_set.snapshot()
    with zipfile.ZipFile(io.BytesIO(snapshot)) as archive:
        assert archive.read("templates/statement/linked/legal.txt") == \
            b"Inside-the-set legal text"
    assert snapshot_version(snapshot) == template_set.version
    html = load(templates_dir, assets).render("document.html", record(), "en", META)
    assert html.count("Inside-the-set legal text") == 2
    (real / "legal.txt").write_text("Changed", encoding="utf-8")
    assert TemplateSet.load(templates_dir, assets, "statement", "northwind").version != \
        template_set.version


def test_the_loader_refuses_a_link_made_after_the_set_was_checked(tmp_path: Path) -> None:
    templates_dir, assets = copy_project(tmp_path)
    outside = secret_outside(tmp_path)
    templates = load(templates_dir, assets)
    (templates_dir / "statement" / "late.html").symlink_to(outside / "secret.txt")
    with pytest.raises(TemplateError, match="symbolic link") as caught:
        templates.render("late.html", record(), "en", META)
    assert SECRET not in str(caught.value)
    assert os.path.islink(templates_dir / "statement" / "late.html")

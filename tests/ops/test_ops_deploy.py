"""The deployment files: ``compose.yaml`` is valid against the Compose Specification's JSON
schema (shipped in deploy/compose-spec/), every docfactory command in it and in the systemd
units is one the CLI accepts (click parses it), and the Grafana dashboard asks only for
metrics the factory exports."""

from __future__ import annotations

import json
import re
import shlex
import warnings
from pathlib import Path

import click
import pytest
import yaml
from jsonschema import Draft201909Validator

from factory.cli.app import cli, load_commands
from tests.conftest import REPO

DEPLOY = REPO / "deploy"


def compose() -> dict:
    return yaml.safe_load((REPO / "compose.yaml").read_text(encoding="utf-8"))


def test_compose_file_is_valid_against_the_compose_specification() -> None:
    schema = json.loads((DEPLOY / "compose-spec" / "compose-spec.json").read_text())
    errors = sorted(Draft201909Validator(schema).iter_errors(compose()), key=str)
    assert errors == [], [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    services = compose()["services"]
    assert {"redis", "postgres", "minio", "worker", "scheduler", "web"} <= set(services)


def test_the_schema_catches_a_broken_compose_file() -> None:
    schema = json.loads((DEPLOY / "compose-spec" / "compose-spec.json").read_text())
    broken = compose()
    broken["services"]["worker"]["restart_policy"] = "always"  # not a service key
    assert list(Draft201909Validator(schema).iter_errors(broken))


def parse(command: click.Command, name: str, args: list[str],
          parent: click.Context | None = None) -> None:
    """Parse ``args`` as click would for ``command`` and, for a group, its subcommand, down to
    the command that would run; nothing is invoked."""
    with command.make_context(name, args, parent=parent) as context:
        if isinstance(command, click.Group):
            with warnings.catch_warnings():  # protected_args: click 8.2 and 9 differ
                warnings.simplefilter("ignore", DeprecationWarning)
                rest = [*context.protected_args, *context.args]
            sub_name, sub, sub_args = command.resolve_command(context, rest)
            assert sub is not None, args
            parse(sub, sub_name or "", sub_args, context)


def accepted(argv: list[str]) -> None:
    load_commands()
    assert argv[0].endswith("docfactory"), argv
    parse(cli, "docfactory", argv[1:])


def commands() -> list[tuple[str, list[str]]]:
    found = [(f"compose:{name}", service["command"])
             for name, service in compose()["services"].items()
             if service.get("command", [""])[0] == "docfactory"]
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        line = next(line for line in unit.read_text().splitlines()
                    if line.startswith("ExecStart="))
        found.append((unit.name, shlex.split(line.split("=", 1)[1])))
    return found


@pytest.mark.parametrize(("where", "argv"), commands(), ids=[w for w, _ in commands()])
def test_every_deployed_command_is_accepted_by_the_cli(where: str, argv: list[str]) -> None:
    accepted(argv)


def test_a_wrong_option_is_refused_by_the_check() -> None:
    with pytest.raises(click.UsageError):
        accepted(["docfactory", "worker", "--metrics-prot", "9100"])
    with pytest.raises(click.UsageError):
        accepted(["docfactory", "index", "upgrad"])


def test_the_dashboard_uses_only_exported_metrics() -> None:
    from factory.observe.metrics import _metrics

    metrics = _metrics()
    assert metrics is not None
    names = {"docfactory_queue_depth"}
    for metric in vars(metrics).values():
        base = metric._name
        names.update({base, f"{base}_total", f"{base}_bucket", f"{base}_count", f"{base}_sum"})
    dashboard = json.loads((DEPLOY / "grafana" / "docfactory-dashboard.json").read_text())
    used = {name for panel in dashboard["panels"] for target in panel["targets"]
            for name in re.findall(r"docfactory_[a-z_]+", target["expr"])}
    assert used and used <= names, used - names
    assert Path(DEPLOY / "compose-spec" / "LICENSE-Apache-2.0").is_file()

"""Flux's flag grammar (Go's pflag): booleans and string slices, on a probe command and on the real CLI.

The probe pins every case of the grammar; the `create … --export` rows show it on the commands Flux's
documentation is written for (no cluster needed); the tree walk holds every command to the grammar.
"""

from __future__ import annotations

import ast
from typing import Any

import click
import pytest
import yaml
from click.testing import CliRunner

from headwater.cli.main import cli
from headwater.pflag import BoolFlag, StringArray, StringSlice, bool_flag, parse_go_bool, string_array, string_slice

pytestmark = pytest.mark.unit


@click.command()
@click.argument("args", nargs=-1)
@bool_flag("--prune", help="p")
@bool_flag("-A", "--all-namespaces", help="a")
@bool_flag("-s", "--silent", help="s")
@bool_flag("--network-policy", default=True, help="n")
@click.option("-n", "--namespace", default="flux-system")
@string_slice("--label", "labels", help="l")
@string_array("--set", "sets", help="s")
def probe(**params: Any) -> None:
    click.echo(repr(params))


def parsed(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(probe, args)
    assert result.exit_code == 0, result.output
    values: dict[str, Any] = ast.literal_eval(result.output)
    return values


@pytest.mark.parametrize(("args", "expected"), [
    ([], {"prune": False, "network_policy": True, "args": ()}),
    (["--prune"], {"prune": True}),
    (["--prune=true"], {"prune": True}),
    (["--prune=false"], {"prune": False}),
    (["--prune", "false"], {"prune": True, "args": ("false",)}),  # the next word is never the value
    (["--prune", "--prune=false"], {"prune": False}),  # the last occurrence wins
    (["--network-policy=false"], {"network_policy": False}),
    (["--network-policy"], {"network_policy": True}),
    (["-A"], {"all_namespaces": True}),
    (["-A=false"], {"all_namespaces": False}),
    (["-A", "apps"], {"all_namespaces": True, "args": ("apps",)}),
    (["-sA"], {"silent": True, "all_namespaces": True}),
    (["-sAn", "apps"], {"silent": True, "all_namespaces": True, "namespace": "apps"}),
    (["-An=apps"], {"all_namespaces": True, "namespace": "apps"}),
    (["-n=apps"], {"namespace": "apps"}),
    (["-napps", "-s"], {"namespace": "apps", "silent": True}),
    (["--label=env=prod,team=a"], {"labels": ("env=prod", "team=a")}),
    (["--label", "env=prod", "--label", "team=a"], {"labels": ("env=prod", "team=a")}),
    (["--label=a=1,b=2", "--label=c=3"], {"labels": ("a=1", "b=2", "c=3")}),
    (['--label=x,"y,z"'], {"labels": ("x", "y,z")}),  # CSV: quotes keep a comma
    (["--label= a , ,b"], {"labels": ("a", "b")}),  # items trimmed, empty ones dropped
    (["--label="], {"labels": ()}),
    (["--set=a,b", "--set", "c"], {"sets": ("a,b", "c")}),  # StringArray: no splitting
])
def test_pflag_grammar(args: list[str], expected: dict[str, Any]) -> None:
    values = parsed(args)
    assert {key: values[key] for key in expected} == expected


@pytest.mark.parametrize("spelling", ["1", "t", "T", "TRUE", "true", "True"])
def test_go_true_spellings(spelling: str) -> None:
    assert parse_go_bool(spelling) is True
    assert parsed([f"--prune={spelling}"])["prune"] is True


@pytest.mark.parametrize("spelling", ["0", "f", "F", "FALSE", "false", "False"])
def test_go_false_spellings(spelling: str) -> None:
    assert parse_go_bool(spelling) is False
    assert parsed([f"--network-policy={spelling}"])["network_policy"] is False


@pytest.mark.parametrize("spelling", ["yes", "on", "tRuE", "", "2"])
def test_other_spellings_are_rejected(spelling: str) -> None:
    result = CliRunner().invoke(probe, [f"--prune={spelling}"])
    assert result.exit_code == 2
    assert "is not a boolean" in result.output


def test_bool_help_shows_no_value_and_a_true_default() -> None:
    text = CliRunner().invoke(probe, ["--help"]).output
    assert "  --prune " in text
    assert "--prune BOOL" not in text
    assert "(default true)" in text


# -- the real commands, offline (`--export`) --------------------------------------------------------

KS = ["create", "kustomization", "apps", "--source=repo", "--path=./apps"]
GIT = ["create", "source", "git", "repo", "--url=https://example.com/repo", "--branch=main"]


def export(args: list[str]) -> dict[str, Any]:
    result = CliRunner().invoke(cli, [*args, "--export"], env={"FLUX_SYSTEM_NAMESPACE": None})
    assert result.exit_code == 0, result.output
    document: dict[str, Any] = yaml.safe_load(result.stdout)
    return document


def check(kind: str, name: str) -> dict[str, str]:
    return {"kind": kind, "name": name, "namespace": "apps"}


@pytest.mark.parametrize(("extra", "path", "expected"), [
    (["--prune"], ("spec", "prune"), True),
    (["--prune=true"], ("spec", "prune"), True),
    (["--prune=false"], ("spec", "prune"), False),
    (["--prune=1"], ("spec", "prune"), True),
    (["--prune", "--prune=F"], ("spec", "prune"), False),
    (["--wait=true"], ("spec", "wait"), True),
    (["--label=env=prod,team=a"], ("metadata", "labels"), {"env": "prod", "team": "a"}),
    (["--label", "env=prod", "--label", "team=a"], ("metadata", "labels"), {"env": "prod", "team": "a"}),
    (["--health-check=Deployment/a.apps,StatefulSet/b.apps"], ("spec", "healthChecks"),
     [check("Deployment", "a"), check("StatefulSet", "b")]),
    (["--health-check", "Deployment/a.apps", "--health-check", "DaemonSet/b.apps"], ("spec", "healthChecks"),
     [check("Deployment", "a"), check("DaemonSet", "b")]),
    (["--health-check=deploy/a.apps,hr/b.apps"], ("spec", "healthChecks"),
     [check("Deployment", "a"), {**check("HelmRelease", "b"), "apiVersion": "helm.toolkit.fluxcd.io/v2"}]),
    (["--source=gitrepo/repo"], ("spec", "sourceRef"), {"kind": "GitRepository", "name": "repo"}),
    (["--source=OCIRepository/repo"], ("spec", "sourceRef"), {"kind": "OCIRepository", "name": "repo"}),
    (["--source=ocirepositories/repo.flux"], ("spec", "sourceRef"),
     {"kind": "OCIRepository", "name": "repo", "namespace": "flux"}),
    (["--depends-on=infra,team/db", "--depends-on", "crds"], ("spec", "dependsOn"),
     [{"name": "infra"}, {"name": "db", "namespace": "team"}, {"name": "crds"}]),
])
def test_create_kustomization_flags(extra: list[str], path: tuple[str, str], expected: Any) -> None:
    section, key = path
    assert export([*KS, *extra])[section][key] == expected


@pytest.mark.parametrize(("extra", "key", "expected"), [
    (["--recurse-submodules"], "recurseSubmodules", True),
    (["--recurse-submodules=true"], "recurseSubmodules", True),
    (["--recurse-submodules=false"], "recurseSubmodules", None),
    (['--ignore-paths="/a,b",c', "--ignore-paths", "d"], "ignore", "/a,b\nc\nd"),
    (["--sparse-checkout-paths=deploy,charts"], "sparseCheckout", ["deploy", "charts"]),
])
def test_create_source_git_flags(extra: list[str], key: str, expected: Any) -> None:
    assert export([*GIT, *extra])["spec"].get(key) == expected


def test_a_bool_never_takes_the_next_word() -> None:
    result = CliRunner().invoke(cli, [*KS, "--prune", "false", "--export"])
    assert result.exit_code == 2
    assert "unexpected extra argument (false)" in result.output


def test_export_takes_go_booleans() -> None:
    applied = CliRunner().invoke(cli, [*KS, "--export=false", "--kubeconfig=/nonexistent"])
    assert "apiVersion" not in applied.stdout, "--export=false applies instead of printing"


# -- every command follows the grammar --------------------------------------------------------------

#: `controller <name>` takes each controller spec's flags from `headwater.runtime.flags.click_options`, which
#: still declares Go booleans as click optional values (`--enable-leader-election false` reads `false`);
#: walk it too once that builds `pflag.BoolFlag`s.
NOT_WALKED = {"controller"}


def commands(group: click.Group, ctx: click.Context, path: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name in group.list_commands(ctx):
        if name in NOT_WALKED and not path:
            continue
        command = group.get_command(ctx, name)
        assert command is not None, name
        found.append((f"{path} {name}".strip(), command))
        if isinstance(command, click.Group):
            found += commands(command, click.Context(command, parent=ctx, info_name=name), f"{path} {name}")
    return found


def test_every_flag_is_declared_in_pflag_grammar() -> None:
    ctx = click.Context(cli, info_name="headwater")
    offenders = []
    for path, command in [("", cli), *commands(cli, ctx)]:
        for param in command.params:
            if not isinstance(param, click.Option) or not param.expose_value:  # --help, --cli-version
                continue
            if param.is_flag and not isinstance(param, BoolFlag):
                offenders.append(f"{path} {param.opts[0]}: a click flag, use pflag.bool_flag")
            if param.multiple and not isinstance(param, StringSlice | StringArray):
                offenders.append(f"{path} {param.opts[0]}: multiple=True, use pflag.string_slice")
            if param.type.name == "bool" and not isinstance(param, BoolFlag):  # click.BOOL or any Go bool type
                offenders.append(f"{path} {param.opts[0]}: a boolean value, use pflag.bool_flag")
    assert offenders == []

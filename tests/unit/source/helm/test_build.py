"""Build words and rules: chart names, SemVer build metadata, summaries, credentials, URLs, sizes."""

from __future__ import annotations

import re
import time

import pytest

from headwater.source.helm.build import Build, BuildError, check_chart_name, with_build_metadata
from headwater.source.helm.getter import Credentials, credentials_from, resolve_reference
from headwater.source.helm.helmrepository import human_size, normalize_url
from headwater.source.helm.oci import docker_config_credentials, resolve_tag


@pytest.mark.parametrize(("name", "valid"), [
    ("podinfo", True), ("my-chart", True), ("org/chart", True), ("a.b", True), ("a/.b", True), ("a/", True),
    ("Podinfo", False), ("a//b", False), ("a..b", False), ("", False), ("a b", False), ("../x", False),
])
def test_chart_names(name: str, valid: bool) -> None:
    if valid:
        check_chart_name(name)
    else:
        with pytest.raises(BuildError):
            check_chart_name(name)


def test_chart_name_check_is_linear_on_hostile_names() -> None:
    started = time.monotonic()
    with pytest.raises(BuildError):
        check_chart_name("a" * 20_000 + "!")
    assert time.monotonic() - started < 1


@pytest.mark.parametrize(("version", "metadata", "result"), [
    ("6.0.3", "", "6.0.3"), ("6.0.3", "1", "6.0.3+1"), ("6.0.3+old", "2", "6.0.3+2"),
    ("v1.2", "4e5cbb7b97d0.3", "1.2.0+4e5cbb7b97d0.3"), ("1.0.0-rc.1", "7", "1.0.0-rc.1+7"),
])
def test_build_metadata(version: str, metadata: str, result: str) -> None:
    assert with_build_metadata(version, metadata) == result


def test_summaries_are_flux_sentences() -> None:
    assert Build("podinfo", "6.0.3").summary() == "pulled 'podinfo' chart with version '6.0.3'"
    packaged = Build("podinfo", "6.0.3+1", b"", True, ["values.yaml", "values-prod.yaml"])
    assert packaged.summary() == ("packaged 'podinfo' chart with version '6.0.3+1' and merged values files "
                                  "[values.yaml values-prod.yaml]")
    assert (Build("a", "1").reason, packaged.reason) == ("ChartPullSucceeded", "ChartPackageSucceeded")


REPO = "https://charts.example/stable/"


@pytest.mark.parametrize(("url", "passing", "sent"), [
    ("https://charts.example/stable/a.tgz", False, True),
    ("https://charts.example:443/a.tgz", False, False),
    ("http://charts.example/stable/a.tgz", False, False),
    ("https://cdn.example/a.tgz", False, False),
    ("https://cdn.example/a.tgz", True, True),
])
def test_basic_auth_goes_only_to_the_repository_host_unless_pass_credentials(url: str, passing: bool,
                                                                            sent: bool) -> None:
    assert Credentials("u", "p", pass_credentials=passing).sends_basic_to(url, REPO) is sent


def test_credentials_from_secrets_and_their_refusals() -> None:
    secret = {"metadata": {"name": "auth", "namespace": "ns"}, "stringData": {"username": "u", "password": "p"}}
    assert credentials_from(secret, None, pass_credentials=False).has_basic
    assert "p" not in repr(credentials_from(secret, None, pass_credentials=False))
    with pytest.raises(ValueError, match="needs both 'username' and 'password'"):
        credentials_from({"metadata": {"name": "a"}, "stringData": {"username": "u"}}, None, pass_credentials=False)
    with pytest.raises(ValueError, match=re.escape("needs both 'tls.crt' and 'tls.key'")):
        credentials_from(None, {"metadata": {"name": "t"}, "stringData": {"tls.crt": "x"}}, pass_credentials=False)


@pytest.mark.parametrize(("base", "reference", "resolved"), [
    (REPO, "podinfo-6.0.0.tgz", "https://charts.example/stable/podinfo-6.0.0.tgz"),
    ("https://charts.example/stable", "podinfo-6.0.0.tgz", "https://charts.example/stable/podinfo-6.0.0.tgz"),
    (REPO, "../other/p.tgz", "https://charts.example/other/p.tgz"),
    (REPO, "https://cdn.example/p.tgz", "https://cdn.example/p.tgz"),
    ("https://charts.example/stable/?token=1", "p.tgz", "https://charts.example/stable/p.tgz?token=1"),
])
def test_chart_urls_resolve_as_helm_resolves_them(base: str, reference: str, resolved: str) -> None:
    assert resolve_reference(base, reference) == resolved


@pytest.mark.parametrize(("url", "normalized"), [
    ("https://charts.example", "https://charts.example/"), ("http://h:8080/a///", "http://h:8080/a/"),
])
def test_repository_urls_are_normalized(url: str, normalized: str) -> None:
    assert normalize_url(url) == normalized


@pytest.mark.parametrize(("size", "text"), [(0, "0B"), (999, "999B"), (30880, "30.88kB"), (40898, "40.9kB"),
                                            (1_234_567, "1.235MB")])
def test_human_sizes_are_go_units(size: int, text: str) -> None:
    assert human_size(size) == text


@pytest.mark.parametrize(("tags", "wanted", "tag"), [
    (["1.0.0", "1.2.0", "2.0.0-rc.1", "latest"], "", "1.2.0"),
    (["1.0.0", "1.2.0", "2.0.0-rc.1"], ">=2.0.0-0", "2.0.0-rc.1"),
    (["1.0.0_build.1", "0.9.0"], "1.x", "1.0.0+build.1"),
])
def test_oci_tags_resolve_by_semver(tags: list[str], wanted: str, tag: str) -> None:
    assert resolve_tag(tags, wanted) == tag


def test_docker_config_credentials_for_the_registry_host() -> None:
    config = b'{"auths": {"https://127.0.0.1:5000": {"auth": "dTpw"}, "other": {"username": "x", "password": "y"}}}'
    assert docker_config_credentials(config, "127.0.0.1:5000") == ("u", "p")
    assert docker_config_credentials(config, "elsewhere") is None

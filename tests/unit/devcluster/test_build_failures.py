"""The build reports a missing toolchain and a failing step clearly (real `go`, no fakes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headwater.devcluster import build
from headwater.devcluster.versions import Component


@pytest.mark.unit
def test_no_go_toolchain_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADWATER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(build.ToolchainMissing) as missing:
        build.ensure_built(lambda _m: None)
    message = str(missing.value)
    assert "Go toolchain not found on PATH" in message
    assert ">= 1.26" in message
    assert missing.value.step == "toolchain"
    assert not (tmp_path / "cache" / "bin").exists()


@pytest.mark.unit
def test_cached_components_need_no_toolchain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADWATER_CACHE", str(tmp_path))
    for component in build.COMPONENTS:
        directory = build.bin_dir(component)
        directory.mkdir(parents=True)
        for binary in component.binaries:
            (directory / binary).write_text("")
        (directory / build.STAMP).write_text("{}")
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert build.ensure_built(lambda _m: None).etcd == tmp_path / "bin" / "etcd-v3.6.16" / "etcd"


@pytest.mark.slow
def test_failing_go_build_names_the_step_and_its_full_log(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HEADWATER_CACHE", str(tmp_path))
    go = build.find_go()
    bogus = Component("kwok", "v0.0.0-no-such-version", ("kwok",))
    with pytest.raises(build.BuildError) as failure:
        build.build_component(go, bogus, lambda _m: None)
    err = failure.value
    assert err.step == "go install kwok"
    assert err.log_path is not None
    assert err.log_path.is_file()
    assert f"full log: {err.log_path}" in str(err)
    assert "v0.0.0-no-such-version" in err.log_path.read_text()
    assert not build.bin_dir(bogus).exists()
    assert not build.bin_dir(bogus).with_name(build.bin_dir(bogus).name + ".partial").exists()

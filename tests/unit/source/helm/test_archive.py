"""Chart archives: hostile ones refused with the archive and file named; packages reproducible."""

from __future__ import annotations

import gzip
import io
import re
import tarfile

import pytest

from headwater.source.helm.archive import Chart, ChartError, package, read_archive
from headwater.source.helm.limits import HelmLimits

CHART_YAML = b"apiVersion: v2\nname: demo\nversion: 1.2.3\n"
SMALL = HelmLimits(max_chart_size=64 * 1024, max_chart_file_size=4096, max_chart_total_size=16 * 1024,
                   max_chart_entries=20)


def tgz(*entries: tuple[str, bytes] | tarfile.TarInfo) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb") as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                info = tarfile.TarInfo(entry[0])
                info.size = len(entry[1])
                tar.addfile(info, io.BytesIO(entry[1]))
    return out.getvalue()


def link(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_a_chart_is_read_and_packaged_reproducibly() -> None:
    chart = read_archive(tgz(("demo/Chart.yaml", CHART_YAML), ("demo/values.yaml", b"a: 1\n"),
                             ("demo/templates/cm.yaml", b"kind: ConfigMap\n")), label="demo.tgz")
    assert (chart.name, chart.version, sorted(chart.files)) == ("demo", "1.2.3",
                                                                ["Chart.yaml", "templates/cm.yaml", "values.yaml"])
    packaged = package(chart)
    assert packaged == package(chart)
    again = read_archive(packaged, label="again.tgz")
    assert again.files == chart.files
    with tarfile.open(fileobj=io.BytesIO(packaged)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["demo/Chart.yaml", "demo/values.yaml", "demo/templates/cm.yaml"]
    assert {(m.mode, m.mtime, m.uid) for m in members} == {(0o644, 0, 0)}


def test_with_version_and_values_rewrite_the_chart_files() -> None:
    chart = Chart({"apiVersion": "v2", "name": "demo", "version": "1.0.0"}, {"Chart.yaml": CHART_YAML})
    changed = chart.with_version("1.0.0+3").with_values({"b": {"c": 1}, "a": 2})
    assert b"version: 1.0.0+3" in changed.files["Chart.yaml"]
    assert changed.files["values.yaml"] == b"a: 2\nb:\n  c: 1\n"


BOMB = tgz(("demo/Chart.yaml", CHART_YAML), *((f"demo/zeros-{i}", b"\0" * 4000) for i in range(6)))
ALIASES = b"a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + b"\n".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]".encode() for i in range(1, 9))


@pytest.mark.parametrize(("name", "data", "message"), [
    ("symlink", tgz(("demo/Chart.yaml", CHART_YAML), link("demo/evil", tarfile.SYMTYPE, "/etc/passwd")),
     "entry 'demo/evil' is a symlink"),
    ("hard link", tgz(("demo/Chart.yaml", CHART_YAML), link("demo/evil", tarfile.LNKTYPE, "demo/Chart.yaml")),
     "entry 'demo/evil' is a hard link"),
    ("device", tgz(("demo/Chart.yaml", CHART_YAML), link("demo/dev", tarfile.CHRTYPE, "")), "special file"),
    ("dot-dot", tgz(("demo/Chart.yaml", CHART_YAML), ("demo/../../etc/cron.d/x", b"x")), "points outside the chart"),
    ("absolute", tgz(("/demo/Chart.yaml", CHART_YAML)), "has an invalid name"),
    ("backslash", tgz(("demo\\..\\x", b"x")), "has an invalid name"),
    ("two roots", tgz(("demo/Chart.yaml", CHART_YAML), ("other/x", b"x")), "entries in two top-level directories"),
    ("root file", tgz(("Chart.yaml", CHART_YAML)), "is not inside the chart's directory"),
    ("twice", tgz(("demo/Chart.yaml", CHART_YAML), ("demo/./Chart.yaml", CHART_YAML)), "appears twice"),
    ("no Chart.yaml", tgz(("demo/values.yaml", b"a: 1\n")), "no Chart.yaml"),
    ("decompression bomb", BOMB, "its files add up to more than 16384 bytes"),
    ("too many entries", tgz(("demo/Chart.yaml", CHART_YAML), *((f"demo/f{i}", b"") for i in range(25))),
     "more than 20 entries"),
    ("huge Chart.yaml", tgz(("demo/Chart.yaml", CHART_YAML + b"#" * 5000)),
     "file 'demo/Chart.yaml' is larger than the maximum chart file size of 4096 bytes"),
    ("huge values.yaml", tgz(("demo/Chart.yaml", CHART_YAML), ("demo/values.yaml", b"a: " + b"x" * 5000)),
     "file 'demo/values.yaml' is larger than the maximum chart file size"),
    ("alias bomb in values.yaml", tgz(("demo/Chart.yaml", CHART_YAML), ("demo/values.yaml", ALIASES)), "aliases"),
    ("not gzip", b"PK\x03\x04 not a chart", "not a valid chart archive"),
    ("oversized archive", b"\0" * (64 * 1024 + 1), "larger than the maximum chart size of 65536 bytes"),
    ("no version", tgz(("demo/Chart.yaml", b"apiVersion: v2\nname: demo\n")), "field 'version' is required"),
    ("bad version", tgz(("demo/Chart.yaml", b"apiVersion: v2\nname: demo\nversion: one\n")),
     "field 'version' 'one' is invalid"),
    ("name with a slash", tgz(("demo/Chart.yaml", b"apiVersion: v2\nname: a/b\nversion: 1.0.0\n")),
     "field 'name' 'a/b' is invalid"),
    ("values not a mapping", tgz(("demo/Chart.yaml", CHART_YAML), ("demo/values.yaml", b"- a\n")),
     "the values are not a mapping"),
])
def test_hostile_archives_are_refused_naming_archive_and_file(name: str, data: bytes, message: str) -> None:
    with pytest.raises(ChartError, match=re.escape(message)) as refused:
        read_archive(data, label="HelmChart ns/web chart http://repo/demo-1.2.3.tgz", limits=SMALL)
    assert str(refused.value).startswith("HelmChart ns/web chart http://repo/demo-1.2.3.tgz"), name

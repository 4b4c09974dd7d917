"""Kustomization file handling (`headwater.kustomize.confine.check_build`) over generated artifact trees.

A tree is a repository: kustomization files whose path fields hold anything (parent escapes, absolute
paths, URLs, NULs, huge names, wrong types), plain manifests, and symlinks that point out of the artifact.
`check_build` must return or raise ConfinementError / YAMLInputError (the only errors the build expects),
never hang, and it must refuse a top-level reference that leaves the artifact.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from headwater.api import safeyaml
from headwater.kustomize.confine import ConfinementError, check_build
from tests.fuzz.harness import corpus_json, fuzz, seeded

TARGET = "confine"
K = "kustomization.yaml"
ESCAPES = ["../outside/secret.yaml", "../../outside", "/etc/passwd", "@OUTSIDE@/secret.yaml", "link/secret.yaml",
           "a/../../outside/secret.yaml", "file:///etc/passwd"]
REFS = ["base", "../base", "deployment.yaml", "sub", ".", "..", "", " ", "a\0b", "x" * 300, "https://github.com/o/r",
        "github.com/o/r//d?ref=v1", "git@github.com:o/r.git", "example.com/o/r", "a?ref=x", "dir//sub", "é", "*",
        "link", "link/deployment.yaml", "deep/" * 40 + "x"]
FIELDS = ["resources", "bases", "components", "crds", "configurations", "patchesStrategicMerge", "openapi", "patches",
          "patchesJson6902", "replacements", "configMapGenerator", "secretGenerator", "generators", "transformers",
          "validators", "helmCharts", "kind", "apiVersion"]
DIRS = ["", "base", "sub", "apps/prod", "deep"]

ref = st.one_of(st.sampled_from(REFS + ESCAPES), st.text(max_size=8))
inline = st.builds(lambda api, kind, path: yaml.safe_dump({"apiVersion": api, "kind": kind, "path": path,
                                                           "metadata": {"name": "x"}}),
                   st.sampled_from(["builtin", "example.com/v1", ""]),
                   st.sampled_from(["PatchTransformer", "LabelTransformer", "HelmChartInflationGenerator", "X"]), ref)
value = st.one_of(
    st.lists(ref, max_size=4),
    st.lists(st.builds(dict, path=ref), max_size=2),
    st.lists(st.builds(dict, name=st.just("g"), files=st.lists(ref, max_size=2), envs=st.lists(ref, max_size=1)),
             max_size=2),
    st.lists(inline, max_size=2),
    st.builds(dict, path=ref),
    st.sampled_from([None, 5, "x", {"a": 1}, True]),
)
kustomization = st.dictionaries(st.sampled_from(FIELDS), value, max_size=5).map(
    lambda d: yaml.safe_dump(d, allow_unicode=True))
content = st.one_of(kustomization, st.sampled_from(["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
                                                    "a: !!int x\n", "[", "a: " + "[" * 3000 + "]" * 3000, "\xff"]))
tree = st.builds(
    lambda files, symlinks, path, no_remote, escape, chain: {"files": files, "symlinks": symlinks, "path": path,
                                                             "no_remote_bases": no_remote, "escape": escape,
                                                             "chain": chain},
    st.dictionaries(st.tuples(st.sampled_from(DIRS), st.sampled_from([K, "kustomization.yml", "Kustomization",
                                                                        "deployment.yaml", "patch.yaml", "x.json"]))
                    .map(lambda t: f"{t[0]}/{t[1]}".lstrip("/")), content, max_size=6),
    st.dictionaries(st.sampled_from(["link", "sub/link", "base", "loop"]),
                    st.sampled_from(["../outside", "@OUTSIDE@", "base", "loop", "/nonexistent", "."]), max_size=2),
    st.sampled_from(DIRS),
    st.booleans(),
    st.one_of(st.none(), st.sampled_from(["relative", "absolute", "system", "file-url", "symlink"])),
    st.sampled_from([0, 0, 0, 0, 0, 0, 3, 120]),
)


def _write(case: dict[str, Any], jail: Path) -> Path:
    outside = jail / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("apiVersion: v1\nkind: Secret\nmetadata: {name: stolen}\n")
    root = jail / "root"
    root.mkdir()
    for name, text in case["files"].items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.is_dir():
            path.write_text(text.replace("@OUTSIDE@", str(outside)), errors="surrogateescape")
    chain = root
    for _ in range(case.get("chain", 0)):  # `d/d/d/...`, each kustomization listing the next as a resource
        (chain / K).write_text("resources: [d]\n")
        chain = chain / "d"
        chain.mkdir()
    for name, target in case.get("symlinks", {}).items():
        link = root / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not os.path.lexists(link):
            os.symlink(target.replace("@OUTSIDE@", str(outside)), link)
    return root


def check(case: dict[str, Any]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        jail = Path(tmp)
        root = _write(case, jail)
        directory = root / case["path"]
        escape = case.get("escape")
        if escape is not None and not directory.is_symlink() and not directory.is_file():
            directory.mkdir(parents=True, exist_ok=True)
            secret = jail / "outside" / "secret.yaml"
            reference = {"relative": os.path.relpath(secret, directory), "absolute": str(secret),
                         "system": "/etc/passwd", "file-url": "file:///etc/passwd",
                         "symlink": "link/secret.yaml"}[escape]
            if escape == "symlink":
                link = directory / "link"
                if os.path.lexists(link):
                    link.unlink() if not link.is_dir() or link.is_symlink() else os.rename(link, directory / "moved")
                os.symlink(jail / "outside", link)
            (directory / K).write_text(f"resources: [{json.dumps(reference)}]\n")
            for other in ("kustomization.yml", "Kustomization"):
                (directory / other).unlink(missing_ok=True)
        else:
            escape = None
        try:
            check_build(root, directory, no_remote_bases=case.get("no_remote_bases", False))
        except ConfinementError as err:
            return f"refused: {str(err).split(': ', 1)[-1][:40]}"
        except safeyaml.YAMLInputError as err:
            return f"{type(err).__name__}"
        assert escape is None, f"the {escape} escape at the top of {case['path']!r} was accepted"
        return "accepted"


def test_confine() -> None:
    seeds = [{"symlinks": {}, "no_remote_bases": False, "escape": None, **seed} for seed in corpus_json(TARGET)]
    fuzz(TARGET, seeded(seeds, tree), check, allowed=(), seeds=seeds, max_examples=100,
         dump=lambda case: (".json", json.dumps(case, indent=1).encode()))

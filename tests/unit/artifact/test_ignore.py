"""Unit tests for headwater.artifact.ignore: Flux's (go-git derived) gitignore matcher and pattern sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headwater.artifact.ignore import (
    DEFAULT_PATTERNS,
    VCS_PATTERNS,
    Match,
    Matcher,
    Pattern,
    default_matcher,
    go_filepath_match,
    load_ignore_patterns,
    read_patterns,
    source_ignore_matcher,
    tree_matcher,
)

pytestmark = pytest.mark.unit


def test_default_patterns_are_fluxs() -> None:
    assert VCS_PATTERNS == (".git/", ".gitignore", ".gitmodules", ".gitattributes")
    assert DEFAULT_PATTERNS == (
        "*.jpg", "*.jpeg", "*.gif", "*.png", "*.wmv", "*.flv", "*.tar.gz", "*.zip",
        ".github/", ".circleci/", ".travis.yml", ".gitlab-ci.yml", "appveyor.yml", ".drone.yml",
        "cloudbuild.yaml", "codeship-services.yml", "codeship-steps.yml",
        "**/.goreleaser.yml", "**/.sops.yaml", "**/.flux.yaml",
    )  # fmt: skip


# -- Go filepath.Match ------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        ("abc", "abc", True),
        ("*", "abc", True),
        ("*c", "abc", True),
        ("a*", "a", True),
        ("a*/b", "abc/b", True),
        ("a*b*c*d*e*", "axbxcxdxe", True),
        ("ab[c]", "abc", True),
        ("ab[b-d]", "abc", True),
        ("ab[e-g]", "abc", False),
        ("ab[^c]", "abc", False),
        ("ab[^e-g]", "abc", True),
        ("a?b", "a☺b", True),
        ("a[^a]b", "a☺b", True),
        ("a???b", "a☺b", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "ab", False),
        ("[\\-]", "-", True),
        ("[x\\-]", "z", False),
        ("[!a]", "!", True),  # '!' is not negation in Go
        ("[!a]", "b", False),
        ("[z-a]", "m", False),  # inverted range: valid, matches nothing
        ("[^z-a]", "m", True),
        ("*x", "xxx", True),
        ("*.yaml", ".yaml", True),
        ("", "", True),
        ("", "a", False),
        # malformed patterns never match
        ("[", "a", False),
        ("[^", "a", False),
        ("[]a]", "]", False),
        ("[a-]", "a", False),
        ("a[", "a", False),
        ("\\", "a", False),
        ("*[", "a", False),
        ("a*[", "xyz", False),
        ("[-]", "-", False),
    ],
)
def test_go_filepath_match(pattern: str, name: str, expected: bool) -> None:
    assert go_filepath_match(pattern, name) is expected


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [
        # Many stars against a long run of the starred letter: a backtracking regex takes ages here.
        ("*a*a*a*a*a*a*a*a*a*ab", "a" * 3000, False),
        ("*a*a*a*a*a*a*a*a*a*ab", "a" * 3000 + "b", True),
        ("?*?*?*?*?*?*?*?*x", "y" * 3000, False),
    ],
)
def test_go_filepath_match_does_not_backtrack(pattern: str, name: str, expected: bool) -> None:
    assert go_filepath_match(pattern, name) is expected
    assert Pattern.parse(pattern).match(("d", name), is_dir=False) is (Match.EXCLUDE if expected else Match.NONE)


# -- single patterns --------------------------------------------------------------------------------------

EXC, INC, NO = Match.EXCLUDE, Match.INCLUDE, Match.NONE


@pytest.mark.parametrize(
    ("pattern", "domain", "path", "is_dir", "expected"),
    [
        # simple (no slash) patterns match any component
        ("value", (), "value/tail", False, EXC),
        ("value", (), "head/value/tail", False, EXC),
        ("value", (), "head/value", False, EXC),
        ("value", (), "head/val/tail", False, NO),
        ("val", (), "head/value/tail", False, NO),
        ("v*o", (), "value/vulkano/tail", False, EXC),
        ("vul?ano", (), "value/vulkano/tail", False, EXC),
        ("v[ou]l[kc]ano", (), "value/volcano", False, EXC),
        ("v[ou]l[", (), "value/vol[", False, NO),
        ("!vul?ano", (), "value/vulkano/tail", False, INC),
        # directory-only
        ("value/", (), "value/tail", False, EXC),
        ("value/", (), "head/value/tail", False, EXC),
        ("value/", (), "head/value", True, EXC),
        ("value/", (), "head/value", False, NO),
        # the first matching component decides, even if a later one would be a directory
        ("x/", (), "x/x", False, EXC),
        # domains: only below the declaring directory, never the directory itself
        ("value", ("head", "middle", "tail"), "head/middle", False, NO),
        ("value", ("head", "middle", "tail"), "head/middle/tail", False, NO),
        ("value", ("head", "middle", "tail"), "head/middle/_tail_/value", False, NO),
        ("middle/", ("value", "volcano"), "value/volcano/middle/tail", False, EXC),
        ("volcano/", ("value", "volcano"), "value/volcano/tail", True, NO),
        # anchored globs
        ("/value/vul?ano", (), "value/vulkano/tail", False, EXC),
        ("value/vul?ano", (), "value/vulkano/tail", False, EXC),
        ("value/vulkano", (), "value/volcano", False, NO),
        ("value/vul?ano", (), "value", False, NO),
        ("/value/volcano", (), "value/value/volcano", False, NO),
        ("middle/tail/", ("value", "volcano"), "value/volcano/middle/tail", True, EXC),
        ("volcano/tail", ("value", "volcano"), "value/volcano/tail", False, NO),
        ("/deploy", (), "deploy", True, EXC),
        ("/deploy", (), "deploy/app.yaml", False, EXC),
        ("/deploy", (), "x/deploy", True, NO),
        ("/*", (), "anything", False, EXC),
        ("/*", (), "dir/file", False, EXC),
        ("/*.md", (), "README.md", False, EXC),
        ("/*.md", (), "docs/README.md", False, NO),
        # leading **
        ("**/*lue/vol?ano", (), "value/volcano/tail", False, EXC),
        ("**/*lue/vol?ano", (), "head/value/volcano/tail", False, EXC),
        ("**/*lue/vol?ano", (), "head/value/Volcano/tail", False, NO),
        ("**/*lue/vol?ano/", (), "head/value/volcano/tail", False, EXC),
        ("**/*lue/vol?ano/", (), "head/value/volcano", True, EXC),
        ("**/*lue/vol?ano/", (), "head/value/Colcano", True, NO),
        ("**/*lue/vol?ano/", (), "head/value/volcano", False, NO),
        ("**/.sops.yaml", (), ".sops.yaml", False, EXC),
        ("**/.sops.yaml", (), "a/b/.sops.yaml", False, EXC),
        # trailing and middle **
        ("/*lue/vol?ano/**", (), "value/volcano/tail/moretail", False, EXC),
        ("/*lue/vol?ano/**", (), "value/volcano", False, EXC),
        ("/*lue/**/vol?ano", (), "value/volcano", False, EXC),
        ("/*lue/**/vol?ano", (), "value/middle/volcano", False, EXC),
        ("/*lue/**/vol?ano", (), "value/middle1/middle2/volcano", False, EXC),
        ("/*lue/**/vol?ano/", (), "value/middle1/middle2/volcano", True, EXC),
        ("/*lue/**/vol?ano/", (), "value/middle1/middle2/volcano", False, NO),
        ("/*lue/**/vol?ano/", (), "value/middle1/middle2/volcano/tail", False, EXC),
        ("/*lue/**foo/vol?ano", (), "value/foo/volcano/tail", False, NO),
        ("**/head/v[ou]l[kc]ano", (), "value/head/volcano", False, EXC),
        ("**/head/v[ou]l[", (), "value/head/vol[", False, NO),
        ("/value/**/v[ou]l[", (), "value/head/vol[", False, NO),
        ("**/android/**/GeneratedPluginRegistrant.java", (),
         "packages/flutter_tools/lib/src/android/gradle.dart", False, NO),
        # deploy/**/*.md style (from the Flux docs example)
        ("/deploy/**/*.md", (), "deploy/README.md", False, EXC),
        ("/deploy/**/*.md", (), "deploy/a/b/notes.md", False, EXC),
        ("/deploy/**/*.md", (), "deploy/a/b/app.yaml", False, NO),
        # trailing spaces are trimmed unless escaped
        ("foo  ", (), "foo", False, EXC),
        ("foo\\ ", (), "foo ", False, EXC),
        ("foo\\ ", (), "foo", False, NO),
        # a lone "!" or "/" matches nothing
        ("!", (), "x", False, NO),
        ("/", (), "x", True, NO),
    ],
)
def test_pattern_match(pattern: str, domain: tuple[str, ...], path: str, is_dir: bool, expected: Match) -> None:
    assert Pattern.parse(pattern, domain).match(tuple(path.split("/")), is_dir) is expected


# -- matchers ---------------------------------------------------------------------------------------------

def _matcher(text: str) -> Matcher:
    return Matcher.of(read_patterns(text))


@pytest.mark.parametrize(
    ("rules", "path", "is_dir", "excluded"),
    [
        # the last matching pattern wins
        ("*.yaml\n!keep.yaml\n", "keep.yaml", False, False),
        ("*.yaml\n!keep.yaml\n", "drop.yaml", False, True),
        ("!keep.yaml\n*.yaml\n", "keep.yaml", False, True),
        # unlike git, a file can be re-included inside an excluded directory
        ("dir/\n!dir/keep.yaml\n", "dir", True, True),
        ("dir/\n!dir/keep.yaml\n", "dir/keep.yaml", False, False),
        ("dir/\n!dir/keep.yaml\n", "dir/other.yaml", False, True),
        # Flux docs: exclude all, include deploy, exclude docs inside deploy
        ("/*\n!/deploy\n/deploy/**/*.md\n", "src/main.go", False, True),
        ("/*\n!/deploy\n/deploy/**/*.md\n", "deploy", True, False),
        ("/*\n!/deploy\n/deploy/**/*.md\n", "deploy/app/kustomization.yaml", False, False),
        ("/*\n!/deploy\n/deploy/**/*.md\n", "deploy/app/README.md", False, True),
        ("", "anything", False, False),
    ],
)
def test_matcher_priority(rules: str, path: str, is_dir: bool, excluded: bool) -> None:
    assert _matcher(rules).excludes(tuple(path.split("/")), is_dir) is excluded


def test_read_patterns_skips_comments_and_blank_lines() -> None:
    text = "# comment\n\n   \n\t\r\n*.md\r\n  spaced\n\\#hash\nlast"
    assert [p.source for p in read_patterns(text)] == ["*.md", "  spaced", "\\#hash", "last"]
    assert read_patterns(b"a\nb\n", ("sub",))[1].domain == ("sub",)


def test_escaped_hash_is_a_literal() -> None:
    assert _matcher("\\#notes\n").excludes(("#notes",), False)


@pytest.mark.parametrize(
    ("path", "is_dir", "excluded"),
    [
        (".git", True, True),
        (".git/objects/ab", False, True),
        ("sub/.git", True, True),
        (".gitignore", False, True),
        ("a/.gitmodules", False, True),
        (".gitattributes", False, True),
        ("logo.png", False, True),
        ("img/photo.JPG", False, False),  # case-sensitive
        ("charts/app-1.0.0.tar.gz", False, True),
        ("bundle.zip", False, True),
        (".github", True, True),
        (".github/workflows/ci.yaml", False, True),
        (".github", False, False),  # a file named .github is not a directory
        (".circleci/config.yml", False, True),
        (".travis.yml", False, True),
        ("x/.gitlab-ci.yml", False, True),
        ("appveyor.yml", False, True),
        (".drone.yml", False, True),
        ("cloudbuild.yaml", False, True),
        ("codeship-services.yml", False, True),
        ("codeship-steps.yml", False, True),
        (".goreleaser.yml", False, True),
        ("a/b/.sops.yaml", False, True),
        (".flux.yaml", False, True),
        ("deploy/app.yaml", False, False),
        ("README.md", False, False),
    ],
)
def test_default_matcher(path: str, is_dir: bool, excluded: bool) -> None:
    assert default_matcher().excludes(tuple(path.split("/")), is_dir) is excluded


def test_configured_patterns_replace_defaults_but_not_vcs() -> None:
    matcher = source_ignore_matcher(read_patterns("*.md\n"))
    assert matcher.excludes(("README.md",), False)
    assert matcher.excludes((".git",), True)
    assert matcher.excludes((".gitignore",), False)
    assert not matcher.excludes(("logo.png",), False)
    assert not matcher.excludes((".github",), True)


def test_vcs_patterns_can_be_reincluded() -> None:
    assert not source_ignore_matcher(read_patterns("!.gitignore\n")).excludes((".gitignore",), False)


def test_no_patterns_means_defaults() -> None:
    assert source_ignore_matcher([]) == default_matcher()


# -- pattern sources --------------------------------------------------------------------------------------

def _write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_load_ignore_patterns_order_and_domains(tmp_path: Path) -> None:
    _write(tmp_path, ".sourceignore", "root1\n")
    _write(tmp_path, "b/.sourceignore", "b1\n")
    _write(tmp_path, "a/.sourceignore", "a1\n# c\na2\n")
    _write(tmp_path, "a/deep/.sourceignore", "deep1\n")
    _write(tmp_path, "a-b/.sourceignore", "ab1\n")  # '-' sorts before '/' but after nothing: a < a-b < b
    _write(tmp_path, ".git/.sourceignore", "never\n")
    _write(tmp_path, "sub/.git/x/.sourceignore", "never\n")
    got = [(p.source, p.domain) for p in load_ignore_patterns(tmp_path)]
    assert got == [
        ("root1", ()),
        ("a1", ("a",)),
        ("a2", ("a",)),
        ("deep1", ("a", "deep")),
        ("ab1", ("a-b",)),
        ("b1", ("b",)),
    ]


def test_load_ignore_patterns_does_not_follow_symlinks(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside, ".sourceignore", "outside-dir\n")
    _write(outside, "secret", "not-a-pattern-source\n")
    root = tmp_path / "root"
    root.mkdir()
    os.symlink(outside, root / "linked-dir")
    os.symlink(outside / "secret", root / ".sourceignore")
    assert load_ignore_patterns(root) == []


def test_load_ignore_patterns_deep_tree(tmp_path: Path) -> None:
    dirs = [str(tmp_path)]
    for _ in range(1200):  # deeper than Python's default recursion limit
        dirs.append(os.path.join(dirs[-1], "d"))
        os.mkdir(dirs[-1])
    ignore_file = Path(dirs[-1], ".sourceignore")
    ignore_file.write_text("x\n")
    try:
        patterns = load_ignore_patterns(tmp_path)
        assert len(patterns) == 1
        assert len(patterns[0].domain) == 1200
    finally:  # pytest's own clean-up is recursive and would fail on this tree
        ignore_file.unlink()
        for path in reversed(dirs[1:]):
            os.rmdir(path)


def test_sourceignore_scoped_to_its_directory(tmp_path: Path) -> None:
    _write(tmp_path, "apps/.sourceignore", "*.md\n/local.yaml\n")
    matcher = tree_matcher(tmp_path)
    assert matcher.excludes(("apps", "README.md"), False)
    assert matcher.excludes(("apps", "x", "README.md"), False)
    assert not matcher.excludes(("README.md",), False)
    assert matcher.excludes(("apps", "local.yaml"), False)
    assert not matcher.excludes(("apps", "x", "local.yaml"), False)
    # a .sourceignore pattern replaces the default patterns for the whole tree
    assert not matcher.excludes(("logo.png",), False)
    assert matcher.excludes((".git",), True)


def test_spec_ignore_wins_over_sourceignore(tmp_path: Path) -> None:
    _write(tmp_path, ".sourceignore", "!keep.md\n")
    _write(tmp_path, "sub/.sourceignore", "drop.yaml\n")
    matcher = tree_matcher(tmp_path, "*.md\n!sub/drop.yaml\n")
    assert matcher.excludes(("keep.md",), False)
    assert not matcher.excludes(("sub", "drop.yaml"), False)
    assert matcher.excludes(("other", "drop.yaml"), False) is False


def test_empty_spec_ignore_keeps_defaults(tmp_path: Path) -> None:
    assert tree_matcher(tmp_path, "") == default_matcher()
    assert tree_matcher(tmp_path, "# only a comment\n") == default_matcher()
    assert tree_matcher(tmp_path, None) == default_matcher()


def test_spec_ignore_replaces_defaults(tmp_path: Path) -> None:
    matcher = tree_matcher(tmp_path, "/*\n!/deploy\n")
    assert not matcher.excludes(("deploy", "logo.png"), False)
    assert matcher.excludes(("src",), True)


def test_has_inclusions() -> None:
    assert not _matcher("a\nb/\n").has_inclusions
    assert _matcher("a\n!b\n").has_inclusions

"""The fuzz driver every target shares: budgets, corpora, mutations, and one forked child per example.

Why a child per example: the property is "a value or the documented error, never a crash, never a hang",
and the worst failures of a parser of hostile input are exactly the ones an in-process test cannot see or
survive: a segfault in a C extension (libyaml on deep nesting), a memory bomb, a loop in C code no signal
handler interrupts. In the child, SIGALRM turns a slow example into a Python traceback of where it was
stuck; the parent kills the child when even that does not come back, and turns a death by signal into a
failure. Either way hypothesis sees an exception, shrinks, and prints the input. A fork costs about a
millisecond, which is cheap next to what it buys.

Budgets: bounded by default (`max_examples` per target, sized so the whole suite stays far below a minute);
`HEADWATER_FUZZ_MINUTES=N` runs each target for N minutes by calling the hypothesis test in rounds until
the wall clock says stop (hypothesis has no time budget of its own). Statistics go to stdout and, with
`HEADWATER_FUZZ_STATS=<file>`, as one JSON line per target to that file (docs/fuzzing.md is made from it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import re
import resource
import select
import signal
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from hypothesis.database import (
    DirectoryBasedExampleDatabase,
    ExampleDatabase,
    MultiplexedDatabase,
    ReadOnlyDatabase,
)

FUZZ_DIR = Path(__file__).parent
CORPUS = FUZZ_DIR / "corpus"
DATABASE = CORPUS / ".hypothesis-db"
LOCAL_DATABASE = FUZZ_DIR.parent.parent / ".hypothesis" / "fuzz-examples"

MINUTES = float(os.environ.get("HEADWATER_FUZZ_MINUTES") or 0)
HANG_SECONDS = float(os.environ.get("HEADWATER_FUZZ_HANG_SECONDS") or 5)
GROW = os.environ.get("HEADWATER_FUZZ_GROW") == "1"
STATS = os.environ.get("HEADWATER_FUZZ_STATS")
#: Address space a child may add to what the parent already has mapped: beyond it is a memory bomb.
CHILD_EXTRA_MEMORY = 1 << 30
#: Examples per round of a timed run (the database is replayed and the explicit seeds run only in round one).
ROUND_EXAMPLES = 2000
MAX_GROWN_FILES = 40
MAX_GROWN_SIZE = 64 * 1024


class FuzzFailure(AssertionError):
    """An example broke the property; the message carries the child's traceback or its fate."""


class Hang(BaseException):
    """Raised in the child by SIGALRM: one example ran longer than HANG_SECONDS (a BaseException, so that
    no catch-all of the code under test can swallow it)."""


# -- corpora ------------------------------------------------------------------------------------------------

def corpus_files(target: str) -> list[Path]:
    directory = CORPUS / target
    return sorted(p for p in directory.iterdir() if p.is_file()) if directory.is_dir() else []


def corpus_bytes(target: str) -> list[bytes]:
    return [p.read_bytes() for p in corpus_files(target)]


def corpus_text(target: str) -> list[str]:
    return [b.decode("utf-8", "surrogateescape") for b in corpus_bytes(target)]


def corpus_lines(target: str) -> list[str]:
    """Seeds kept one a line (`#` lines are comments): for short inputs such as durations and versions."""
    seeds: list[str] = []
    for text in corpus_text(target):
        seeds.extend(line for line in text.split("\n") if line and not line.startswith("#"))
    return seeds


def corpus_json(target: str) -> list[Any]:
    return [json.loads(b) for b in corpus_bytes(target)]


# -- mutations ----------------------------------------------------------------------------------------------

INTERESTING = [b"\x00", b"\xff", b"\xc3\x28", b"\\", b"/", b"..", b"../", b"%", b"$", b"${", b"}", b"{", b"[", b"]",
               b"*", b"**", b"?", b"!", b"-", b"+", b".", b":", b"@", b"#", b"\n", b"\r\n", b"\t", b" ", b"'", b'"',
               b"&a", b"*a", b"<<", b"0x", b"-1", b"9" * 30, b"1" * 5000, b"0" * 40, b"f" * 40, b"\xe2\x80\xa8",
               b"\xef\xbb\xbf"]


@st.composite
def mutated(draw: st.DrawFn, seeds: Sequence[bytes], tokens: Sequence[bytes] = ()) -> bytes:
    """A seed with a few byte-level edits: overwrite, insert, delete, repeat a slice, splice, truncate."""
    data = bytearray(draw(st.sampled_from(list(seeds)))) if seeds else bytearray()
    dictionary = [*INTERESTING, *tokens]
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(("set", "insert", "token", "delete", "repeat", "splice", "truncate")))
        at = draw(st.integers(0, len(data)))
        if op == "set" and data:
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            data[at:at] = draw(st.sampled_from(dictionary))
        elif op == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif op == "repeat" and data:
            length = draw(st.integers(1, 16))
            data[at:at] = bytes(data[at : at + length]) * draw(st.sampled_from((2, 3, 10, 100, 1000)))
        elif op == "splice" and seeds:
            other = draw(st.sampled_from(list(seeds)))
            start = draw(st.integers(0, len(other)))
            data[at:] = other[start:]
        elif op == "truncate":
            del data[at:]
    return bytes(data)


def mutated_text(seeds: Sequence[str], tokens: Sequence[str] = ()) -> st.SearchStrategy[str]:
    raw = [s.encode("utf-8", "surrogateescape") for s in seeds]
    return mutated(raw, [t.encode() for t in tokens]).map(lambda b: b.decode("utf-8", "replace"))


def seeded(seeds: Sequence[Any], *strategies: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A corpus seed as it is, or whatever the given strategies make (mutations, grammars)."""
    options = [st.sampled_from(list(seeds))] if seeds else []
    return st.one_of(*options, *strategies)


# -- one example in a child ---------------------------------------------------------------------------------

Check = Callable[[Any], object]


def _signature(outcome: str, detail: str) -> str:
    """A coarse kind of outcome (quoted parts and numbers blanked): what makes a new corpus file."""
    detail = re.sub(r"'[^']*'|\"[^\"]*\"|[0-9]+", "_", detail)
    return f"{outcome}:{detail[:60]}"


def _child(check: Check, value: Any, allowed: tuple[type[BaseException], ...], write: int) -> None:
    try:
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        mapped = int(Path("/proc/self/statm").read_text().split()[0]) * resource.getpagesize()
        limit = mapped + CHILD_EXTRA_MEMORY
        if hard == resource.RLIM_INFINITY or limit < hard:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))

        def on_alarm(signum: int, frame: object) -> None:
            raise Hang(f"one example ran longer than {HANG_SECONDS:g} s")

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
        try:
            result = check(value)
            kind = result if isinstance(result, str) else type(result).__name__  # a str result names its outcome
            report: tuple[str, str] = ("ok", _signature("value", kind))
        except allowed as err:
            report = ("ok", _signature(type(err).__name__, str(err)))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except BaseException as err:  # everything else is the finding
        report = ("fail", "".join(traceback.format_exception(err))[-6000:])
    data = pickle.dumps(report)
    view = memoryview(data)
    while view:
        view = view[os.write(write, view) :]


def run_isolated(check: Check, value: Any, allowed: tuple[type[BaseException], ...]) -> str:
    """Run `check(value)` in a forked child; return the outcome's signature, raise FuzzFailure otherwise."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            _child(check, value, allowed, write)
        finally:
            os._exit(0)
    os.close(write)
    chunks: list[bytes] = []
    deadline = time.monotonic() + HANG_SECONDS + 5
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise FuzzFailure(f"hang: the example did not finish within {HANG_SECONDS + 5:g} s (child killed)")
            ready, _, _ = select.select([read], [], [], remaining)
            if ready:
                chunk = os.read(read, 1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        raise FuzzFailure(f"crash: the child died of {sig}" + (" (memory bomb?)" if sig == "SIGKILL" else ""))
    if not chunks:
        raise FuzzFailure(f"crash: the child exited with status {os.waitstatus_to_exitcode(status)} and no result")
    outcome, detail = pickle.loads(b"".join(chunks))
    if outcome != "ok":
        raise FuzzFailure(detail)
    return str(detail)


# -- the driver ---------------------------------------------------------------------------------------------

@dataclass
class Stats:
    target: str
    examples: int = 0
    rounds: int = 0
    seconds: float = 0.0
    outcomes: set[str] = field(default_factory=set)
    grown: int = 0
    failed: bool = False


def _database() -> ExampleDatabase:
    repository = DirectoryBasedExampleDatabase(str(DATABASE))
    if MINUTES:
        return repository
    return MultiplexedDatabase(ReadOnlyDatabase(repository), DirectoryBasedExampleDatabase(str(LOCAL_DATABASE)))


def _grow(target: str, value: Any, dump: Callable[[Any], tuple[str, bytes]] | None, stats: Stats) -> None:
    if dump is None or stats.grown >= MAX_GROWN_FILES:
        return
    suffix, data = dump(value)
    if len(data) > MAX_GROWN_SIZE:
        return
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"grown-{hashlib.sha1(data).hexdigest()[:12]}{suffix}"
    if not path.exists():
        path.write_bytes(data)
        stats.grown += 1


def fuzz(
    target: str,
    strategy: st.SearchStrategy[Any],
    check: Check,
    *,
    allowed: tuple[type[BaseException], ...],
    seeds: Sequence[Any] = (),
    max_examples: int = 100,
    dump: Callable[[Any], tuple[str, bytes]] | None = None,
) -> Stats:
    """Fuzz one target: `check(value)` must return or raise one of `allowed`, for every value of `strategy`.

    `seeds` run first, every time (the corpus); `dump` turns a value into a corpus file (suffix, bytes) for
    `HEADWATER_FUZZ_GROW`. Bounded: `max_examples` generated examples; timed: rounds until MINUTES pass.
    """
    stats = Stats(target)
    seen: set[str] = set()

    def body(value: Any) -> None:
        stats.examples += 1
        signature = run_isolated(check, value, allowed)
        stats.outcomes.add(signature)
        if GROW and MINUTES and signature not in seen and stats.rounds > 0:
            _grow(target, value, dump, stats)
        seen.add(signature)

    body._hypothesis_internal_add_digest = target.encode()  # type: ignore[attr-defined]  # one database key each

    def new_test() -> Any:
        """A fresh hypothesis test each round: a test takes one settings object, once."""
        test = given(strategy)(body)
        for seed in seeds:
            test = example(seed)(test)
        return test

    common: dict[str, Any] = {
        "database": _database(),
        "deadline": None,  # timed in the child (HANG_SECONDS), where fork and wait do not count
        "suppress_health_check": list(HealthCheck),
        "print_blob": True,
    }
    start = time.monotonic()
    try:
        if not MINUTES:
            settings(max_examples=max_examples, **common)(new_test())()
            stats.rounds = 1
        else:
            end = start + MINUTES * 60
            while time.monotonic() < end:
                phases = list(Phase) if stats.rounds == 0 else [Phase.generate, Phase.shrink]
                settings(max_examples=ROUND_EXAMPLES, phases=phases, **common)(new_test())()
                stats.rounds += 1
    except BaseException:
        stats.failed = True
        raise
    finally:
        stats.seconds = time.monotonic() - start
        _report(stats)
    return stats


def _report(stats: Stats) -> None:
    files = corpus_files(stats.target)
    size = sum(p.stat().st_size for p in files)
    line = {
        "target": stats.target, "examples": stats.examples, "rounds": stats.rounds,
        "seconds": round(stats.seconds, 1), "outcome_kinds": len(stats.outcomes), "grown": stats.grown,
        "corpus_files": len(files), "corpus_bytes": size, "minutes": MINUTES, "failed": stats.failed,
    }  # fmt: skip
    print(f"fuzz {stats.target}: {json.dumps(line)}")
    if STATS:
        with open(STATS, "a", encoding="utf-8") as out:
            out.write(json.dumps(line) + "\n")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()

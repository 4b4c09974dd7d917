"""Fuzz suite (#12): every parser of untrusted input, driven by hypothesis; `pytest tests/fuzz` or `-m fuzz`.

README. Each `test_<target>.py` fuzzes one parser with the property "a value or the module's own documented
error type; never another exception, never a hang, never a crash". Every example runs in a forked child
(`harness.py`): a segfault, an `os._exit`, a memory bomb (address space capped) or a hang (SIGALRM in the
child after `HEADWATER_FUZZ_HANG_SECONDS`, default 5 s, then SIGKILL from the parent) fails the test and
hypothesis prints the input. Bounded by default (a fixed number of examples per target; the whole directory
takes well under a minute, so `make test` and CI run it); `HEADWATER_FUZZ_MINUTES=N` runs each target for N
minutes of wall clock instead. Seeds live in `corpus/<target>/` (one input per file, replayed every run and
mutated by the strategies); `HEADWATER_FUZZ_GROW=1` adds one file per new kind of outcome a long run meets.
Failures hypothesis finds are kept in the example database `corpus/.hypothesis-db` (written only by long
runs; bounded runs read it and write to the local, ignored `.hypothesis/`), so they are replayed first.
Results of the long runs, and how to repeat them: docs/fuzzing.md.
"""

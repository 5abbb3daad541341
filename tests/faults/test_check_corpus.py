"""``packserve check`` against the corpus: every corruption found, hostile-but-valid passes.

Also the command's contract: exit 0 clean, 1 corrupt (one finding per stdout line), 2 for
a path that is not a repository; the progress bar is drawn on stderr only when asked.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from app.check import ProgressBar, run_check
from app.git.verify import verify_repository
from tests.faults.corpus import CASES, Corrupted, State
from tests.faults.gitrepo import BaseRepo


@pytest.mark.timeout(60)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_check_finds_every_corruption(name: str, corrupt: Callable[[str], Corrupted]) -> None:
    corrupted = corrupt(name)
    report = verify_repository(corrupted.root)
    if not corrupted.case.corrupt:
        assert report.ok, [str(f) for f in report.findings]
        return
    assert not report.ok
    # Objects that are themselves damaged (not merely unreachable through a broken file)
    # are named, unless the whole pack or index holding them could not be read.
    named = {f.oid for f in report.findings}
    whole_file = any(
        "unusable" in f.message or "does not parse" in f.message for f in report.findings
    )
    damaged = {
        h
        for h in corrupted.by_state(State.FAIL)
        if corrupted.base.base_of(h) is None or h not in corrupted.base.objects
    }
    if not whole_file and name != "truncated-pack":
        assert damaged <= named, sorted(damaged - named)
    out = io.StringIO()
    assert run_check(corrupted.root, out=out, err=io.StringIO(), progress=False) == 1
    lines = out.getvalue().splitlines()
    assert len(lines) == len(report.findings) + 1
    assert lines[-1].startswith("CORRUPT:")


def test_check_clean_repository(bases: dict[str, BaseRepo]) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert run_check(bases["deltas"].root, out=out, err=err, progress=False) == 0
    assert out.getvalue().startswith("ok: 2 pack(s)")
    assert err.getvalue() == ""


def test_check_unusable_path(tmp_path: Path) -> None:
    err = io.StringIO()
    assert run_check(tmp_path / "nothing", out=io.StringIO(), err=err, progress=False) == 2
    assert "not a usable repository" in err.getvalue()


def test_progress_bar_redraws_in_place() -> None:
    err = io.StringIO()
    bar = ProgressBar(err, delay=0)
    for done in range(0, 101, 25):
        bar(done, 100)
    bar.finish()
    text = err.getvalue()
    assert text.startswith("\rchecking objects [")
    assert text.endswith("] 100/100 100%\n")
    assert "\n" not in text[:-1]


def test_progress_bar_silent_on_short_runs() -> None:
    err = io.StringIO()
    bar = ProgressBar(err, delay=60)
    bar(1, 2)
    bar(2, 2)
    bar.finish()
    assert err.getvalue() == ""


def test_cli_check_subcommand(
    bases: dict[str, BaseRepo],
    corrupt: Callable[[str], Corrupted],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from app.cli import main

    assert main(["check", "--quiet", str(bases["nodelta"].root)]) == 0
    assert main(["check", "-q", str(corrupt("zlib-commit").root)]) == 1
    assert "CORRUPT:" in capsys.readouterr().out

"""Progress: plain log lines off a terminal (CI logs), nothing with --quiet."""

from __future__ import annotations

from ftp import progress


def test_plain_lines_with_rate_off_a_terminal(capsys, monkeypatch):
    monkeypatch.setattr(progress._Settings, "log_every_s", 0.0)
    assert list(progress.progress(range(3), total=3, desc="scoring", unit="doc")) == [0, 1, 2]
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("scoring: 3/3 doc (") and "doc/s" in lines[-1]
    assert "ETA" in lines[0]


def test_quiet_silences_progress_and_status(capsys):
    progress.set_quiet(True)
    try:
        assert list(progress.progress([1, 2], desc="x")) == [1, 2]
        progress.info("hello")
    finally:
        progress.set_quiet(False)
    assert capsys.readouterr().err == ""

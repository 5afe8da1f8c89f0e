"""The session's result log: newest first, time and source, memory only unless a history file is asked for (0600)."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path

from engine.results import ResultLog, history_file
from engine.settings import Settings


def test_results_are_listed_newest_first_with_time_and_source() -> None:
    times = iter([datetime(2026, 5, 1, 9, 15, 2), datetime(2026, 5, 1, 9, 16, 40)])
    log = ResultLog(clock=lambda: next(times))
    log.add("Read text", "INVOICE 4172\nPay before Friday")
    assert log.add("Describe screen", "   ") is None  # nothing said is not a result
    log.add("Describe screen", "A desk with a laptop.")
    assert [r.source for r in log.newest_first()] == ["Describe screen", "Read text"]
    assert log.last is not None and log.last.text == "A desk with a laptop."
    assert log.as_text().splitlines() == [
        "09:16:40, Describe screen", "A desk with a laptop.", "",
        "09:15:02, Read text", "INVOICE 4172", "Pay before Friday"]


def test_results_stay_in_memory_unless_the_history_is_turned_on(spacevoice_home: Path) -> None:
    assert Settings().keep_results_history is False
    log = ResultLog()
    log.add("Describe screen", "Mia is on the left, close.")
    written = [p for p in spacevoice_home.rglob("*") if p.is_file()] if spacevoice_home.exists() else []
    assert not any("Mia" in p.read_text(errors="ignore") for p in written)
    assert not history_file().exists()


def test_history_file_is_private_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "data" / "results-history.txt"
    start = datetime(2026, 5, 1, 9, 0, 0)
    ticks = iter([start, start + timedelta(minutes=1)])
    ResultLog(path, clock=lambda: next(ticks)).add("Describe window", "A settings dialog.")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)  # made wider by hand or by an older version: the next write narrows it again
    ResultLog(path, clock=lambda: next(ticks)).add("Read text", "Save changes?")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == ("2026-05-01 09:00:00, Describe window\nA settings dialog.\n\n"
                                "2026-05-01 09:01:00, Read text\nSave changes?\n\n")

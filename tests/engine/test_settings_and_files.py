"""Settings and private atomic files: the user's data is never half-written or lost."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

from engine import paths
from engine.atomicfile import write_atomic
from engine.settings import SETTINGS, Settings


def test_every_setting_has_help_and_a_default_of_its_type():
    for setting in SETTINGS:
        assert setting.help.strip()
        assert isinstance(setting.default, setting.type)
        if setting.choices:
            assert setting.default in setting.choices


def test_settings_round_trip_store_only_changes(spacevoice_home):
    settings = Settings.load()
    settings.set("rate", "210")
    settings.set("include_text", "no")
    settings.save()
    stored = json.loads(paths.config_dir().joinpath("settings.json").read_text())
    assert stored == {"include_text": False, "rate": 210}
    again = Settings.load()
    assert again.rate == 210 and again.include_text is False and again.voice == "tara"


def test_bad_values_are_refused_when_strict_and_ignored_from_a_file(spacevoice_home):
    settings = Settings.load()
    with pytest.raises(ValueError):
        settings.set("device", "tpu")
    path = paths.config_dir() / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"device": "tpu", "rate": 150, "unknown": 1}))
    loaded = Settings.load()
    assert loaded.device == "auto" and loaded.rate == 150


def test_damaged_settings_file_is_set_aside_not_lost(spacevoice_home):
    path = paths.config_dir() / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text("{ this is not json")
    assert Settings.load().rate == 180
    aside = path.with_name("settings.json.damaged")
    assert aside.read_text() == "{ this is not json"


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_write_is_private(tmp_path):
    target = tmp_path / "private" / "people.json"
    write_atomic(target, b"secret")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert stat.S_IMODE(target.parent.stat().st_mode) == 0o700


def test_a_writer_killed_mid_write_leaves_the_old_or_new_file_whole(tmp_path):
    target = tmp_path / "data.bin"
    write_atomic(target, b"A" * 1_000_000)
    script = (
        f"import sys; sys.path.insert(0, {str(paths.resources_dir().parent)!r})\n"
        "from engine.atomicfile import write_atomic\n"
        "from pathlib import Path\n"
        "i = 0\n"
        "while True:\n"
        f"    write_atomic(Path({str(target)!r}), bytes([66 + i % 2]) * 1_000_000); i += 1\n"
    )
    for _ in range(3):
        writer = subprocess.Popen([sys.executable, "-c", script])
        time.sleep(0.4)
        writer.kill()
        writer.wait()
        data = target.read_bytes()
        assert len(data) == 1_000_000 and len(set(data)) == 1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "data.bin"]
    assert all(name.endswith(".tmp") for name in leftovers)  # temp files only, never a torn target

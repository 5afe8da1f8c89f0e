"""The settings table agrees with the backends that use its values, and settings renamed or removed since a file
was written are migrated (qutebrowser's `Migrations`)."""

from __future__ import annotations

import json

import pytest

from engine import settings as settings_module
from engine.setting_choices import BACKEND_CHOICES, backend_choices
from engine.settings import BY_NAME, Settings


@pytest.mark.parametrize("name", sorted(BACKEND_CHOICES))
def test_fixed_choices_are_the_backends_own(name):
    # The table is read by every command before anything heavy loads, so it cannot import the backends; this
    # keeps the two from drifting apart (a new voice or device added to one but not the other fails here).
    assert BY_NAME[name].choices == backend_choices(name)


def test_a_renamed_setting_keeps_the_users_value_and_a_removed_one_is_dropped(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(settings_module, "MIGRATIONS", {"speaking_rate": "rate", "beep_on_ready": None})
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({"speaking_rate": 240, "beep_on_ready": True, "voice": "leo"}))
    with caplog.at_level("WARNING"):
        loaded = Settings.load(path)
    assert loaded.rate == 240 and loaded.voice == "leo"
    assert not [r for r in caplog.records if r.levelname == "WARNING"]  # no "ignoring unknown setting"
    loaded.save()
    assert json.loads(path.read_text()) == {"rate": 240, "voice": "leo"}
    # A value already under the new name wins over the old one.
    path.write_text(json.dumps({"speaking_rate": 240, "rate": 300}))
    assert Settings.load(path).rate == 300

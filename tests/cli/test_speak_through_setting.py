"""``main.py settings set speak_through own|screen_reader|both`` (and auto); anything else is refused with the
choices, and the file keeps its value."""

from __future__ import annotations

from tests.conftest import run_main


def test_speak_through_is_set_and_a_wrong_value_refused() -> None:
    assert run_main("settings", "get", "speak_through").stdout.strip() == "auto"
    for value in ("own", "screen_reader", "both"):
        done = run_main("settings", "set", "speak_through", value)
        assert done.returncode == 0, done.stderr
        assert run_main("settings", "get", "speak_through").stdout.strip() == value
    refused = run_main("settings", "set", "speak_through", "loudly")
    assert refused.returncode == 2
    assert refused.stderr.strip() == ("spacevoice: loudly is not a value for speak_through SpaceVoice knows. "
                                      "Use one of: auto, own, screen_reader, both.")
    assert run_main("settings", "get", "speak_through").stdout.strip() == "both"

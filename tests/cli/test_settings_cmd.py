"""``main.py settings`` changes what the engine reads, through the same table as the dialog."""


def test_settings_set_get_and_refuse(main_cli):
    assert main_cli("settings", "set", "rate", "150").returncode == 0
    got = main_cli("settings", "get", "rate")
    assert got.stdout.strip() == "150"
    bad = main_cli("settings", "set", "device", "tpu")
    assert bad.returncode == 2 and "must be one of auto, cuda, directml, cpu" in bad.stderr
    unknown = main_cli("settings", "get", "colour")
    assert unknown.returncode == 2 and "no setting called colour" in unknown.stderr
    listing = main_cli("settings", "list").stdout
    assert "hotkey_describe_screen" in listing and "Describe the whole screen." in listing

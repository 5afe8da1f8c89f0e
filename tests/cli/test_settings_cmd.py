"""``main.py settings`` changes what the engine reads, through the same table as the dialog."""


def test_settings_set_get_and_refuse(main_cli):
    assert main_cli("settings", "set", "rate", "150").returncode == 0
    got = main_cli("settings", "get", "rate")
    assert got.stdout.strip() == "150"
    bad = main_cli("settings", "set", "device", "tpu")
    assert bad.returncode == 2 and "Use one of: auto, cuda, directml, cpu." in bad.stderr
    unknown = main_cli("settings", "get", "colour")
    assert unknown.returncode == 2 and "no setting called colour" in unknown.stderr
    listing = main_cli("settings", "list").stdout
    assert "hotkey_describe_screen" in listing and "Describe the whole screen." in listing


def test_settings_set_refuses_what_the_program_cannot_use_and_lists_what_it_can(main_cli):
    captioner = main_cli("settings", "set", "captioner", "banana")
    assert captioner.returncode == 2
    assert captioner.stderr.strip() == ("spacevoice: banana is not a scene model SpaceVoice knows. "
                                        "Use one of: florence-2-base-ft, florence-2-large-ft, "
                                        "vit-gpt2-image-captioning, distilvit, smolvlm-256m-instruct, "
                                        "smolvlm-500m-instruct, remote.")
    slow = main_cli("settings", "set", "rate", "10")
    assert slow.returncode == 2 and "rate must be between 80 and 900" in slow.stderr
    words = main_cli("settings", "set", "rate", "fast")
    assert words.returncode == 2 and "rate must be a whole number, like 180" in words.stderr
    assert "invalid literal" not in words.stderr
    voice = main_cli("settings", "set", "voice", "bob")
    assert voice.returncode == 2 and "Use one of: tara, leah" in voice.stderr
    assert main_cli("settings", "get", "captioner").stdout.strip() == "florence-2-base-ft"  # unchanged
    assert main_cli("settings", "set", "captioner", "distilvit").returncode == 0
    assert "captioner = 'distilvit' (florence-2-base-ft | florence-2-large-ft | vit-gpt2-image-captioning | distilvit" \
        in main_cli("settings", "list").stdout


def test_a_scene_model_the_user_installed_is_allowed(main_cli, tmp_path):
    from engine.models.store import ModelStore

    folder = tmp_path / "my-captioner"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"not really a model, but registered as one")
    ModelStore.from_settings().register("my-captioner", folder, task="image-to-text", source="a test")
    result = main_cli("settings", "set", "captioner", "my-captioner")
    assert result.returncode == 0, result.stderr


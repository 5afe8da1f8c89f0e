"""Opt-in and privacy: off by default and then nothing is ever sent; turning it on says what will be sent where and
needs a confirmation; plain http only to this computer or the local network; the key is never in the settings."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from engine.errors import InputError
from engine.remote.config import RemoteConfig, check_address, is_local_host
from tests.conftest import run_main


def test_addresses_outside_the_local_network_need_https_or_a_confirmation() -> None:
    assert check_address("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert check_address("http://192.168.1.20:11434") == "http://192.168.1.20:11434"
    assert check_address("http://[::1]:8080") == "http://[::1]:8080"
    assert check_address("https://gpu.example.org") == "https://gpu.example.org"
    with pytest.raises(InputError, match=r"not on this computer or your local network.*--allow-http"):
        check_address("http://8.8.8.8:8080")
    assert check_address("http://8.8.8.8:8080", confirmed="http://8.8.8.8:8080") == "http://8.8.8.8:8080"
    with pytest.raises(InputError, match="must not carry a user name"):
        check_address("https://me:secret@gpu.example.org")
    with pytest.raises(InputError, match="is not a server address"):
        check_address("ftp://192.168.1.2")
    assert is_local_host("localhost") and is_local_host("10.0.0.7") and not is_local_host("1.1.1.1")


def test_remote_is_off_by_default_and_then_nothing_is_sent(tmp_path: Path, faces_dir: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []
    threading.Thread(target=lambda: connections.append(listener.accept()[0]), daemon=True).start()
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"
    for name, value in (("remote_url", url), ("captioner", "remote"), ("remote_describer_model", "m")):
        assert run_main("settings", "set", name, value).returncode == 0
    result = run_main("describe", "--image", str(faces_dir / "paul_rudd.jpg"), "--json", "--no-speech")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert any("The remote engine is off" in w for w in warnings), warnings
    assert connections == []  # not even a connection
    listener.close()


def test_enabling_says_what_is_sent_and_needs_a_confirmation(tmp_path: Path) -> None:
    refused = run_main("settings", "set", "remote_enabled", "yes")
    assert refused.returncode == 2 and "main.py remote enable" in refused.stderr
    no_terminal = run_main("remote", "enable", "--url", "http://127.0.0.1:9")
    assert no_terminal.returncode == 2 and "needs your confirmation" in no_terminal.stderr
    assert "sends the pictures you ask it to describe" in no_terminal.stdout
    public = run_main("remote", "enable", "--url", "http://8.8.8.8", "--yes")
    assert public.returncode == 2 and "unencrypted" in public.stderr
    done = run_main("remote", "enable", "--url", "http://127.0.0.1:9/v1", "--yes")
    assert done.returncode == 0, done.stderr
    assert "The remote engine is on for http://127.0.0.1:9" in done.stdout
    assert run_main("settings", "get", "remote_enabled").stdout.strip() == "True"
    assert run_main("remote", "disable").returncode == 0
    assert run_main("settings", "get", "remote_enabled").stdout.strip() == "False"


def test_the_key_is_kept_apart_readable_only_by_the_user(spacevoice_home: Path) -> None:
    result = run_main("remote", "key", input_text="sk-secret-123\n")
    assert result.returncode == 0, result.stderr
    key_files = list(spacevoice_home.rglob("remote-key"))
    assert len(key_files) == 1 and key_files[0].read_text() == "sk-secret-123"
    assert stat.S_IMODE(os.stat(key_files[0]).st_mode) == 0o600
    assert not any("sk-secret" in p.read_text(errors="replace") for p in spacevoice_home.rglob("*.json"))
    assert run_main("remote", "key", "--delete").returncode == 0
    assert not key_files[0].exists()


def test_picture_is_resized_and_compressed_under_the_limit() -> None:
    from engine.remote.describer import MAX_BYTES, encode_picture

    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 255, (1080, 1920, 3), dtype=np.uint8)  # the worst case for JPEG
    picture = encode_picture(noisy)
    assert len(picture.jpeg) <= MAX_BYTES
    assert max(picture.width, picture.height) <= 1280 and picture.width / picture.height == pytest.approx(16 / 9, 0.01)
    assert RemoteConfig(False, "", "", "", "").usable().startswith("The remote engine is off")

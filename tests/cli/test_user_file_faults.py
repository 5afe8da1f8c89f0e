"""Settings and people files that cannot be used never stop a command, and are never lost.

Run through ``main.py`` as a user meets them: a value that cannot be used falls back with a warning; a file that
cannot be parsed (nested thousands deep, not JSON) is set aside under a new number each time, and ``settings
set`` / ``reset`` still work; a file that cannot be read is not "damaged": it is left alone and nothing is saved
over it (status 5); temp files of a killed writer go at the next start.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, run_main

DEEP = ("[" * 100_000 + "]" * 100_000).encode()  # json.loads raises RecursionError, not ValueError


def _settings_path(home: Path) -> Path:
    return home / "config" / "settings.json"


def _people_path(home: Path) -> Path:
    return home / "data" / "people.json"


def _write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _people_bytes(*names: str) -> bytes:
    from engine.faces.storage import Person, serialize

    rng = np.random.default_rng(5)
    return serialize([Person(name, rng.normal(size=(2, 128)).astype(np.float32)) for name in names])


def _error_line(result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("spacevoice: ")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def test_a_settings_value_that_cannot_be_used_falls_back_with_a_warning(spacevoice_home):
    path = _write(_settings_path(spacevoice_home), b'{"rate": 1e999, "voice": "leo", "system_voice": {"a": [1]}}')
    got = run_main("settings", "get", "rate")
    assert got.returncode == 0 and got.stdout.strip() == "180", got.stderr
    assert "rate" in got.stderr and "WARNING" in got.stderr
    assert run_main("settings", "get", "voice").stdout.strip() == "leo"  # the other values are kept
    assert run_main("settings", "get", "system_voice").stdout.strip() == ""
    changed = run_main("settings", "set", "rate", "200")
    assert changed.returncode == 0, changed.stderr
    assert json.loads(path.read_text()) == {"rate": 200, "voice": "leo"}


def test_a_file_that_cannot_be_parsed_is_set_aside_each_time_under_a_new_name(spacevoice_home):
    path = _write(_settings_path(spacevoice_home), DEEP)
    reset = run_main("settings", "reset", "rate")
    assert reset.returncode == 0, reset.stderr
    assert "damaged" in reset.stderr
    second = b'{"rate": 150, "voice": '  # cut short
    _write(path, second)
    changed = run_main("settings", "set", "voice", "dan")
    assert changed.returncode == 0, changed.stderr
    assert path.with_name("settings.json.damaged").read_bytes() == DEEP  # the first is never overwritten
    assert path.with_name("settings.json.damaged-2").read_bytes() == second
    assert json.loads(path.read_text()) == {"voice": "dan"}


def test_an_unreadable_settings_file_is_left_alone_and_never_saved_over(spacevoice_home):
    path = _settings_path(spacevoice_home)
    path.mkdir(parents=True)  # a folder where the file should be: it cannot be read, it is not damaged
    (path / "keep.txt").write_text("mine")
    listed = run_main("settings", "get", "rate")
    assert listed.returncode == 0 and listed.stdout.strip() == "180"
    assert "could not be read" in listed.stderr
    refused = run_main("settings", "set", "rate", "150")
    assert refused.returncode == 5
    assert "could not be read" in _error_line(refused) and "Nothing was changed" in refused.stderr
    assert (path / "keep.txt").read_text() == "mine"
    assert [p.name for p in path.parent.iterdir() if "damaged" in p.name] == []


def _without_root_powers() -> list[str] | None:
    """A command prefix under which file modes apply: none for a normal user; for root, a user namespace that
    does not map root (its permission override then does not reach our files); None where neither works."""
    if os.name != "posix":
        return None
    if os.geteuid() != 0:
        return []
    try:
        works = subprocess.run(["unshare", "--user", "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        works = False
    return ["unshare", "--user"] if works else None


def test_a_settings_file_without_read_permission_is_left_alone(spacevoice_home):
    prefix = _without_root_powers()
    if prefix is None:
        pytest.skip("root's permission override cannot be dropped here (no user namespaces)")
    path = _write(_settings_path(spacevoice_home), b'{"voice": "leo", "rate": 150}')
    path.chmod(0)
    try:
        refused = subprocess.run(
            [*prefix, sys.executable, str(ROOT / "main.py"), "settings", "set", "voice", "dan"],
            capture_output=True, text=True, timeout=120, cwd=ROOT,
        )
        assert refused.returncode == 5, refused.stderr
        assert "could not be read (Permission denied)" in _error_line(refused)
    finally:
        path.chmod(0o600)
    assert json.loads(path.read_text()) == {"voice": "leo", "rate": 150}  # the rate is not dropped
    assert not list(path.parent.glob("settings.json.damaged*"))


PEOPLE_FILES = {
    "nested": DEEP,
    "control-name": json.dumps({"format": "spacevoice-people", "version": 1,
                                "people": [{"name": "\u0007", "embeddings": []}]}).encode(),
    "huge-version": b'{"format": "spacevoice-people", "version": 1e999, "people": []}',
    "people-not-list": b'{"format": "spacevoice-people", "version": 1, "people": {"a": 1}}',
    "not-utf8": b"\xff\xfe\x00garbage",
}


@pytest.mark.parametrize("damage", sorted(PEOPLE_FILES))
def test_a_damaged_people_file_is_set_aside_and_the_backup_used(spacevoice_home, damage):
    people = _write(_people_path(spacevoice_home), PEOPLE_FILES[damage])
    people.with_name("people.json.bak").write_bytes(_people_bytes("Paul"))
    listed = run_main("people", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.strip() == "Paul: 2 face pictures"
    assert "damaged" in listed.stderr
    (aside,) = people.parent.glob("people.json.damaged-*")
    assert aside.read_bytes() == PEOPLE_FILES[damage]


def test_an_unreadable_people_file_is_left_alone_and_not_saved_over(spacevoice_home):
    people = _people_path(spacevoice_home)
    people.mkdir(parents=True)
    listed = run_main("people", "list")
    assert listed.returncode == 0 and "could not be read" in listed.stderr
    refused = run_main("people", "rename", "Paul", "Pete")
    assert refused.returncode in (2, 5), refused.stderr  # nobody can be found in a file that was not read
    assert people.is_dir() and not list(people.parent.glob("people.json.damaged*"))


KILLED_WRITER = """
import os, sys, time
sys.path.insert(0, {root!r})
os.fsync = lambda fd: time.sleep(1000)  # hold the writer after its temp file is written, before the rename
{body}
"""


def _kill_mid_write(body: str, home: Path, temp_glob: str, folder: Path) -> list[Path]:
    script = KILLED_WRITER.format(root=str(ROOT), body=body)
    writer = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "SPACEVOICE_HOME": str(home)})
    try:
        deadline = time.monotonic() + 60
        while not list(folder.glob(temp_glob)):
            assert writer.poll() is None and time.monotonic() < deadline, "the writer never wrote a temp file"
            time.sleep(0.05)
    finally:
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    return list(folder.glob(temp_glob))


def test_temp_files_of_a_killed_writer_are_removed_at_the_next_start(spacevoice_home):
    people = _write(_people_path(spacevoice_home), _people_bytes("Paul", "Kate"))
    left = _kill_mid_write(
        "from engine.faces.gallery import FaceGallery\n"
        "g = FaceGallery.load(); g.rename('Paul', 'Pete'); g.save()",
        spacevoice_home, ".people.json*.tmp", people.parent,
    )
    assert left and b"Kate" in left[0].read_bytes()  # a full copy of names and embeddings
    settings = _write(_settings_path(spacevoice_home), b'{"rate": 150}')
    left_settings = _kill_mid_write(
        "from engine.settings import Settings\ns = Settings.load(); s.set('rate', 210); s.save()",
        spacevoice_home, ".settings.json.*.tmp", settings.parent,
    )
    assert left_settings
    listed = run_main("people", "list")  # a command that only reads: no save comes to tidy up
    assert listed.returncode == 0 and "Paul" in listed.stdout, listed.stderr
    assert not list(people.parent.glob(".people.json*.tmp"))
    assert not list(settings.parent.glob(".settings.json.*.tmp"))
    assert json.loads(settings.read_text()) == {"rate": 150}


def _private_mounts_work() -> bool:
    try:
        return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                              capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_private_mounts = pytest.mark.skipif(
    not sys.platform.startswith("linux") or not _private_mounts_work(),
    reason="needs unshare with user and mount namespaces (a tmpfs and a read-only mount without root)",
)


def _run_in_private_mounts(setup: str, home: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``main.py ARGS`` in a private mount namespace after the shell ``setup``; copy the home to ``out``."""
    script = f'set -e\n{setup}\nset +e\n"$0" "$@"\nstatus=$?\ncp -a "$SPACEVOICE_HOME/." "{out}/"\nexit $status\n'
    return subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, sys.executable,
         str(ROOT / "main.py"), *args],
        capture_output=True, text=True, timeout=300, cwd=ROOT, env={**os.environ, "SPACEVOICE_HOME": str(home)},
    )


def _user_files(home: Path) -> dict[str, bytes]:
    """The user's files and any temp file beside them, by name (the lock files are empty and not counted)."""
    return {p.name: p.read_bytes() for folder in ("config", "data") if (home / folder).is_dir()
            for p in (home / folder).iterdir() if p.is_file() and not p.name.endswith(".lock")}


@needs_private_mounts
@pytest.mark.parametrize("command", [["people", "rename", "Paul", "Pete"], ["settings", "set", "rate", "170"]])
def test_a_full_disk_is_a_plain_message_and_loses_nothing(spacevoice_home, tmp_path, command):
    stage = tmp_path / "stage"
    _write(_people_path(stage), _people_bytes("Paul", "Kate"))
    _write(_settings_path(stage), b'{"rate": 150}')
    before = _user_files(stage)
    out = tmp_path / "after"
    out.mkdir()
    spacevoice_home.mkdir(parents=True, exist_ok=True)
    fill = (f'mount -t tmpfs -o size=64k tmpfs "$SPACEVOICE_HOME"\ncp -a "{stage}/." "$SPACEVOICE_HOME/"\n'
            'head -c 1000000 /dev/zero > "$SPACEVOICE_HOME/filler" 2>/dev/null || true')
    result = _run_in_private_mounts(fill, spacevoice_home, out, *command)
    assert result.returncode == 5, result.stderr
    assert "disk is full" in _error_line(result) and "Nothing was changed" in result.stderr
    assert _user_files(out) == before  # the same files, the same bytes, no temp file left


@needs_private_mounts
@pytest.mark.parametrize("command", [["people", "remove", "Kate"], ["settings", "set", "rate", "170"]])
def test_a_read_only_folder_is_a_plain_message_and_loses_nothing(spacevoice_home, tmp_path, command):
    _write(_people_path(spacevoice_home), _people_bytes("Paul", "Kate"))
    _write(_settings_path(spacevoice_home), b'{"rate": 150}')
    before = _user_files(spacevoice_home)
    out = tmp_path / "after"
    out.mkdir()
    read_only = 'mount --bind "$SPACEVOICE_HOME" "$SPACEVOICE_HOME"\nmount -o remount,bind,ro "$SPACEVOICE_HOME"'
    result = _run_in_private_mounts(read_only, spacevoice_home, out, *command)
    assert result.returncode == 5, result.stderr
    assert "may not write" in _error_line(result) and "Nothing was changed" in result.stderr
    assert _user_files(spacevoice_home) == before


def test_a_data_folder_path_over_4096_bytes_is_a_plain_message(tmp_path):
    home = str(tmp_path) + ("/" + "h" * 250) * 17
    assert len(home.encode()) > 4096
    result = run_main("settings", "set", "rate", "150", env={"SPACEVOICE_HOME": home})
    assert result.returncode == 5 and "too long" in _error_line(result)


@needs_private_mounts
def test_speech_written_to_a_full_disk_is_a_plain_message_and_leaves_no_partial_file(tmp_path):
    full = tmp_path / "full"
    full.mkdir()
    script = (f'set -e\nmount -t tmpfs -o size=64k tmpfs "{full}"\n'
              f'head -c 1000000 /dev/zero > "{full}/filler" 2>/dev/null || true\nset +e\n'
              f'"$0" "$@"\nstatus=$?\nls -A "{full}"\nexit $status\n')
    result = subprocess.run(
        ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, sys.executable,
         str(ROOT / "main.py"), "say", "A sentence long enough to need more room than is left.", "--engine",
         "system", "--out", str(full / "speech.wav")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert result.returncode == 2, result.stderr
    assert "No space left" in _error_line(result)
    assert result.stdout.split() == ["filler"]  # no speech.wav, no partial temp file

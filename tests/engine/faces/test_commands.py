"""``main.py people ...`` and ``main.py find`` end to end in subprocesses, with a video file as the camera."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from engine.faces.gallery import people_file
from tests.engine.faces.scenes import scene, stranger
from tests.fake_camera import write_video


@pytest.fixture(autouse=True)
def faces_only(spacevoice_home):
    """``describe`` here runs only the face stage: the text and scene stages are other tests' business."""
    from engine.settings import Settings

    settings = Settings()
    settings.set("include_text", False)
    settings.set("include_scene", False)
    settings.save()


def _ok(result):
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_add_list_rename_remove_and_describe(main_cli, faces_dir):
    paul = str(faces_dir / "paul_rudd.jpg")
    assert "Paul is enrolled with 1 face picture." in _ok(main_cli("people", "add", "Paul", paul))
    assert "Shea is enrolled" in _ok(main_cli("people", "add", "Shea", str(faces_dir / "shea_whigham.jpg")))
    if os.name == "posix":
        assert stat.S_IMODE(people_file().stat().st_mode) == 0o600
    assert _ok(main_cli("people", "list")).splitlines() == ["Paul: 1 face picture", "Shea: 1 face picture"]
    described = json.loads(_ok(main_cli("describe", "--image", paul, "--json", "--no-speech")))
    assert [p["name"] for p in described["people"]] == ["Paul"]
    assert "Paul is in the centre, close." in described["spoken"]
    assert "Renamed Paul to Paul Rudd." in _ok(main_cli("people", "rename", "paul", "Paul Rudd"))
    assert "Removed Shea" in _ok(main_cli("people", "remove", "SHEA"))
    assert _ok(main_cli("people", "list")).splitlines() == ["Paul Rudd: 1 face picture"]
    missing = main_cli("people", "remove", "Shea")
    assert missing.returncode == 2 and "Nobody by that name is enrolled" in missing.stderr


def test_add_refuses_a_picture_without_a_face(main_cli, faces_dir, tmp_path):
    text = Image.new("RGB", (640, 200), "white")
    ImageDraw.Draw(text).text((20, 80), "Quarterly report: revenue up 4 percent", fill="black")
    picture = tmp_path / "report.png"
    text.save(picture)
    result = main_cli("people", "add", "Mia", str(faces_dir / "paul_rudd.jpg"), str(picture))
    assert result.returncode == 2
    assert "No face was found in report.png" in result.stderr and result.stderr.count("\n") == 1
    assert not people_file().exists()  # the good photo before it was not saved either


def test_several_faces_without_a_terminal_explains_and_saves_nothing(main_cli, faces_dir):
    result = main_cli("people", "add", "Mia", str(faces_dir / "multiface.jpg"), input_text="")
    assert result.returncode == 2
    assert "shows 6 faces: 1 on the left" in result.stderr and "--face N" in result.stderr
    assert not people_file().exists()
    _ok(main_cli("people", "add", "Mia", str(faces_dir / "multiface.jpg"), "--face", "2"))
    described = json.loads(_ok(main_cli("describe", "--image", str(faces_dir / "multiface.jpg"), "--json",
                                        "--no-speech")))
    assert [p["name"] for p in described["people"]] == [None, "Mia", None, None, None, None]
    wrong = main_cli("people", "add", "Mia", str(faces_dir / "multiface.jpg"), "--face", "7")
    assert wrong.returncode == 2 and "there is no face 7" in wrong.stderr


def test_a_wrong_face_is_refused_in_one_line_and_added_with_force(main_cli, faces_dir):
    paul, angelina = str(faces_dir / "paul_rudd.jpg"), str(faces_dir / "angelina_jolie.jpg")
    _ok(main_cli("people", "add", "Paul", paul))
    refused = main_cli("people", "add", "Paul", angelina)
    assert refused.returncode == 2
    assert refused.stderr.strip().endswith("This face does not look like Paul's other pictures. "
                                           "Add it anyway with --force."), refused.stderr
    assert refused.stderr.count("\n") == 1
    assert _ok(main_cli("people", "list")).splitlines() == ["Paul: 1 face picture"]
    again = _ok(main_cli("people", "add", "Paul", paul))
    assert "Paul already has this picture; nothing was added" in again
    assert "Paul is enrolled with 2 face pictures." in _ok(main_cli("people", "add", "Paul", angelina, "--force"))


@pytest.fixture
def camera_scenes(faces_dir):
    """640x480 frames: strangers only, Paul on the left with a stranger, Paul on the right with a stranger."""
    from tests.engine.faces.scenes import load_rgb

    paul, other = load_rgb(faces_dir, "paul_rudd"), stranger(faces_dir)
    return {
        "strangers": scene((640, 480), [(other, 0.3, 260), (other[:, ::-1], 0.75, 220)]),
        "left": scene((640, 480), [(paul, 0.17, 300), (other, 0.75, 220)]),
        "right": scene((640, 480), [(other, 0.2, 220), (paul, 0.83, 300)]),
    }


def test_find_says_where_the_person_is_and_again_when_they_move(main_cli, faces_dir, camera_scenes, tmp_path):
    _ok(main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg")))
    frames = [camera_scenes["strangers"]] * 8 + [camera_scenes["left"]] * 8 + [camera_scenes["right"]] * 8
    video = write_video(tmp_path / "camera.avi", frames)
    result = main_cli("find", "Paul", "--webcam", str(video), "--no-speech")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Looking for Paul.", "Paul is on the left, close.", "Paul is on the right, close.",
    ]


def test_find_reports_a_person_who_never_appears_and_an_unknown_name(main_cli, faces_dir, camera_scenes, tmp_path):
    _ok(main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg")))
    video = write_video(tmp_path / "strangers.avi", [camera_scenes["strangers"]] * 6)
    result = main_cli("find", "Paul", "--webcam", str(video), "--no-speech")
    assert result.returncode == 1
    assert result.stdout.splitlines()[-1] == "I did not see Paul before the camera stopped."
    unknown = main_cli("find", "Nobody", "--webcam", str(video), "--no-speech")
    assert unknown.returncode == 2 and "Nobody by that name is enrolled" in unknown.stderr
    no_camera = main_cli("find", "Paul", "--webcam", "7", "--no-speech")
    assert no_camera.returncode == 3 and "No camera was found" in no_camera.stderr


def test_enroll_webcam_guides_takes_several_frames_and_then_recognises(main_cli, faces_dir, tmp_path):
    from tests.engine.faces.scenes import load_rgb, turned_head

    shea = load_rgb(faces_dir, "shea_whigham")
    # The head turns a little between the instructions (a still head would be refused).
    frames = [turned_head(shea, angle) for angle in (0, 20, -20, 12, -12) for _ in range(5)]
    video = write_video(tmp_path / "me.avi", frames)
    out = _ok(main_cli("people", "enroll-webcam", "Shea", "--device", str(video), "--settle-frames", "2",
                       "--no-speech"))
    lines = out.splitlines()
    assert lines[0] == "Look straight at the camera."
    assert "Turn your head slightly to the left." in lines
    assert lines[-1] == "Done. Shea is enrolled with 5 face pictures."
    assert _ok(main_cli("people", "list")).splitlines() == ["Shea: 5 face pictures"]
    described = json.loads(_ok(main_cli("describe", "--image", str(faces_dir / "shea_whigham.jpg"), "--json",
                                        "--no-speech")))
    assert [p["name"] for p in described["people"]] == ["Shea"]


def test_enroll_webcam_with_nobody_in_view_saves_nothing(main_cli, tmp_path):
    empty = np.full((480, 640, 3), 120, np.uint8)
    empty[100:300, 200:400] = 30  # a dark box: something in view, but no face
    video = write_video(tmp_path / "empty.avi", [empty] * 100)  # enough to search one whole step
    result = main_cli("people", "enroll-webcam", "Mia", "--device", str(video), "--settle-frames", "1",
                      "--no-speech")
    assert result.returncode == 2 and "could not see Mia's face" in result.stderr
    assert "I can't see your face clearly" in result.stdout
    assert not Path(people_file()).exists()


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal is a POSIX thing")
def test_several_faces_at_a_terminal_lists_them_and_asks_which(faces_dir):
    import pty
    import subprocess
    import sys
    import time

    from tests.conftest import ROOT

    master, slave = pty.openpty()
    process = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "people", "add", "Mia",
                                str(faces_dir / "multiface.jpg")], stdin=slave, stdout=slave, stderr=slave,
                               cwd=ROOT, env=dict(os.environ))
    os.close(slave)
    output = b""
    deadline = time.monotonic() + 120
    while b"Type its number:" not in output and time.monotonic() < deadline:
        output += os.read(master, 4096)
    os.write(master, b"3\n")
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    os.close(master)
    assert process.wait(60) == 0, output
    text = output.decode()
    assert "multiface.jpg shows 6 faces, numbered from the left:" in text
    assert "1: on the left, near" in text and "6: on the right, near" in text
    assert "Which face is Mia?" in text and "Mia is enrolled with 1 face picture." in text
    from engine.faces import load_face_stage
    from tests.engine.faces.scenes import load_rgb

    named = [p.name for p in load_face_stage().identify(load_rgb(faces_dir, "multiface"))]
    assert named == [None, None, "Mia", None, None, None]


def test_find_gives_up_after_the_timeout(main_cli, faces_dir, tmp_path):
    _ok(main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg")))
    crowd = scene((320, 240), [(stranger(faces_dir), 0.5, 200)])
    video = write_video(tmp_path / "long.avi", [crowd] * 400)  # far longer than a second to process
    result = main_cli("find", "Paul", "--webcam", str(video), "--timeout", "1", "--no-speech")
    assert result.returncode == 1, result.stderr
    assert result.stdout.splitlines() == ["Looking for Paul.", "I did not see Paul in 1 second."]


def test_enrolling_into_a_file_from_a_newer_version_is_refused_before_any_work(main_cli, faces_dir):
    people_file().parent.mkdir(parents=True)
    newer = json.dumps({"format": "spacevoice-people", "version": 2, "people": []})
    people_file().write_text(newer)
    result = main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg"))
    assert result.returncode == 5 and "newer version" in result.stderr
    assert result.stderr.count("\n") == 1 and people_file().read_text() == newer
    listed = main_cli("people", "list")
    assert listed.returncode == 5 and "newer version" in listed.stderr


def test_a_damaged_people_file_is_reported_once_and_the_backup_used(main_cli, faces_dir):
    _ok(main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg")))
    _ok(main_cli("people", "add", "Shea", str(faces_dir / "shea_whigham.jpg")))
    people_file().write_bytes(people_file().read_bytes()[:100])
    listed = main_cli("people", "list")
    assert listed.returncode == 0 and listed.stdout.splitlines() == ["Paul: 1 face picture"]
    assert listed.stderr.count("\n") == 1 and "was damaged" in listed.stderr
    assert "previous copy (1 person)" in listed.stderr
    assert len(list(people_file().parent.glob("people.json.damaged-*"))) == 1


def test_people_and_find_import_no_torch_transformers_or_qt(faces_dir, tmp_path, camera_scenes):
    import subprocess
    import sys

    from tests.conftest import ROOT

    video = write_video(tmp_path / "camera.avi", [camera_scenes["left"]] * 4)
    script = (
        "import sys, main\n"
        f"assert main.main(['people', 'add', 'Paul', {str(faces_dir / 'paul_rudd.jpg')!r}]) == 0\n"
        f"assert main.main(['find', 'Paul', '--webcam', {str(video)!r}, '--no-speech']) == 0\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT,
                            env=dict(os.environ), timeout=300)
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.splitlines()[-1].split())
    assert "onnxruntime" in loaded  # the models really ran
    assert not loaded & {"torch", "transformers", "optimum", "PySide6", "shiboken6"}


def test_thumbnails_only_with_the_setting_and_erased_with_the_person(main_cli, faces_dir):
    from engine.settings import Settings

    thumbnails = people_file().parent / "people-thumbnails"
    _ok(main_cli("people", "add", "Paul", str(faces_dir / "paul_rudd.jpg")))
    assert not thumbnails.exists() or not list(thumbnails.iterdir())  # no photo kept by default
    settings = Settings.load()
    settings.set("keep_thumbnails", True)
    settings.save()
    _ok(main_cli("people", "add", "Shea", str(faces_dir / "shea_whigham.jpg")))
    (kept,) = thumbnails.iterdir()
    assert kept.suffix == ".jpg" and kept.stat().st_size > 1000
    if os.name == "posix":
        assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    _ok(main_cli("people", "remove", "Shea"))
    assert not list(thumbnails.iterdir())

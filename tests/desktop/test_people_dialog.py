"""The People dialog with real face photos: add from files (on the worker), rename, remove; then a describe of
the real screen names the enrolled person shown on it."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QPixmap
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from engine.faces.gallery import FaceGallery
from engine.pipeline import load_stages
from tests.desktop.conftest import heard, screenshot
from tests.fake_camera import write_video

pytestmark = pytest.mark.gui


def test_people_dialog_adds_renames_removes_and_describe_names_them(make_app, spy, qtbot, faces_dir):
    app = make_app(stage_loader=load_stages)  # this test's own people file, so not the session's cached stages
    app.run_action("people")
    dialog = app._dialogs["people"]
    qtbot.waitExposed(dialog)
    assert dialog.names() == []
    assert "Nobody is enrolled" in dialog.problem.text()

    dialog.add_from_files("Paul", [str(faces_dir / "paul_rudd.jpg")])
    qtbot.waitUntil(lambda: dialog.names() == ["Paul"], timeout=60_000)
    qtbot.waitUntil(lambda: heard(spy, "Paul is enrolled with 1 face picture"), timeout=10_000)
    assert FaceGallery.load().names() == ["Paul"]
    screenshot("people_dialog")

    # A photo of several people is refused in plain words, and nothing changes.
    dialog.add_from_files("Crowd", [str(faces_dir / "multiface.jpg")])
    qtbot.waitUntil(lambda: heard(spy, "faces."), timeout=60_000)
    assert "Use a photo of this person alone" in next(t for t in spy.spoken if "faces." in t)
    assert dialog.names() == ["Paul"]

    # The person on screen is recognised by a describe of the real X screen.
    photo = QLabel()
    photo.setPixmap(QPixmap(str(faces_dir / "paul_rudd.jpg")).scaledToHeight(500))
    photo.move(300, 200)
    photo.show()
    qtbot.waitExposed(photo)
    dialog.hide()
    QTest.qWait(300)
    screenshot("people_on_screen")
    app.run_action("describe-screen")
    qtbot.waitUntil(lambda: app.last_spoken is not None, timeout=60_000)
    assert "Paul" in app.last_spoken, app.last_spoken
    photo.close()

    dialog.show()
    dialog.rename("Paul", "Paul Rudd")
    assert dialog.names() == ["Paul Rudd"]
    assert FaceGallery.load().names() == ["Paul Rudd"]
    dialog.remove("Paul Rudd")
    assert dialog.names() == []
    assert FaceGallery.load().names() == []
    qtbot.waitUntil(lambda: heard(spy, "their face data is erased"), timeout=10_000)


def test_people_dialog_enrols_from_the_webcam_with_spoken_guidance(make_app, spy, qtbot, faces_dir, tmp_path):
    import cv2

    from engine.capture import load_image
    from engine.settings import Settings

    # A video file is the camera here: the same face for every guidance step, as a person holding still.
    face = load_image(faces_dir / "kate_siegel.jpg").image
    height = 360
    width = round(face.shape[1] * height / face.shape[0])
    frame = cv2.resize(face, (width, height), interpolation=cv2.INTER_AREA)
    video = write_video(tmp_path / "camera.avi", [frame] * 240)
    settings = Settings.load()
    settings.set("webcam_device", str(video))
    settings.save()

    app = make_app(stage_loader=load_stages)
    app.run_action("people")
    dialog = app._dialogs["people"]
    dialog.add_from_webcam("Kate")
    qtbot.waitUntil(lambda: dialog.names() == ["Kate"], timeout=120_000)
    qtbot.waitUntil(lambda: heard(spy, "Done. Kate is enrolled with"), timeout=10_000)
    assert any(kind == "state" and text == "Look straight at the camera." for kind, text in app.messages.history)
    person = FaceGallery.load().find("Kate")
    assert person is not None and len(person.embeddings) >= 2

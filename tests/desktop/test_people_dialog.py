"""The People dialog with real face photos: add from files (on the worker), rename, remove; then a describe of
the real screen names the enrolled person shown on it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
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

    # A photo of somebody else for Paul: asked first; No leaves Paul as he was.
    dialog.add_from_files("Paul", [str(faces_dir / "angelina_jolie.jpg")])
    qtbot.waitUntil(lambda: dialog.question is not None, timeout=60_000)
    qtbot.waitUntil(lambda: heard(spy, "This face does not look like Paul's other pictures. Add it anyway?"),
                    timeout=5000)
    box = dialog.question
    qtbot.waitExposed(box)
    screenshot("people_dialog_doubtful_face")
    QTest.keyClick(box, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: heard(spy, "Nothing was added."), timeout=10_000)
    assert len(FaceGallery.load().find("Paul").embeddings) == 1

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
    from engine.capture import load_image
    from engine.settings import Settings
    from tests.engine.faces.scenes import turned_head

    # A video file is the camera here: the head turns a little after each instruction (the dialog waits 30
    # frames after each one, so each pose lasts 40).
    face = load_image(faces_dir / "kate_siegel.jpg").image
    frames = [turned_head(face, angle) for angle in (0, 20, -20, 12, -12) for _ in range(40)]
    video = write_video(tmp_path / "camera.avi", frames)
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


def test_a_face_of_a_group_photo_is_chosen_by_keyboard_alone(make_app, spy, qtbot, faces_dir):
    app = make_app(stage_loader=load_stages)
    app.run_action("people")
    dialog = app._dialogs["people"]
    dialog.add_from_files("Kate", [str(faces_dir / "kate_siegel.jpg")])
    qtbot.waitUntil(lambda: dialog.names() == ["Kate"], timeout=60_000)

    dialog.add_from_files("Mia", [str(faces_dir / "multiface.jpg")])
    qtbot.waitUntil(lambda: dialog.question is not None, timeout=60_000)
    chooser = dialog.question
    qtbot.waitExposed(chooser)
    chooser.activateWindow()
    qtbot.waitUntil(chooser.isActiveWindow, timeout=5000)
    qtbot.waitUntil(lambda: heard(spy, "Face 1 of 6: on the left, near,"), timeout=5000)
    assert heard(spy, "multiface.jpg shows 6 faces. Choose Mia's face")
    QTest.keyClick(chooser, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: heard(spy, "That is the first face."), timeout=5000)
    QTest.keyClick(chooser, Qt.Key.Key_N)
    QTest.keyClick(chooser, Qt.Key.Key_Down)
    assert chooser.current.text().startswith("Face 3 of 6: in the centre"), (chooser.index, spy.spoken)
    QTest.keyClick(chooser, Qt.Key.Key_P, Qt.KeyboardModifier.AltModifier)
    qtbot.waitUntil(lambda: spy.spoken[-1].startswith("Face 2 of 6: in the centre"), timeout=5000)
    screenshot("face_chooser")
    QTest.keyClick(chooser, Qt.Key.Key_T)
    qtbot.waitUntil(lambda: dialog.names() == ["Kate", "Mia"], timeout=60_000)
    qtbot.waitUntil(lambda: heard(spy, "Mia is enrolled with 1 face picture"), timeout=10_000)
    from engine.faces import load_face_stage
    from tests.engine.faces.scenes import load_rgb

    named = [p.name for p in load_face_stage().identify(load_rgb(faces_dir, "multiface"))]
    assert named == [None, "Mia", None, None, None, None], (named, chooser.chosen, spy.spoken[-6:])

    # After Rename the selection stays on the renamed person (the next Remove must not ask about Kate).
    dialog.list.setCurrentRow(1)
    dialog.rename("Mia", "Mia Rossi")
    assert dialog.names() == ["Kate", "Mia Rossi"] and dialog._selected() == "Mia Rossi"

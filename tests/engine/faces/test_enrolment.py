"""The enrolment checks with the real photos: a wrong face is doubted (and named when it is somebody enrolled), a
picture is never stored twice, a face is chosen by number or side, and webcam enrolment notices a still head."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from engine.errors import InputError
from engine.faces.enrolment import (
    DoubtfulFace,
    FaceChoiceNeeded,
    commit,
    prepare_from_photos,
    prepare_from_webcam,
)
from engine.faces.gallery import FaceGallery
from engine.frames import Frame
from tests.engine.faces.scenes import load_rgb, scene, turned_head


def _photo(faces_dir: Path, name: str) -> str:
    return str(faces_dir / f"{name}.jpg")


def _add(identifier, name: str, *paths: str, force: bool = False, wanted=None) -> str:
    pending = prepare_from_photos(identifier, name, list(paths), wanted=wanted)
    return commit(identifier.gallery, pending, keep_thumbnails=False, force=force)


def test_a_face_unlike_the_persons_other_pictures_is_doubted_and_added_only_when_forced(identifier, faces_dir):
    assert _add(identifier, "Paul", _photo(faces_dir, "paul_rudd")) == "Paul is enrolled with 1 face picture."
    with pytest.raises(DoubtfulFace) as doubt:
        _add(identifier, "paul", _photo(faces_dir, "angelina_jolie"))
    assert str(doubt.value) == "This face does not look like Paul's other pictures. Add it anyway with --force."
    assert len(FaceGallery.load().find("Paul").embeddings) == 1  # nothing was saved
    assert _add(identifier, "Paul", _photo(faces_dir, "angelina_jolie"), force=True) == \
        "Paul is enrolled with 2 face pictures."


def test_a_face_that_matches_somebody_else_names_them(identifier, faces_dir):
    _add(identifier, "Angelina", _photo(faces_dir, "angelina_jolie"))
    _add(identifier, "Paul", _photo(faces_dir, "paul_rudd"))
    with pytest.raises(DoubtfulFace) as doubt:
        _add(identifier, "Paul", _photo(faces_dir, "angelina_jolie"))
    assert "does not look like Paul's other pictures; it looks like Angelina." in str(doubt.value)
    with pytest.raises(DoubtfulFace) as new_name:
        _add(identifier, "Mia", _photo(faces_dir, "angelina_jolie"))
    assert "This face looks like Angelina, who is already enrolled." in str(new_name.value)
    # Two photos of different people for one new name: the second does not look like the first.
    with pytest.raises(DoubtfulFace) as mixed:
        _add(identifier, "Kate", _photo(faces_dir, "kate_siegel"), _photo(faces_dir, "shea_whigham"))
    assert "does not look like Kate's other pictures" in str(mixed.value)
    assert FaceGallery.load().names() == ["Angelina", "Paul"]


def test_the_same_picture_is_not_added_twice_but_another_view_is(identifier, faces_dir, tmp_path):
    paul = _photo(faces_dir, "paul_rudd")
    _add(identifier, "Paul", paul)
    assert _add(identifier, "Paul", paul) == "Paul already has this picture; nothing was added (1 face picture in all)."
    flipped = tmp_path / "paul_flipped.png"
    cv2.imwrite(str(flipped), cv2.imread(paul)[:, ::-1])
    said = _add(identifier, "Paul", paul, str(flipped))
    assert said == "Paul is enrolled with 2 face pictures. One picture was already there and was not added twice."
    assert len(FaceGallery.load().find("Paul").embeddings) == 2


def test_a_face_is_chosen_by_number_or_side_and_a_group_photo_asks(identifier, faces_dir, tmp_path):
    people = [load_rgb(faces_dir, name) for name in ("kate_siegel", "paul_rudd", "shea_whigham")]
    group = tmp_path / "three.png"
    frame = scene((1200, 500), [(people[0], 0.15, 300), (people[1], 0.5, 300), (people[2], 0.85, 300)])
    cv2.imwrite(str(group), np.ascontiguousarray(frame[:, :, ::-1]))
    with pytest.raises(FaceChoiceNeeded) as asked:
        prepare_from_photos(identifier, "Paul", [str(group)])
    photo = asked.value.photo
    assert [face.seen.position for face in photo.faces] == ["left", "centre", "right"]
    assert photo.choice_sentence(1).startswith("Face 2 of 3: in the centre, close, ")
    assert "--face left, centre or right" in str(asked.value)
    _add(identifier, "Paul", str(group), wanted="centre")
    _add(identifier, "Shea", str(group), wanted="RIGHT")
    _add(identifier, "Kate", str(group), wanted=1)
    # The choices now say whom each face already looks like.
    with pytest.raises(FaceChoiceNeeded) as again:
        prepare_from_photos(identifier, "Someone", [str(group)])
    assert again.value.photo.choice_sentence(2).endswith("looks like Shea.")
    named = [seen.name for seen in identifier.identify(frame)]
    assert named == ["Kate", "Paul", "Shea"]
    with pytest.raises(InputError, match="no face is on the left"):
        _add(identifier, "Paul", _photo(faces_dir, "paul_rudd"), wanted="left")
    with pytest.raises(InputError, match="not a face number or a side"):
        _add(identifier, "Paul", str(group), wanted="top")


def _frames(images: list[np.ndarray], each: int) -> list[Frame]:
    return [Frame(image, "webcam") for image in images for _ in range(each)]


def test_webcam_enrolment_notices_a_head_that_never_moves(identifier, faces_dir):
    shea = load_rgb(faces_dir, "shea_whigham")
    heard: list[str] = []
    still = iter(_frames([turned_head(shea, 0)], 40))
    with pytest.raises(InputError) as refused:
        prepare_from_webcam(identifier, "Shea", still, heard.append, settle_frames=2)
    assert "Your head did not move between the instructions" in str(refused.value)
    assert heard.count("Your head did not move, so I skipped that picture.") >= 1

    heard.clear()
    poses = [turned_head(shea, angle) for angle in (0, 20, -20, 12, -12)]
    moving = iter(_frames(poses, 6))
    pending = prepare_from_webcam(identifier, "Shea", moving, heard.append, settle_frames=2)
    assert len(pending.faces) == 5 and not pending.doubts, heard
    assert "Your head did not move, so I skipped that picture." not in heard

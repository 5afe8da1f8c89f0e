"""The people file: private, atomic, versioned, backed up; damage is reported and set aside, never lost."""

from __future__ import annotations

import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import pytest

from engine.errors import DataError
from engine.faces import load_face_stage
from engine.faces.gallery import FaceGallery, people_file
from tests.conftest import ROOT
from tests.engine.faces.conftest import enrol


def _vectors(count: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(count, 128)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def _saved(*names: str) -> FaceGallery:
    gallery = FaceGallery()
    for number, name in enumerate(names):
        gallery.add(name, _vectors(2, number))
    gallery.save()
    return gallery


def test_round_trip_with_format_version_and_private_mode():
    gallery = _saved("Mia", "Tom")
    again = FaceGallery.load()
    assert again.names() == ["Mia", "Tom"] and again.problem is None
    np.testing.assert_allclose(again.find("mia").embeddings, gallery.find("Mia").embeddings, atol=1e-6)
    document = json.loads(people_file().read_text())
    assert document["format"] == "spacevoice-people" and document["version"] == 1
    if os.name == "posix":
        assert stat.S_IMODE(people_file().stat().st_mode) == 0o600
        assert stat.S_IMODE(people_file().parent.stat().st_mode) == 0o700


def test_the_previous_version_is_kept_as_a_backup():
    _saved("Mia")
    gallery = FaceGallery.load()
    gallery.add("Tom", _vectors(1, 5))
    gallery.save()
    assert FaceGallery.load(people_file().with_name("people.json.bak")).names() == ["Mia"]
    assert FaceGallery.load().names() == ["Mia", "Tom"]


def test_a_damaged_file_is_set_aside_and_the_backup_restored():
    _saved("Mia")
    gallery = FaceGallery.load()
    gallery.add("Tom", _vectors(1, 5))
    gallery.save()
    damaged = people_file().read_bytes()[:-40]  # a truncated file, as a full disk leaves it
    people_file().write_bytes(damaged)
    loaded = FaceGallery.load()
    assert loaded.names() == ["Mia"]
    assert "damaged" in loaded.problem and "previous copy (1 person)" in loaded.problem
    (aside,) = people_file().parent.glob("people.json.damaged-*")
    assert aside.read_bytes() == damaged  # set aside byte for byte, never overwritten
    assert FaceGallery.load().names() == ["Mia"] and FaceGallery.load().problem is None  # restored in place


def test_damage_without_a_usable_backup_starts_empty_and_keeps_both_damaged_files():
    people_file().parent.mkdir(parents=True)
    people_file().write_text("{not json")
    first = FaceGallery.load()
    assert first.people == [] and "nobody is enrolled now" in first.problem
    people_file().write_text('{"format": "spacevoice-people", "version": 1, "people": [{"name": "A"}]}')
    FaceGallery.load()
    contents = sorted(p.read_text() for p in people_file().parent.glob("people.json.damaged-*"))
    assert len(contents) == 2 and "{not json" in contents


def test_a_newer_format_is_refused_and_left_alone_but_describe_goes_on(face_models, photos):
    people_file().parent.mkdir(parents=True)
    newer = json.dumps({"format": "spacevoice-people", "version": 99, "people": []})
    people_file().write_text(newer)
    with pytest.raises(DataError, match="newer version"):
        FaceGallery.load()
    stage = load_face_stage()
    assert "newer version" in stage.gallery.problem
    assert [p.name for p in stage.identify(photos["paul_rudd"])] == [None]
    with pytest.raises(DataError):
        stage.gallery.save()
    assert people_file().read_text() == newer


def test_describe_goes_on_with_a_damaged_people_file(photos, caplog):
    people_file().parent.mkdir(parents=True)
    people_file().write_bytes(b"\x00" * 100)
    with caplog.at_level(logging.WARNING):
        stage = load_face_stage()
    assert "damaged" in caplog.text
    assert len(stage.identify(photos["multiface"])) == 6


def test_removing_a_person_erases_embeddings_thumbnails_and_backup_copies(identifier, photos):
    enrol(identifier, "Paul", photos["paul_rudd"])
    found = identifier.analyse(photos["shea_whigham"])[0]
    identifier.gallery.add("Shea", found.embedding[None], [found.crop])
    identifier.gallery.save()
    identifier.gallery.add("Paul", _vectors(1))  # one more save: the backup now also holds Shea
    identifier.gallery.save()
    (thumbnail,) = identifier.gallery.thumbnails_dir.iterdir()
    assert stat.S_IMODE(thumbnail.stat().st_mode) == 0o600 or os.name != "posix"
    shea_vector = found.embedding.astype("<f4").tobytes()
    identifier.gallery.remove("shea")
    identifier.gallery.save()
    assert not list(identifier.gallery.thumbnails_dir.iterdir())
    for path in (people_file(), identifier.gallery.backup_path):
        text = path.read_text()
        assert "Shea" not in text
        assert shea_vector not in b"".join(
            __import__("base64").b64decode(v) for p in json.loads(text)["people"] for v in p["embeddings"]
        )
    assert [p.name for p in load_face_stage().identify(photos["shea_whigham"])] == [None]


def test_rename_leaves_no_old_name_behind():
    _saved("Mia")
    gallery = FaceGallery.load()
    gallery.rename("mia", "Mia Rossi")
    gallery.save()
    assert FaceGallery.load().names() == ["Mia Rossi"]
    assert "\"Mia\"" not in gallery.backup_path.read_text()


_WRITER = """
import sys, numpy as np
from engine.faces.gallery import FaceGallery
gallery = FaceGallery.load()
rng = np.random.default_rng(int(sys.argv[1]))
for step in range(100000):
    gallery.people = gallery.people[-20:]
    gallery.add(f"Person {step}", rng.normal(size=(3, 128)))
    gallery.save()
    print(step, flush=True)
"""


def test_the_gallery_survives_a_writer_killed_mid_write():
    _saved("Mia")
    rng = random.Random(7)
    for round_number in range(6):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(round_number)], cwd=ROOT,
                                  stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert writer.stdout is not None
        for _ in range(rng.randint(3, 30)):  # let it complete a few saves, then kill it at a random moment
            last_saved = int(writer.stdout.readline())
        time.sleep(rng.uniform(0, 0.02))
        writer.send_signal(signal.SIGKILL)
        writer.wait()
        gallery = FaceGallery.load()
        assert gallery.problem is None, gallery.problem
        newest = int(gallery.names()[-1].split()[-1])
        assert newest >= last_saved  # every save it reported is there, or a later one
        assert FaceGallery.load(gallery.backup_path).problem is None
        assert not list(people_file().parent.glob("people.json.damaged-*"))
    assert len(FaceGallery.load().people) > 1


def test_names_never_reach_info_logs(identifier, photos, caplog):
    secret = "Zebulon Quirke"
    with caplog.at_level(logging.DEBUG):
        enrol(identifier, secret, photos["paul_rudd"])
        identifier.gallery.save()
        seen = identifier.identify(photos["paul_rudd"])
        FaceGallery.load()
    assert [p.name for p in seen] == [secret]
    assert any(secret in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG)  # it is logged...
    assert not any(secret in r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)  # ...only there


def test_a_running_stage_sees_people_enrolled_by_another_program(photos):
    stage = load_face_stage()  # as the tray holds it
    assert [p.name for p in stage.identify(photos["paul_rudd"])] == [None]
    other = FaceGallery.load()  # as `people add` in another process does
    other.add("Paul", stage.analyse(photos["paul_rudd"])[0].embedding[None])
    other.save()
    assert [p.name for p in stage.identify(photos["paul_rudd"])] == ["Paul"]
    again = FaceGallery.load()
    again.remove("Paul")
    again.save()
    assert [p.name for p in stage.identify(photos["paul_rudd"])] == [None]


def test_two_programs_saving_keep_each_others_changes():
    _saved("Mia")
    tray, command = FaceGallery.load(), FaceGallery.load()  # both read the same file
    tray.add("Tom", _vectors(1, 1))
    tray.save()
    command.add("Ann", _vectors(1, 2))
    command.save()
    assert FaceGallery.load().names() == ["Mia", "Tom", "Ann"]
    tray.remove("Mia")  # the tray has not seen Ann
    tray.save()
    assert FaceGallery.load().names() == ["Tom", "Ann"]
    command.rename("Ann", "Anna")  # the command still holds Mia, which the tray removed
    command.save()
    assert sorted(FaceGallery.load().names()) == ["Anna", "Tom"]
    backup = people_file().with_name("people.json.bak").read_text()
    assert "Mia" not in backup and '"Ann"' not in backup


_ADDER = """
import sys, numpy as np
from engine.faces.gallery import FaceGallery
gallery = FaceGallery.load()
rng = np.random.default_rng(abs(hash(sys.argv[1])) % 1000)
for step in range(12):
    gallery.add(f"{sys.argv[1]} {step}", rng.normal(size=(1, 128)))
    gallery.save()
"""


def test_concurrent_writers_lose_nobody():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", _ADDER, prefix], cwd=ROOT, env=env) for prefix in "AB"]
    assert [w.wait(120) for w in writers] == [0, 0]
    names = FaceGallery.load().names()
    assert sorted(names) == sorted(f"{prefix} {step}" for prefix in "AB" for step in range(12))

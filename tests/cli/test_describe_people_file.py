"""A damaged people file never stops a description: the user is told once, in plain words, and keeps the rest."""

import json


def test_describe_with_a_damaged_people_file_warns_and_still_describes(main_cli, spacevoice_home, faces_dir):
    for name, photo in (("Paul", "paul_rudd.jpg"), ("Kate", "kate_siegel.jpg")):
        added = main_cli("people", "add", name, str(faces_dir / photo))
        assert added.returncode == 0, added.stderr
    people = spacevoice_home / "data" / "people.json"
    people.write_bytes(b"\x00garbage from a crashed disk")
    result = main_cli("describe", "--image", str(faces_dir / "paul_rudd.jpg"), "--json", "--no-speech")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert any("file of enrolled people was damaged" in w for w in payload["warnings"])
    # The previous copy of the people file (saved before Kate was added) still names Paul.
    assert [p["name"] for p in payload["people"]] == ["Paul"]
    assert any(p.name.startswith("people.json") and p.name != "people.json" for p in people.parent.iterdir())

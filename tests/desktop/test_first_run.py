"""First run: the tray offers the recommended models, downloads them (verified) from a real HTTP server on
127.0.0.1 with progress, and keeps working; the offer is made once."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from engine.settings import Settings
from tests.desktop.conftest import heard, screenshot

pytestmark = pytest.mark.gui


THROTTLE = {"seconds_per_64k": 0.0}


class QuietHandler(SimpleHTTPRequestHandler):
    """Serves files; with a throttle set, slowly (a download long enough to be stopped)."""

    def log_message(self, format, *args):
        pass

    def copyfile(self, source, outputfile):
        while True:
            piece = source.read(65536)
            if not piece:
                return
            try:
                outputfile.write(piece)
                if THROTTLE["seconds_per_64k"]:
                    outputfile.flush()
                    time.sleep(THROTTLE["seconds_per_64k"])
            except (BrokenPipeError, ConnectionResetError):
                return  # the client stopped the download: what the Stop test wants


@pytest.fixture
def model_server(tmp_path, monkeypatch):
    """A catalogue with one small scene model, served over HTTP from 127.0.0.1 in the hub's folder layout."""
    files = {"config.json": b'{"model_type": "tiny"}', "onnx/model.onnx": bytes(range(256)) * 4096}
    served = tmp_path / "mirror"
    for path, data in files.items():
        target = served / "test" / "tiny-scene" / "resolve" / "main" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    catalogue = {"schema": 1, "models": [{
        "name": "tiny-scene", "task": "image-to-text", "repo": "test/tiny-scene", "revision": "main",
        "url": "https://huggingface.co/{repo}/resolve/{revision}/{path}", "licence": "MIT",
        "description": "test model",
        "files": [{"path": p, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)} for p, d in files.items()],
    }]}
    catalogue_file = tmp_path / "models.json"
    catalogue_file.write_text(json.dumps(catalogue))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(served)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("SPACEVOICE_CATALOGUE", str(catalogue_file))
    monkeypatch.setenv("SPACEVOICE_MODEL_MIRROR", f"http://127.0.0.1:{server.server_address[1]}")
    settings = Settings.load()
    settings.set("captioner", "tiny-scene")
    settings.save()
    yield files
    server.shutdown()


def test_first_run_offers_downloads_with_progress_and_keeps_working(make_app, spy, qtbot, model_server):
    from engine.models import ModelStore

    app = make_app(offer_models=True)
    qtbot.waitUntil(lambda: app.offer is not None and app.offer.question is not None, timeout=30_000)
    question = app.offer.question
    qtbot.waitExposed(question)
    assert "tiny-scene (1 MB)" in question.text()
    qtbot.waitUntil(lambda: heard(spy, "Download it now?"), timeout=10_000)
    screenshot("first_run_offer")
    progress_seen: list[int] = []
    app.worker.download_progress.connect(lambda label, done, total: progress_seen.append(done))
    app.offer.accept()
    qtbot.waitUntil(lambda: heard(spy, "Downloaded tiny-scene."), timeout=60_000)
    assert progress_seen and max(progress_seen) == len(model_server["onnx/model.onnx"])
    progress = app.offer.progress
    assert progress is not None and not progress.isVisible()
    assert progress.labelText().endswith("1.0 of 1.0 MB")
    store = ModelStore.from_settings(Settings.load())
    assert store.state("tiny-scene") == "installed"
    assert (store.folder("tiny-scene") / "onnx" / "model.onnx").read_bytes() == model_server["onnx/model.onnx"]
    # The recognisers reload after the download and the app is ready again.
    qtbot.waitUntil(lambda: app.messages.status == "Ready", timeout=60_000)
    assert ("state", "Stopped") not in app.messages.history  # closing the progress dialog is no Cancel


def test_the_offer_is_made_only_once(make_app, spy, qtbot, model_server):
    from desktop.model_offer import offer_pending

    first = make_app(offer_models=True)
    qtbot.waitUntil(lambda: first.offer is not None, timeout=30_000)
    first.offer.question.done(0)  # "No": SpaceVoice goes on without the model
    assert not offer_pending()
    first.shutdown()
    second = make_app(offer_models=True)
    qtbot.wait(300)
    assert second.offer is None
    assert Path(Settings.load().path).exists()


def test_stop_ends_a_download_in_progress(make_app, spy, qtbot, model_server, monkeypatch):
    from engine.models import ModelStore

    monkeypatch.setitem(THROTTLE, "seconds_per_64k", 0.15)
    app = make_app(offer_models=True)
    qtbot.waitUntil(lambda: app.offer is not None and app.offer.question is not None, timeout=30_000)
    progress_seen: list[int] = []
    app.worker.download_progress.connect(lambda label, done, total: progress_seen.append(done))
    app.offer.accept()
    qtbot.waitUntil(lambda: any(0 < done < 1048576 for done in progress_seen), timeout=30_000)
    app.run_action("stop")
    qtbot.waitUntil(lambda: heard(spy, "The download was stopped"), timeout=30_000)
    assert not heard(spy, "Downloaded tiny-scene.")
    assert ModelStore.from_settings(Settings.load()).state("tiny-scene") != "installed"
    assert not app.offer.progress.isVisible()

"""Speaking through the screen reader's speech server: a real speech-dispatcher (its espeak-ng module, a private
socket and configuration, audio into the paced sink) receives SpaceVoice's words through Prism, interrupt rules
hold, and Stop silences it; whether a screen reader runs is read from a real accessibility bus launcher."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from engine.speech.base import SpeechSpy
from engine.speech.narrator import Narrator, SilentOutput
from engine.speech.screen_reader import ScreenReader, linux_screen_reader_enabled, running_screen_reader
from engine.speech.speech_route import SpeechRoute
from tests.engine.speech.audio_sink import PacedListener, paced_sink

SPEECHD = shutil.which("speech-dispatcher")
pytestmark = pytest.mark.skipif(SPEECHD is None and not os.environ.get("CI"),
                                reason="speech-dispatcher is not installed (scripts/bootstrap.sh installs it)")

LONG = ("This is a long answer that SpaceVoice reads through the screen reader's own speech server. "
        "It goes on for many sentences, so that stopping it early can be told apart from its natural end. ") * 6

CONF = """LogLevel 5
LogDir "{log}"
AddModule "espeak-ng" "sd_espeak-ng" "espeak-ng.conf"
DefaultModule espeak-ng
AudioOutputMethod "alsa"
"""


@dataclass
class Dispatcher:
    """A running private speech-dispatcher: its log (every SSIP line at level 5) and the sink that hears it."""

    log: Path
    listener: PacedListener

    def received(self) -> list[str]:
        """The SSIP lines clients sent it, in order ("STOP SELF", the texts, ...)."""
        entries: list[str] = []
        for line in self.log.read_text(errors="replace").splitlines() if self.log.exists() else []:
            if line.startswith("[") or not entries:
                entries.append(line)
            else:  # a text of several lines is logged as one entry over several lines
                entries[-1] += "\n" + line
        # Each entry is "...:DATA:|TEXT" and then a line "| (LENGTH)".
        return [re.sub(r"\n\| \(\d+\)$", "", entry.split(":DATA:|", 1)[1].replace("\r", ""))
                for entry in entries if ":DATA:|" in entry]


@pytest.fixture
def dispatcher(monkeypatch: pytest.MonkeyPatch) -> Iterator[Dispatcher]:
    """speech-dispatcher on a private socket with a private configuration, speaking into the paced sink."""
    assert SPEECHD is not None, "speech-dispatcher is not installed"
    folder = Path(tempfile.mkdtemp(prefix="sv-speechd-"))  # short: a socket path is limited to 108 bytes
    env, listener = paced_sink(folder / "sink")
    conf = folder / "conf"
    (conf / "modules").mkdir(parents=True)
    (folder / "log").mkdir()
    (conf / "speechd.conf").write_text(CONF.format(log=folder / "log"))
    shutil.copy("/etc/speech-dispatcher/modules/espeak-ng.conf", conf / "modules")
    socket = folder / "speechd.sock"
    server = subprocess.Popen([SPEECHD, "-s", "-t", "0", "-C", str(conf), "-c", "unix_socket", "-S", str(socket),
                               "-P", str(folder / "pid"), "-L", str(folder / "log"), "-l", "5"],
                              env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while not socket.exists():
        assert server.poll() is None and time.monotonic() < deadline, "speech-dispatcher did not start"
        time.sleep(0.05)
    monkeypatch.setenv("SPEECHD_ADDRESS", f"unix_socket:{socket}")
    try:
        yield Dispatcher(folder / "log" / "speech-dispatcher.log", listener)
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        listener.release()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _own_voice() -> tuple[Narrator, SpeechSpy]:
    spy = SpeechSpy()
    return Narrator(spy, output=SilentOutput()), spy


def test_words_reach_the_speech_server_interrupts_follow_the_rules_and_stop_silences(dispatcher: Dispatcher) -> None:
    narrator, spy = _own_voice()
    route = SpeechRoute(narrator, "screen_reader", detect=lambda: None)
    try:
        assert route.wait_resolved(60)
        assert route.screen_reader and not route.own and route.reader_name == "Speech Dispatcher"
        route.speak("Loading the scene model.", interrupt=False)  # background states: no interruption
        assert _wait(lambda: "Loading the scene model." in dispatcher.received())
        route.speak("Ready.", interrupt=False)
        assert _wait(lambda: "Ready." in dispatcher.received())
        route.speak(LONG, interrupt=True)  # the user's own request: what SpaceVoice said before is dropped
        assert _wait(lambda: LONG.strip() in dispatcher.received()), dispatcher.received()[-10:]
        sent = dispatcher.received()
        ready, answer = sent.index("Ready."), sent.index(LONG.strip())
        assert "STOP SELF" not in sent[:ready]  # the background states interrupted nothing
        assert "STOP SELF" in sent[ready:answer]  # the answer did
        assert _wait(lambda: len(dispatcher.listener.audible) > 20), "the server's espeak-ng was never heard"
        time.sleep(1.0)
        stopped_at = time.perf_counter()
        route.stop()
        assert time.perf_counter() - stopped_at < 0.5  # the caller (the GUI thread) never waits on the server
        assert _wait(lambda: dispatcher.received().count("STOP SELF") >= 2, timeout=30), "Stop never reached it"
        listener = dispatcher.listener
        # Wait until the sink has been quiet for 2 s (or 30 s passed): the server drains what it had buffered.
        _wait(lambda: time.perf_counter() - listener.audible[-1] > 2.0, timeout=30)
        heard = listener.audible[-1] - listener.audible[0]
        natural = len(LONG.split()) / 175 * 60  # espeak-ng's default 175 words a minute: about a minute
        print(f"speech-dispatcher: last sound {listener.audible[-1] - stopped_at:.2f} s after Stop, "
              f"{heard:.1f} s heard of about {natural:.0f} s")
        # The server's espeak-ng module and its ALSA output still play what they had buffered (1.4-2.3 s after
        # Stop on a quiet machine, more under load), so the check is "ended long before its natural end".
        assert heard < natural / 2, f"heard {heard:.1f} s of a {natural:.0f} s text after Stop"
        assert spy.spoken == []  # the own voice said nothing
    finally:
        route.close()
        narrator.close()


def test_both_speaks_in_the_own_voice_and_through_the_server(dispatcher: Dispatcher) -> None:
    narrator, spy = _own_voice()
    route = SpeechRoute(narrator, "both", detect=lambda: None)
    try:
        assert route.wait_resolved(60) and route.own and route.screen_reader
        route.speak("Mia is on the left, close.")
        assert _wait(lambda: "Mia is on the left, close." in dispatcher.received())
        assert _wait(lambda: spy.spoken == ["Mia is on the left, close."])
        assert route.describe() == ("Speaking through SpaceVoice's own voice and the screen reader (Speech "
                                    "Dispatcher) (Speak through: both).")
    finally:
        route.close()
        narrator.close()


def test_no_screen_reader_to_reach_means_the_own_voice_speaks_and_says_why(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SPEECHD_ADDRESS", f"unix_socket:{tmp_path / 'nobody-listens.sock'}")
    notices: list[str] = []
    narrator, spy = _own_voice()
    route = SpeechRoute(narrator, "screen_reader", detect=lambda: None, on_notice=notices.append)
    try:
        assert route.wait_resolved(60) and route.own and not route.screen_reader
        route.speak("Ready.")
        assert _wait(lambda: spy.spoken == ["Ready."])
        assert notices == ["No screen reader answered (NVDA, JAWS, Orca or speech-dispatcher). Start your screen "
                           "reader, or choose Speak through: own voice in Settings. SpaceVoice's own voice speaks "
                           "instead."]
        with pytest.raises(Exception, match="No screen reader answered"):
            ScreenReader()
    finally:
        route.close()
        narrator.close()


@pytest.mark.skipif(not os.path.exists("/usr/libexec/at-spi-bus-launcher") and not os.environ.get("CI"),
                    reason="at-spi2-core is not installed")
def test_auto_follows_the_accessibility_bus_screen_reader_flag(monkeypatch) -> None:
    from jeepney import DBusAddress, Properties
    from jeepney.io.blocking import open_dbus_connection

    from tests.desktop.portal_double import start_bus

    bus, address = start_bus()
    launcher = subprocess.Popen(["/usr/libexec/at-spi-bus-launcher", "--launch-immediately"],
                                # GSettings in memory: the launcher mirrors the flag into the user's dconf otherwise.
                                env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": address, "GSETTINGS_BACKEND": "memory"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", address)
    try:
        status = DBusAddress("/org/a11y/bus", bus_name="org.a11y.Bus", interface="org.a11y.Status")
        with open_dbus_connection(bus=address) as connection:
            assert _wait(lambda: connection.send_and_get_reply(
                Properties(status).get("IsEnabled"), timeout=2).header.message_type.name == "method_return", 10)
            assert linux_screen_reader_enabled() is False and running_screen_reader() is None
            narrator, _ = _own_voice()
            route = SpeechRoute(narrator, "auto", open_reader=lambda: FakeReaderForRouteOnly())
            assert route.wait_resolved(30) and route.own and not route.screen_reader
            connection.send_and_get_reply(Properties(status).set("ScreenReaderEnabled", "b", True), timeout=2)
            assert linux_screen_reader_enabled() is True and running_screen_reader() == "a screen reader"
            route.set_mode("auto")  # settings applied again: looks again
            assert route.wait_resolved(30) and route.screen_reader and not route.own
            route.close()
            narrator.close()
    finally:
        for process in (launcher, bus):
            process.terminate()
            process.wait(10)


class FakeReaderForRouteOnly:
    """Stands in for the connection in the detection test only (the real one is tested against speech-dispatcher
    above): what is checked here is that ``auto`` follows the accessibility bus flag."""

    name = "test reader"

    def speak(self, text: str, *, interrupt: bool) -> None:
        """Nothing to speak to."""

    def stop(self) -> None:
        """Nothing to stop."""

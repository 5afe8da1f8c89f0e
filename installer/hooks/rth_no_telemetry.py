"""PyInstaller runtime hook: runs before any of the frozen app's own code, so onnxruntime, whoever imports it
first, loads with its telemetry off (no device id and event queue in ~/.cache/Microsoft, no DNS queries).
engine/privacy.py explains the switch; engine/__init__ and main.py set it too for runs from source."""

import os

os.environ["ORT_DISABLE_TELEMETRY"] = "1"

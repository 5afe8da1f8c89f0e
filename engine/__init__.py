"""SpaceVoice engine: capture, recognise and speak. Imports no Qt, ever.

The engine is usable from a plain script::

    from engine.capture import capture_image
    from engine.describe import describe_frame
    print(describe_frame(capture_image("photo.jpg")).spoken)
"""

__version__ = "0.1.0"

# Before anything in the engine (or a script using it) can load onnxruntime: its telemetry stays off.
from engine.privacy import disable_onnxruntime_telemetry as _disable_onnxruntime_telemetry

_disable_onnxruntime_telemetry()

"""SpaceVoice engine: capture, recognise and speak. Imports no Qt, ever.

The engine is usable from a plain script::

    from engine.capture import capture_image
    from engine.describe import describe_frame
    print(describe_frame(capture_image("photo.jpg")).spoken)
"""

__version__ = "0.1.0"

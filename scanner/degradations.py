"""The degradations a synthetic frame may suffer, and how often each is drawn by default.

Only names and probabilities, kept apart from the renderer (scanner/render.py, which
describes each one and needs OpenCV, numpy and segno) so that a ``synthetic:`` URL's
``degrade=`` option can be checked without loading any of them (``gate config check``).
"""

from __future__ import annotations

#: name -> probability that a frame gets it (the default mix of ``synthetic:`` frames,
#: the decode benchmark and the demo)
DEGRADATIONS: dict[str, float] = {
    "perspective": 0.7,
    "motion_blur": 0.3,
    "defocus": 0.3,
    "noise": 0.8,
    "glare": 0.25,
    "low_contrast": 0.3,
    "dark_mode": 0.15,
    "moire": 0.2,
    "occlusion": 0.15,
    "jpeg": 0.4,
}

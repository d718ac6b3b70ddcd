"""The steward's console (``gate steward``): a terminal screen beside the lane.

It shows what the lane decides and lets a steward open the turnstile once or change the
lane mode, and it talks to the lane daemon only through the control socket
(docs/control.md), so a console that hangs or crashes never touches the lane.

Textual is imported by ``app`` and the screen modules only. ``reasons_text`` (the words
for each reason and alarm, shared with docs/stewards.md) and ``view`` (what the screen
shows, as plain data) import no Textual, so the docs generator and the unit tests of the
wording run where Textual is not installed, and ``gate.steward`` itself loads nothing.
"""

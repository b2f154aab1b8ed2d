"""The app's console without Gradio's stray debug line.

Gradio's route for a custom component's files (``gradio/routes.py``, ``custom_component_path``)
prints ``id=<hash>, environment=client, type=component, file_name=<file>`` for each file it
serves: five lines for every page load, since the box editor is a custom component
(gradio_image_annotation). Hundreds of them buried what the console is for (errors, the share
link, Ultralytics' training output). ``quiet_stdout`` drops exactly those lines; everything else
passes through unchanged.
"""

from __future__ import annotations

import re
import sys
import threading
from typing import TextIO

STRAY = re.compile(r"id=[0-9a-f]+, environment=(client|server), type=[^,\n]*, file_name=[^\n]*")


class QuietConsole:
    """A text stream that passes everything to ``stream`` but Gradio's stray line. ``print`` writes
    a line and its newline in two calls: the newline after a dropped line is dropped too (per
    thread: requests print from several)."""

    def __init__(self, stream: TextIO):
        self._stream = stream
        self._after_dropped = threading.local()

    def write(self, text: str) -> int:
        dropped = getattr(self._after_dropped, "line", False)
        self._after_dropped.line = False
        if STRAY.fullmatch(text.rstrip("\n")):
            self._after_dropped.line = not text.endswith("\n")
            return len(text)
        if dropped and text == "\n":
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str):  # flush, fileno, isatty, encoding, buffer ...
        return getattr(self._stream, name)


def quiet_stdout() -> None:
    """Install the filter on ``sys.stdout`` (once; the app calls it at start)."""
    if not isinstance(sys.stdout, QuietConsole):
        sys.stdout = QuietConsole(sys.stdout)

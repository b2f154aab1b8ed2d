"""events.jsonl: one JSON object a line, the record every view of a run is drawn from.

    {"t": unix_time, "run": id, "type": "epoch" | "batch" | "log" | "status", ...}

The trainer appends (``EventLog``); the app, the CLI and other processes read from an offset
(``read_events``), so a page reload, a second browser or a run started by another process all
see the same run.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

EVENT_TYPES = ("epoch", "batch", "log", "status")


class EventLog:
    """Appends events to a run's events.jsonl and hands each to an optional subscriber.

    ``path`` None (a torchrun rank other than 0) drops every event: one writer per run.
    """

    def __init__(self, path: Path | None, run_id: str, subscriber: Callable[[dict], None] | None = None):
        self.path = Path(path) if path is not None else None
        self.run_id = run_id
        self.subscriber = subscriber
        self._lock = threading.Lock()  # the log handler and trainer callbacks may race

    def write(self, type: str, **fields: Any) -> dict:
        if type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {type!r}")
        event = {"t": time.time(), "run": self.run_id, "type": type, **fields}
        if self.path is None:
            return event
        line = json.dumps(event, default=float, ensure_ascii=False)
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
        if self.subscriber:
            self.subscriber(event)
        return event


def read_events(path: Path, offset: int = 0) -> tuple[list[dict], int]:
    """Events appended since byte ``offset``, and the offset to read from next time.

    A line still being written (no newline yet) is left for the next read.
    """
    path = Path(path)
    if not path.is_file():
        return [], offset
    with open(path, "rb") as f:
        f.seek(offset)
        chunk = f.read()
    end = chunk.rfind(b"\n") + 1
    events = [json.loads(line) for line in chunk[:end].splitlines() if line.strip()]
    return events, offset + end

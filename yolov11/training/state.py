"""Which checkpoint of a run's weights folder a resume continues from.

Kept apart from ``resume`` (which launches training) so the crash repair of the workspace can
ask whether a dead run is resumable without importing the trainer.
"""

from __future__ import annotations

from pathlib import Path

from yolov11 import checkpoints
from yolov11.errors import UserError

RESUME_FILE = "resume.pt"  # weights/ copy of last.pt with optimizer state, for resume


def training_state(weights: Path) -> tuple[Path, dict]:
    """The checkpoint in a run's ``weights`` folder that a resume continues from, and its
    contents: resume.pt first, else last.pt; a file that cannot be read (a crash during its save)
    is passed over for the other. UserError saying why when there is none."""
    unreadable = []
    for path in (weights / RESUME_FILE, weights / "last.pt"):
        if path.is_file():
            try:
                ckpt = checkpoints.load(path, "resume")
            except UserError as exc:
                unreadable.append(str(exc))
                continue
            if ckpt.get("optimizer") is not None and ckpt.get("epoch", -1) >= 0:
                return path, ckpt
    why = f" ({'; '.join(unreadable)})" if unreadable else ""
    raise UserError(f"no training state to resume in {weights}{why} (start a new run with --weights {weights / 'last.pt'})")

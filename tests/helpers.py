"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GUARD_DIR = Path(__file__).resolve().parent / "netguard"  # the network guard's sitecustomize


def netguard_log() -> str:
    """What the network guard has refused so far in this test session (all processes)."""
    path = Path(os.environ["NETGUARD_LOG"])
    return path.read_text() if path.exists() else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(workspace, **launch):
    """The app on ``workspace``, served on a free port for the block (``launch``: auth=...);
    yields its URL."""
    import app

    blocks = app.build_app(workspace)
    _, url, _ = app.serve(blocks, port=free_port(), prevent_thread_lock=True, **launch)
    try:
        yield url
    finally:
        blocks.close()


def write_yolo_folder(dest: Path, n_images: int = 16, size: int = 96, seed: int = 1) -> Path:
    """A small folder in YOLO layout drawn by the demo generator."""
    from yolov11.data.demo import write_demo

    write_demo(dest, n_images=n_images, size=size, seed=seed, val_fraction=0.25)
    return dest


def zip_folder(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(folder.parent))
    return dest

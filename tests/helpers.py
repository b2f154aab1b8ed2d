"""Helpers the tests share (fixtures live in conftest.py)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
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


def start_app(env: dict, cwd: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """``python app.py`` in its own process on a free port (``env`` its whole environment, what it
    prints written to ``log``); returns the process and its URL at once (``wait_serving`` waits)."""
    port = free_port()
    with open(log, "w") as out:  # the child keeps its own copy of the handle
        proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--port", str(port)], cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}/"


def wait_serving(proc: subprocess.Popen, url: str, log: Path, seconds: float = 180) -> None:
    """Until the app at ``url`` answers; what it printed is the error when it exits first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited: {log.read_text()[-3000:]}") from None
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"app.py did not start serving within {seconds:.0f} s")


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


def write_yard_frames(folder: Path, frames: dict[str, int], seeds: dict[str, int], top: int = 40, step: int = 60) -> Path:
    """A YOLO folder of 640x384 "yard" frames, each holding four 128 px demo scenes at their native
    scale on grey (scene k at x = 20 + 150 k, y = top + step * (k % 3)) with their labels moved into
    the frame: ``frames[split]`` frames per split, drawn with ``seeds[split]``."""
    import numpy as np
    from PIL import Image

    from yolov11.data.demo import draw_image

    for split, n in frames.items():
        (folder / "images" / split).mkdir(parents=True)
        (folder / "labels" / split).mkdir(parents=True)
        for f in range(n):
            frame, lines = np.full((384, 640, 3), 128, np.uint8), []
            for k in range(4):
                image, rows = draw_image(seeds[split], 4 * f + k, size=128)
                x, y = 20 + 150 * k, top + step * (k % 3)
                frame[y:y + 128, x:x + 128] = np.asarray(image.convert("RGB"))
                lines += [f"{int(c)} {(x + cx * 128) / 640:.6f} {(y + cy * 128) / 384:.6f} {w * 128 / 640:.6f} {h * 128 / 384:.6f}"
                          for c, cx, cy, w, h in rows]
            Image.fromarray(frame).save(folder / "images" / split / f"yard{f}.png")
            (folder / "labels" / split / f"yard{f}.txt").write_text("\n".join(lines) + "\n")
    (folder / "data.yaml").write_text("names: [helmet, head, vest]\ntrain: images/train\nval: images/val\n")
    return folder

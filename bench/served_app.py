"""``python app.py`` in a subprocess on a free port and a fresh workspace, for the benches that
measure the app from outside (chart latency, status under load)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def served_app(prefix: str) -> Iterator[tuple[str, Path]]:
    """Yields (url, workspace) once the app answers; stops it and deletes the workspace afterwards
    (a run's folder is some 50 MB: they piled up in the temp folder)."""
    ws = Path(tempfile.mkdtemp(prefix=prefix))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "YOLOV11_WORKSPACE": str(ws), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    console = tempfile.TemporaryFile("w+")  # what it prints, told if it dies while starting
    app = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env, stdout=console, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(360):
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if app.poll() is not None:  # it died starting (a broken import): say why, not "connection refused" later
                    console.seek(0)
                    raise RuntimeError(f"app.py exited with {app.returncode}: {console.read()[-2000:]}") from None
                time.sleep(0.5)
        else:
            raise RuntimeError(f"app.py did not answer at {url} within 180 s")
        yield url, ws
    finally:
        stop(app)
        console.close()
        shutil.rmtree(ws, ignore_errors=True)


def stop(proc: subprocess.Popen) -> None:
    """Ask a served app to stop; kill it if it has not within 30 s."""
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()

"""Start-up: seconds from ``python app.py`` to an answer on ``/config``, on a workspace that
already holds the demo set (target: 8 s on a warm venv), against a baseline measured in the same
run: a Gradio app of one Markdown started the same way (the floor of Python + Gradio).

    python bench/startup.py [--repeats 5]

Alternates app and baseline, prints the median and range of each and their ratio.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import report  # bench/ is the script's folder, so on sys.path
from served_app import stop

TARGET_S = 8.0

ROOT = Path(__file__).resolve().parents[1]

BASELINE = "import gradio as gr\nwith gr.Blocks() as b:\n    gr.Markdown('hello')\nb.launch(server_port=int(__import__('sys').argv[1]))\n"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_to_config(argv: list[str], port: int, env: dict) -> float:
    """Start ``argv`` and time until http://127.0.0.1:port/config answers; then stop it."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t0 < 300:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=2)
                return time.perf_counter() - t0
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError(f"{argv[1]} exited with {proc.returncode}") from None
                time.sleep(0.05)
        raise RuntimeError(f"{argv[1]} did not serve within 300 s")
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    report.add_json_flag(ap)
    args = ap.parse_args()
    report.start(args)
    ws = Path(tempfile.mkdtemp(prefix="bench-startup-")) / "workspace"
    env = {**os.environ, "YOLOV11_WORKSPACE": str(ws), "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
           "GRADIO_ANALYTICS_ENABLED": "False"}
    # as `make run` does first
    subprocess.run([sys.executable, "-m", "yolov11", "demo"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    baseline = Path(ws.parent / "baseline_app.py")
    baseline.write_text(BASELINE)
    app, base = [], []
    for _ in range(args.repeats):  # alternating, so a busy moment costs both alike
        port = _port()
        app.append(seconds_to_config([sys.executable, "app.py", "--port", str(port)], port, env))
        port = _port()
        base.append(seconds_to_config([sys.executable, str(baseline), str(port)], port, env))
    for name, xs in (("app.py (demo set in the workspace)", app), ("baseline: one-Markdown Gradio app", base)):
        print(f"{name:40s} median {statistics.median(xs):5.2f} s  range {min(xs):5.2f}-{max(xs):5.2f} s  (n={len(xs)})")
    print(f"ratio app / baseline: {statistics.median(app) / statistics.median(base):.2f}  (target: app median <= 8 s)")
    med = statistics.median(app)
    figures = [
        report.figure("start-up: python app.py to /config", med, "s", baseline=statistics.median(base),
                      baseline_name="one-Markdown Gradio app", ratio=med / statistics.median(base), ratio_of="app / baseline medians",
                      target=f"app median <= {TARGET_S:g} s", met=med <= TARGET_S,
                      samples=app, note="spread of the app's seconds; demo set in the workspace"),
        report.figure("start-up: baseline Gradio app", statistics.median(base), "s", samples=base),
    ]
    report.finish(args, "startup", figures,
                  [f"pairs alternate app, baseline; per-pair ratios {', '.join(f'{a / b:.2f}' for a, b in zip(app, base))}"])


if __name__ == "__main__":
    main()

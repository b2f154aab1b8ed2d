"""The app starts without loading torch or Ultralytics: they wait for the first event that
needs them (bench/startup.py measures the seconds; this guards what the first page loads)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from helpers import ROOT

PROBE = """
import json, sys
import yolov11
after_import = sorted(m for m in ("torch", "ultralytics") if m in sys.modules)
import app
blocks = app.build_app(sys.argv[1])
after_build = sorted(m for m in ("torch", "ultralytics") if m in sys.modules)
print(json.dumps({"import": after_import, "build": after_build}))
"""


def test_import_and_building_the_app_load_neither_torch_nor_ultralytics(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLOV11_WORKSPACE": str(tmp_path / "ws")}
    proc = subprocess.run([sys.executable, "-c", PROBE, str(tmp_path / "ws")], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded["import"] == [], loaded  # `import yolov11` stays light (notebooks, the CLI's help)
    assert loaded["build"] == [], loaded  # the first page needs none of them


def test_the_first_ultralytics_use_still_prepares_the_offline_guards(tmp_path):
    """Deferred is not skipped: the first call that needs Ultralytics installs the patches."""
    code = (
        "import yolov11, sys\n"
        "yolov11.list_models(scales='n')\n"
        "from ultralytics.data import utils\n"
        "assert getattr(utils.check_det_dataset, 'yolov11_no_download', False), 'dataset download not disabled'\n"
        "import os; assert os.environ['YOLO_OFFLINE'] == '1'\n"
        "print('ok')\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "YOLOV11_WORKSPACE": str(tmp_path / "ws")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().endswith("ok")

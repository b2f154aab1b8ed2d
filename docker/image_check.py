"""Build the container image here and check it from the inside: ``make image-check``.

No Docker engine is needed: Debian's ``mmdebstrap`` makes a bare Debian base (python3 and its venv
module only, no torch), ``podman import`` turns it into a local image, ``buildah bud`` (chroot
isolation, vfs storage) builds the project's Dockerfile FROM it, and ``buildah run`` runs the
image's own CMD and HEALTHCHECK inside it. Every command in the image runs in a network namespace
of its own with only loopback up (``unshare -n``): the checks pass with nothing reachable beyond
the container, and the first check proves that nothing is.

pip inside the build uses this machine's pip settings (``pip config list``: indexes, wheel
folders, constraints, certificate), passed as the build secret ``pip.conf`` with the local folders
they name mounted read-only for the build; none of it is copied into the image.

Prints each check's result and the image's size; exits 1 when a check fails, 2 when the build
cannot start (a missing tool, too little disk). Takes minutes and ~30 GB of free disk (the vfs
driver copies every layer): NOT part of ``make test``. The image, its containers and the base
are removed afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGE = "localhost/yolov11:check"
BASE_IMAGE = "localhost/yolov11-base:bookworm"
BASE_PACKAGES = "python3,python3-venv,ca-certificates"
TOOLS = {"mmdebstrap": "mmdebstrap", "buildah": "buildah", "podman": "podman", "unshare": "util-linux", "ip": "iproute2"}
NEED_GB = 32  # free disk the build needs: measured peak use 30 GB (build container + image + check container, vfs)
APP_WAIT_S = 240  # the app's first start: imports, the demo dataset
STORAGE = ["--storage-driver", "vfs"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keep", action="store_true", help="keep the image and its base afterwards")
    args = ap.parse_args(argv)
    if problem := missing_tools() or too_little_disk():
        print(f"image-check: {problem}", file=sys.stderr)
        return 2
    results: list[tuple[str, bool, str]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="yolov11-image-check-") as tmp:
        tmp = Path(tmp)
        try:
            print(f"build context: {context_size_mb(ROOT):.1f} MB after .dockerignore", flush=True)
            make_base(tmp)
            build(tmp)
            size = image_size()
            print(f"image {IMAGE}: {size}", flush=True)
            results = run_checks(tmp)
        except subprocess.CalledProcessError as exc:
            results.append(("build", False, f"{shlex.join(map(str, exc.cmd))[:200]} exited with {exc.returncode}"))
            size = "not built"
        finally:
            if not args.keep:
                clean()
    print(f"\nimage-check: {len(results)} checks, image {size}, {time.time() - started:.0f} s")
    for name, ok, detail in results:
        print(f"  {'PASS' if ok else 'FAIL'}  {name}: {detail}")
    return 0 if results and all(ok for _, ok, _ in results) else 1


def missing_tools() -> str:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if not missing:
        return ""
    packages = sorted({TOOLS[t] for t in missing})
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print(f"installing {' '.join(packages)} (apt-get)", flush=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages], check=False,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        missing = [t for t in TOOLS if shutil.which(t) is None]
    return f"missing {', '.join(missing)}: sudo apt-get install -y {' '.join(packages)}" if missing else ""


def too_little_disk() -> str:
    root = Path(storage_root())
    while not root.exists():
        root = root.parent
    free = shutil.disk_usage(root).free / 1e9
    return f"{free:.0f} GB free under {root}: the build needs about {NEED_GB} GB (vfs copies every layer)" if free < NEED_GB else ""


def storage_root() -> str:
    out = subprocess.run(["buildah", *STORAGE, "info"], capture_output=True, text=True)
    try:
        return json.loads(out.stdout)["store"]["GraphRoot"]
    except (ValueError, KeyError):
        return "/var/lib/containers/storage"


def context_size_mb(root: Path) -> float:
    """What the build context sends, .dockerignore applied (its patterns as written: folder names
    and ``**`` globs)."""
    patterns = [p.strip().rstrip("/") for p in (root / ".dockerignore").read_text().splitlines() if p.strip() and not p.startswith("#")]

    def ignored(rel: str) -> bool:
        return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.replace("**/", "")) or rel.split("/")[0] == p for p in patterns)

    total = 0
    for folder, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(folder, root)
        dirs[:] = [d for d in dirs if not ignored(os.path.normpath(os.path.join(rel_dir, d)))]
        total += sum((Path(folder) / f).stat().st_size for f in files if not ignored(os.path.normpath(os.path.join(rel_dir, f))))
    return total / 1e6


def make_base(tmp: Path) -> None:
    tar = tmp / "base.tar"
    print(f"mmdebstrap: a bare Debian bookworm ({BASE_PACKAGES})", flush=True)
    subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", f"--include={BASE_PACKAGES}", "bookworm", str(tar)], check=True)
    subprocess.run(["podman", *STORAGE, "import", "--quiet", str(tar), BASE_IMAGE], check=True, stdout=subprocess.DEVNULL)


def pip_settings(tmp: Path) -> tuple[Path, list[str]]:
    """This machine's pip settings as one pip.conf, and the local paths they name (to mount)."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
    settings: dict[str, str] = {}
    for line in out.splitlines():  # "global.find-links='/opt/wheels'", ":env:.cert='...'" (the environment wins)
        key, _, value = line.partition("=")
        scope, _, name = key.rpartition(".")
        if name and (scope in ("global", ":env:", "install") or name not in settings):
            settings[name] = value.strip("'\"")
    settings.pop("disable-pip-version-check", None)
    conf = tmp / "pip.conf"
    conf.write_text("[global]\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))
    paths = {w.removeprefix("file://") for v in settings.values() for w in v.split()}  # wheel folders, file:// indexes, files
    return conf, sorted(p for p in paths if p.startswith("/") and Path(p).exists())


def build(tmp: Path) -> None:
    conf, paths = pip_settings(tmp)
    roots = sorted({_mount_root(p) for p in paths})
    print(f"buildah bud FROM {BASE_IMAGE} (this machine's pip settings; mounted read-only for the build: {', '.join(roots)})", flush=True)
    subprocess.run(
        ["buildah", *STORAGE, "bud", "--isolation", "chroot", "--format", "docker", "--layers=false", "--quiet",
         "--build-arg", f"BASE={BASE_IMAGE}", "--secret", f"id=pip.conf,src={conf}", *[a for r in roots for a in ("-v", f"{r}:{r}:ro")],
         "-t", IMAGE, str(ROOT)],
        check=True,
    )


def _mount_root(path: str) -> str:
    """A folder index names /opt/pypi/simple but its links reach /opt/pypi/files: mount the top folder
    under /opt, /srv, /mnt or /home; a file (a certificate, a constraints file) as itself."""
    parts = Path(path).parts
    if len(parts) > 2 and parts[1] in ("opt", "srv", "mnt", "home") and Path(path).is_dir():
        return str(Path(*parts[:3]))
    return path


def image_size() -> str:
    out = subprocess.run(["buildah", *STORAGE, "images", "--format", "{{.Size}}", IMAGE], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _config(field: str):
    """A field of the image's Docker config (Cmd, Healthcheck, User)."""
    out = subprocess.run(["buildah", *STORAGE, "inspect", "--type", "image", IMAGE], capture_output=True, text=True, check=True)
    return json.loads(out.stdout)["Docker"]["config"][field]


def run_checks(tmp: Path) -> list[tuple[str, bool, str]]:
    workspace = tmp / "workspace"
    workspace.mkdir()
    os.chown(workspace, 1000, 1000)  # the volume as the image's user finds it (a named volume takes the image's ownership)
    container = subprocess.run(["buildah", *STORAGE, "from", "--quiet", IMAGE], capture_output=True, text=True, check=True).stdout.strip()
    test, cmd, user = _config("Healthcheck")["Test"], _config("Cmd"), _config("User")
    health = test[1:] if test[0] == "CMD" else ["sh", "-c", test[1]]  # exec form, or CMD-SHELL
    results = [
        ("HEALTHCHECK and CMD use the venv's python", health[0].startswith("/opt/yolov11/") and cmd[0].startswith("/opt/yolov11/"),
         f"{health[0]}; {cmd[0]}"),
        ("image USER", user.split(":")[0] == "1000", f"USER {user}"),
    ]
    inside = (Path(__file__).parent / "inside_checks.py").read_text()
    for start in (1, 2):
        print(f"start {start}: {shlex.join(cmd)} on the workspace volume, no network", flush=True)
        proc = subprocess.run(
            ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
             "buildah", *STORAGE, "run", "--isolation", "chroot", "-v", f"{workspace}:/workspace", container, "--",
             cmd[0], "-c", inside, str(start), json.dumps(cmd), json.dumps(health), str(APP_WAIT_S)],
            capture_output=True, text=True, timeout=APP_WAIT_S + 1200,
        )
        found = [json.loads(line[len("CHECK "):]) for line in proc.stdout.splitlines() if line.startswith("CHECK ")]
        results += [(f"start {start}: {c['name']}", c["ok"], c["detail"]) for c in found]
        if not found or proc.returncode != 0:
            said = (proc.stderr or proc.stdout).strip()[-400:]
            results.append((f"start {start} ran to its end", False, said or f"exit {proc.returncode}"))
    subprocess.run(["buildah", *STORAGE, "rm", container], capture_output=True)
    return results


def clean() -> None:
    subprocess.run(["buildah", *STORAGE, "rm", "--all"], capture_output=True)
    subprocess.run(["buildah", *STORAGE, "rmi", "--force", IMAGE, BASE_IMAGE], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())

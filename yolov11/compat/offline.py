"""Prepare Ultralytics to run with no network, before anything imports it.

This is the one place that knows how Ultralytics reaches the network and switches each path
off. Every yolov11 function that uses Ultralytics calls ``prepare()`` first (idempotent), and
imports Ultralytics only after it; ``prepare()`` sets up:

* environment: ``YOLO_OFFLINE`` (no online checks), ``YOLO_AUTOINSTALL=false`` (no pip
  installs at run time), ``YOLO_CONFIG_DIR`` inside the workspace (settings and fonts live
  with the data, not in ``~/.config``, where they would change the user's own Ultralytics
  settings; ``config_dir``), Gradio/HF telemetry off;
* settings: ``sync`` (anonymous events) and every logging integration that talks to a service
  off (TensorBoard, which only writes event files into the run folder, on), datasets/runs/
  weights directories pointed into the workspace;
* fonts: ``Arial.ttf`` and ``Arial.Unicode.ttf`` resolved to local files (DejaVu Sans that
  matplotlib ships, and a packaged Noto Sans CJK so Chinese class names render) and matplotlib
  told about the CJK font, so no plot ever downloads a font, and to read no mathtext in labels
  (a class name is text: "$$x$$" would fail the plot);
* datasets: a data.yaml's ``download:`` (a URL, or Python that Ultralytics exec()s) is never run;
* checkpoints: every ``.pt`` Ultralytics opens goes through torch's restricted unpickler
  (``yolov11/checkpoints.py``, installed through ``when_prepared``), so a pickled payload cannot run;
* OpenVINO / NNCF telemetry: ``NNCF_CI`` set, which makes NNCF use its telemetry stub, and
  ``openvino_telemetry`` (what ``import openvino`` and ``convert_model`` report to Google
  Analytics unless a consent file in ``~/intel`` says no) told the user declined and left with a
  sender that sends nothing; no consent or client-id file is written;
* AMP check: Ultralytics downloads ``yolo26n.pt`` to compare fp32 and fp16 outputs; ours
  compares the model being trained instead, so it never needs a download.

Relies on: ``utils.ONLINE`` / ``checks.ONLINE`` / ``events.ONLINE``, ``checks.AUTOINSTALL``,
``utils.SETTINGS`` keys (sync, the integrations, datasets/runs/weights dirs), the font file names
``Arial.ttf`` / ``Arial.Unicode.ttf`` in the config dir, ``checks.check_amp`` and the trainer
module's own reference to it, ``data.utils.check_det_dataset`` and the references of
``engine.trainer`` / ``validator`` / ``exporter`` to it. Beyond Ultralytics: ``NNCF_CI`` (nncf's
telemetry switch), ``openvino_telemetry``'s ``OptInChecker.check`` / ``ConsentCheckResult`` and
``TelemetrySender.send`` (each ``Telemetry.init`` asks the first; every event goes through the second).

The workspace is read from ``YOLOV11_WORKSPACE`` when ``prepare()`` first runs: entry points
that take ``--workspace`` (the app, the CLI) set that variable before calling the API. Without
it, the default ``./workspace`` when it already is a workspace, else (a script or a notebook
calling ``yolov11.train(..., workspace=WS)``) a folder of the user's cache: ``prepare()`` never
creates ``./workspace`` in the current folder.
If Ultralytics was imported before ``prepare()`` (a notebook, say), its online flags are
switched off in place; its config dir then stays where it was.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from yolov11.workspace.paths import default_root

LOG = logging.getLogger("yolov11")

# Integrations Ultralytics can switch on from settings; each would log to a service.
_INTEGRATIONS = ("clearml", "comet", "dvc", "mlflow", "raytune", "tensorboard", "wandb")
_CJK_PROBE = "安全帽"  # "hard hat": a font that draws these draws Chinese class names


def config_dir() -> Path:
    """Where Ultralytics keeps settings.json and fonts: inside the process's workspace when it
    names one (``YOLOV11_WORKSPACE``) or ``./workspace`` already is one (the app and the CLI open
    their default workspace before anything prepares), else ``yolov11/ultralytics`` in the user's
    cache folder (``XDG_CACHE_HOME``, else ``~/.cache``): the API takes a workspace per call, so
    before the first call there is none to pick, and a ``./workspace`` nobody asked for would
    appear wherever a script or a notebook runs."""
    if os.environ.get("YOLOV11_WORKSPACE") or (default_root() / "registry.sqlite").is_file():
        return default_root() / ".ultralytics"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "yolov11" / "ultralytics"


def _writable(folder: Path) -> Path:
    """``folder``, created; a private temporary folder where it cannot be (a read-only home)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if os.access(folder, os.W_OK):
            return folder
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="yolov11-ultralytics-"))


def _set_environment() -> None:
    os.environ["YOLO_OFFLINE"] = "1"
    os.environ["YOLO_AUTOINSTALL"] = "false"
    if not os.environ.get("YOLO_CONFIG_DIR"):
        os.environ["YOLO_CONFIG_DIR"] = str(_writable(config_dir()))
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("NNCF_CI", "1")  # nncf: its telemetry becomes a stub (read when nncf is imported)
    os.environ.setdefault("MPLBACKEND", "Agg")  # plots are written to files; no display here


def _latin_font() -> Path:
    """DejaVu Sans, which matplotlib (an Ultralytics dependency) always ships."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"


def _covers(font: Path, text: str) -> bool:
    from fontTools.ttLib import TTFont

    try:
        cmap = TTFont(str(font), lazy=True, fontNumber=0).getBestCmap() or {}
    except Exception:  # an unreadable font file is simply not a candidate
        return False
    return all(ord(ch) in cmap for ch in text)


def cjk_font() -> Path | None:
    """A local font that draws Chinese: the packaged Noto Sans CJK, else a system font."""
    spec = importlib.util.find_spec("cvttf_NotoSansCJK_Regular")
    if spec and spec.submodule_search_locations:
        for folder in spec.submodule_search_locations:
            for f in sorted(Path(folder).glob("*.otf")):
                return f
    for folder in ("/usr/share/fonts", "/usr/local/share/fonts"):
        for f in sorted(Path(folder).rglob("*")) if Path(folder).is_dir() else []:
            if f.suffix.lower() in {".ttf", ".otf", ".ttc"} and _covers(f, _CJK_PROBE):
                return f
    return None


def _place_font(src: Path, dest: Path) -> None:
    if dest.exists() or dest.is_symlink():
        if dest.resolve() == src.resolve():
            return
        dest.unlink()
    try:
        dest.symlink_to(src)
    except OSError:  # filesystems without symlinks (some Docker volumes, Windows)
        shutil.copyfile(src, dest)


def _plain_text_in_plots() -> None:
    """Class names are a user's text: matplotlib (Ultralytics' plots of labels, confusion matrices,
    curves) must not read "$...$" in one as mathtext, which fails the whole plot on "$$x$$"."""
    from matplotlib import rcParams

    rcParams["text.parse_math"] = False


def _prepare_fonts(cfg: Path) -> None:
    _plain_text_in_plots()
    cfg.mkdir(parents=True, exist_ok=True)
    latin = _latin_font()
    cjk = cjk_font()
    _place_font(latin, cfg / "Arial.ttf")
    _place_font(cjk or latin, cfg / "Arial.Unicode.ttf")
    if cjk is None:
        LOG.warning("no CJK font found: non-Latin class names draw as boxes (pip install cvttf-NotoSansCJK-Regular)")
        return
    from matplotlib import font_manager, rcParams

    font_manager.fontManager.addfont(str(cjk))
    name = font_manager.FontProperties(fname=str(cjk)).get_name()
    rcParams["font.sans-serif"] = ["DejaVu Sans", name, *rcParams["font.sans-serif"]]


def _offline_check_amp(model) -> bool:
    """Replacement for Ultralytics' check_amp that needs no downloaded weights.

    Runs the model being trained once in fp32 and once under autocast on the same input and
    accepts AMP when both give finite outputs of the same shape that agree loosely. CPU and MPS
    never use AMP, as in Ultralytics.
    """
    device = next(model.parameters()).device
    if device.type != "cuda":
        return False
    ok = autocast_agrees(model, "cuda")
    LOG.info("AMP check %s (offline, on the model itself)", "passed" if ok else "failed: training in fp32")
    return ok


def autocast_agrees(model, device_type: str, dtype=None) -> bool:
    """Whether ``model`` gives, under autocast on ``device_type`` (``dtype``: its low precision),
    finite outputs of the same shape that loosely agree with full precision on the same input."""
    import torch

    device = next(model.parameters()).device
    was_training = model.training
    try:
        model.eval()
        x = torch.rand(1, 3, 256, 256, device=device)
        with torch.no_grad():
            ref = model(x)
            with torch.autocast(device_type, dtype=dtype):
                low = model(x)
        ref = ref[0] if isinstance(ref, (list, tuple)) else ref
        low = low[0] if isinstance(low, (list, tuple)) else low
        return bool(ref.shape == low.shape and torch.isfinite(low).all() and torch.allclose(ref, low.float(), atol=0.5, rtol=0.05))
    except Exception as exc:  # any failure means: do not trust AMP here
        LOG.warning("AMP check failed (%s): training in fp32", exc)
        return False
    finally:
        model.train(was_training)


def _patch_ultralytics() -> None:
    import ultralytics.utils as uutils
    from ultralytics.engine import trainer
    from ultralytics.utils import SETTINGS, checks, events

    uutils.ONLINE = checks.ONLINE = events.ONLINE = False  # if imported before YOLO_OFFLINE was set
    checks.AUTOINSTALL = False

    ws = default_root()
    wanted = {key: key == "tensorboard" for key in _INTEGRATIONS}  # TensorBoard writes local files only
    wanted.update(sync=False, datasets_dir=str(ws / "datasets"), runs_dir=str(ws / "runs"), weights_dir=str(ws / "weights"))
    if any(SETTINGS.get(k) != v for k, v in wanted.items()):
        SETTINGS.update(wanted)
    checks.check_amp = trainer.check_amp = _offline_check_amp
    _never_autodownload()
    from yolov11.compat.export import openvino_at_f32

    openvino_at_f32()  # Ultralytics' OpenVINO predictions at the precision exports are verified at


def when_prepared(hook: Callable[[], None]) -> None:
    """Run ``hook`` once ``prepare()`` has patched Ultralytics, before any caller goes on (at once,
    when it already has). This is how the floors above the fence install themselves into it
    without the fence importing them: the checkpoint gate (``yolov11.checkpoints``: every .pt
    through torch's restricted unpickler), our layers in Ultralytics' YAML parser
    (``yolov11.nn.registered``) and OpenVINO's telemetry switch (``yolov11.export.formats``).
    Each registers at import, and ``import yolov11`` imports them all."""
    with _lock:
        if hook in _hooks:
            return
        _hooks.append(hook)
        ready = _patched
    if ready:
        hook()


def _never_autodownload() -> None:
    """Ultralytics' check_det_dataset runs a data.yaml's ``download:`` field when the images are
    missing: a URL to fetch, or Python to exec(). A data.yaml comes from whoever wrote the
    dataset, so it is never run: every caller of check_det_dataset gets autodownload=False."""
    import functools

    from ultralytics.data import utils as data_utils
    from ultralytics.engine import exporter, trainer, validator

    original = data_utils.check_det_dataset
    if getattr(original, "yolov11_no_download", False):
        return

    @functools.wraps(original)
    def check_det_dataset(dataset, autodownload=True, split=""):
        return original(dataset, autodownload=False, split=split)

    check_det_dataset.yolov11_no_download = True
    for module in (data_utils, trainer, validator, exporter):
        module.check_det_dataset = check_det_dataset


_prepared = False
_patched = False  # Ultralytics patched, hooks running (a hook that calls prepare() returns at once)
_environment_ready = False
_lock = threading.RLock()  # the app's event threads may reach their first Ultralytics call together
_hooks: list[Callable[[], None]] = []


def prepare_environment() -> None:
    """The part of ``prepare`` that imports nothing: the offline and telemetry-off variables
    (huggingface_hub, which Gradio imports, reads them at import) and the fonts. The app calls
    this at start and leaves Ultralytics (and torch) to the first event that needs them."""
    global _environment_ready
    with _lock:
        if _environment_ready:
            return
        _set_environment()
        _prepare_fonts(Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics")
        _environment_ready = True


def prepare() -> None:
    """Make the process network-free for Ultralytics, then run the hooks (``when_prepared``); safe
    to call more than once, from any thread: a second thread waits until the hooks have run."""
    global _prepared, _patched
    if _prepared:
        return
    prepare_environment()
    with _lock:
        if _prepared or _patched:
            return
        _patch_ultralytics()
        _patched = True
        try:
            for hook in list(_hooks):
                hook()
        except BaseException:
            _patched = False  # the next call tries again (each hook is idempotent): never half prepared
            raise
        _prepared = True

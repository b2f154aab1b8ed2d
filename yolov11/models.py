"""The model zoo: names like ``yolov11n`` resolve to graphs in ``yolov11/cfg/models``.

A name is ``<family><scale>[-<variant>]`` as in Ultralytics (``yolov11n``, ``yolov11s``):
the scale letter picks the row of the YAML's ``scales`` table. ``--model`` also takes a YAML
path or a ``.pt`` checkpoint. Ultralytics reads the scale from the file stem, so a zoo name
resolves to the path ``cfg/models/<name>.yaml``, which Ultralytics maps to the family file.
"""

from __future__ import annotations

import re
import statistics
import time
from functools import lru_cache
from pathlib import Path

from yolov11 import checkpoints, offline
from yolov11.errors import UserError
from yolov11.safe_yaml import load_yaml

CFG_DIR = Path(__file__).parent / "cfg" / "models"
SCALES = "nsmlx"
_NAME = re.compile(r"^(?P<family>yolov11)(?P<scale>[nsmlx])(?P<variant>-[a-z0-9]+)?$")
DESCRIPTIONS = {
    "yolov11": "Ultralytics YOLO11 detection graph (C3k2 backbone, SPPF, C2PSA attention, P3-P5 outputs)",
    "yolov11-cbam": "YOLO11 with CBAM channel + spatial attention on each neck output",
    "yolov11-head": "YOLO11 with AttnDetect: CBAM on each level inside the detection head",
    "yolov11-p2": "YOLO11 with an extra stride-4 (P2) output for small objects",
    "yolov11-spp": "YOLO11 with SPPFWide: parallel 5/9/13 max-pools instead of SPPF",
}


def zoo_names() -> list[str]:
    """Every zoo model name, family by family, scales n..x."""
    names = []
    for yaml_file in sorted(CFG_DIR.glob("*.yaml"), key=lambda p: ("-" in p.stem, p.stem)):  # stock family first
        family, _, variant = yaml_file.stem.partition("-")
        names += [f"{family}{s}{'-' + variant if variant else ''}" for s in SCALES]
    return names


def resolve_model(model: str | Path) -> str:
    """A zoo name, YAML path or .pt path -> what ``ultralytics.YOLO`` takes."""
    text = str(model)
    match = _NAME.match(text)
    if match:
        family_file = CFG_DIR / f"{match['family']}{match['variant'] or ''}.yaml"
        if family_file.is_file():
            return str(CFG_DIR / f"{text}.yaml")
    path = Path(text).expanduser()
    if path.suffix in {".yaml", ".yml", ".pt"}:
        if not path.is_file():
            raise UserError(f"--model {text}: file not found")
        return str(path.resolve())
    raise UserError(f"--model {text}: not a zoo model ({', '.join(zoo_names()[:5])}, ...), a .yaml or a .pt file")


MAX_PARAMS = 500_000_000  # yolov11x has 57M; a graph 10x that does not train on any one GPU here
MAX_DEPTH_MULTIPLE = 3.0  # yolov11x uses 1.0: deeper repeats every block 3x
MAX_WIDTH_MULTIPLE = 4.0  # yolov11x uses 1.5
MAX_REPEATS = 64  # a row's block count n (after depth_multiple)
MAX_CLASSES = 10_000


def _bounded(value: object, low: float, high: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and low < value <= high


def check_model_yaml(path: Path, field: str = "--model") -> dict:
    """A user's model YAML, read safely and checked before anything is built: the rows are
    [from, n, module, args], the multipliers and repeats within bounds, the activation a torch.nn
    layer (Ultralytics eval()s it), and the graph buildable under MAX_PARAMS (sized on the meta
    device, so nothing is allocated). Returns the document; UserError names what is wrong."""
    where = f"{field} {path.name}"
    doc = load_yaml(path, where)
    if not isinstance(doc, dict) or not all(isinstance(doc.get(k), list) and doc.get(k) for k in ("backbone", "head")):
        raise UserError(f"{where}: not a model YAML (needs 'backbone' and 'head' lists of [from, n, module, args] rows)")
    for i, row in enumerate(doc["backbone"] + doc["head"]):
        if not (isinstance(row, list) and len(row) == 4 and isinstance(row[1], int) and isinstance(row[2], str) and isinstance(row[3], list)):
            raise UserError(f"{where}: row {i} {str(row)[:80]}: expected [from, n, module, [args]]")
        if not 1 <= row[1] <= MAX_REPEATS:
            raise UserError(f"{where}: row {i} repeats its block {row[1]} times (1 to {MAX_REPEATS})")
    for key, high in (("depth_multiple", MAX_DEPTH_MULTIPLE), ("width_multiple", MAX_WIDTH_MULTIPLE)):
        if key in doc and not _bounded(doc[key], 0, high):
            raise UserError(f"{where}: {key} {doc[key]!r} must be a number above 0 and at most {high} (yolov11x uses {1.0 if key == 'depth_multiple' else 1.5})")
    for scale, row in (doc.get("scales") or {}).items() if isinstance(doc.get("scales"), dict) else []:
        if not (isinstance(row, list) and len(row) == 3 and _bounded(row[0], 0, MAX_DEPTH_MULTIPLE) and _bounded(row[1], 0, MAX_WIDTH_MULTIPLE) and _bounded(row[2], 0, 8192)):
            raise UserError(f"{where}: scales.{scale} {row!r} must be [depth <= {MAX_DEPTH_MULTIPLE}, width <= {MAX_WIDTH_MULTIPLE}, max_channels <= 8192]")
    if "nc" in doc and not (isinstance(doc["nc"], int) and 1 <= doc["nc"] <= MAX_CLASSES):
        raise UserError(f"{where}: nc {doc['nc']!r} must be a whole number from 1 to {MAX_CLASSES}")
    _check_buildable(path, doc, where)
    return doc


def _check_buildable(path: Path, doc: dict, where: str) -> None:
    import copy

    import torch

    offline.prepare()
    from ultralytics.nn import tasks

    if doc.get("activation"):
        try:
            tasks._SafeLoad.activation(str(doc["activation"]))
        except TypeError:
            raise UserError(f"{where}: activation {str(doc['activation'])[:60]!r} must be a torch.nn layer such as nn.SiLU()") from None
    try:
        d = tasks.yaml_model_load(str(path))
        with torch.device("meta"):  # shapes and parameter counts only: a huge graph allocates nothing
            net, _ = tasks.parse_model(copy.deepcopy(d), ch=int(d.get("channels", 3)), verbose=False)
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    except Exception as exc:  # any error of the graph's rows
        raise UserError(f"{where}: cannot be built ({type(exc).__name__}: {str(exc)[:160]})") from None
    params = sum(p.numel() for p in net.parameters())
    if params > MAX_PARAMS:
        raise UserError(f"{where}: {params / 1e6:,.0f} million parameters, beyond the {MAX_PARAMS // 10**6} million this app trains (yolov11x has 57 million)")


def check_model(model: str | Path, field: str = "--model") -> str:
    """``resolve_model`` plus a check that the model can be used, before a run is registered:
    a .pt must load safely as a checkpoint, a user's YAML pass ``check_model_yaml``."""
    resolved = resolve_model(model)
    if _NAME.match(str(model)):
        return resolved
    if resolved.endswith(".pt"):
        checkpoints.check(resolved, field)
    else:
        check_model_yaml(Path(resolved), field)
    return resolved


def build(model: str, nc: int | None = None):
    """An Ultralytics DetectionModel (CPU, train mode) from a zoo name or a model YAML."""
    offline.prepare()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(resolve_model(model), nc=nc, verbose=False)


def _family_scale(model: str) -> tuple[str, str]:
    match = _NAME.match(str(model))
    if match:
        return match["family"] + (match["variant"] or ""), match["scale"]
    return Path(str(model)).stem, ""


@lru_cache(maxsize=None)
def describe(model: str) -> dict:
    """Params, GFLOPs (at 640) and output strides of a zoo model or model YAML."""
    offline.prepare()
    from ultralytics.utils.torch_utils import get_flops

    net = build(model)
    family, scale = _family_scale(model)
    return {
        "name": str(model),
        "family": family,
        "scale": scale,
        "params": sum(p.numel() for p in net.parameters()),
        "gflops": round(get_flops(net, 640), 2),
        "strides": [int(s) for s in net.stride.tolist()],
        "description": DESCRIPTIONS.get(family, "your model YAML"),
    }


@lru_cache(maxsize=None)
def measure_latency(model: str, imgsz: int = 320, runs: int = 5) -> float:
    """Median CPU milliseconds of one 1x3ximgszximgsz forward pass, conv+BN fused as at inference."""
    import torch

    net = build(model).fuse(verbose=False).eval()
    x = torch.zeros(1, 3, imgsz, imgsz)
    times = []
    with torch.inference_mode():
        net(x)  # warm-up
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) * 1000)
    return round(statistics.median(times), 2)


def model_card(model: str) -> list[dict]:
    """The layer table: index, inputs, module, parameters and arguments-free type name."""
    net = build(model)
    return [{"layer": m.i, "from": m.f, "module": str(m.type).rsplit(".", 1)[-1], "params": int(m.np)} for m in net.model]


def transfer_report(model: str, weights: str | Path, nc: int) -> dict:
    """How many tensors of ``weights`` (a .pt) fit ``model`` built for ``nc`` classes: the ones
    Ultralytics' trainer will copy when training starts from them. The file is read through the
    restricted unpickler (yolov11.checkpoints): a pickle that wants more is refused."""
    offline.prepare()
    from ultralytics.utils.torch_utils import intersect_dicts

    ckpt = checkpoints.load(weights, "--weights")
    source = ckpt.get("ema") or ckpt["model"]
    target = build(model, nc=nc).state_dict()
    fits = intersect_dicts(source.float().state_dict(), target)
    return {"weights": str(Path(weights).expanduser()), "transferred": len(fits), "total": len(target)}


def list_models(scales: str = SCALES) -> list[dict]:
    """The zoo as a list of ``describe`` entries (``scales`` limits which are built)."""
    return [describe(n) for n in zoo_names() if _NAME.match(n)["scale"] in scales]

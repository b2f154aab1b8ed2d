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

from yolov11 import checkpoints
from yolov11.compat import graph, offline
from yolov11.errors import UserError
from yolov11.nn.graph_check import check_graph
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
            raise UserError(field="--model", value=text, detail="file not found")
        return str(path.resolve())
    raise UserError(field="--model", value=text, detail=f"not a zoo model ({', '.join(zoo_names()[:5])}, ...), a .yaml or a .pt file")


MAX_PARAMS = 500_000_000  # yolov11x has 57M; a graph 10x that does not train on any one GPU here


def check_model_yaml(path: Path, field: str = "--model") -> dict:
    """A user's model YAML, read safely and checked before anything is built: the graph checks
    every build passes (``nn.graph_check``: rows, bounded multipliers and repeats, a literal
    torch.nn activation), then the graph sized under MAX_PARAMS on the meta device (nothing is
    allocated). Returns the document; UserError names what is wrong."""
    where = f"{field} {path.name}"
    doc = load_yaml(path, where)
    offline.prepare()
    check_graph(doc, where)
    _check_buildable(path, doc, where)
    return doc


def _check_buildable(path: Path, doc: dict, where: str) -> None:
    try:
        params = graph.parameters_on_meta(path)  # shapes and parameter counts only: a huge graph allocates nothing
    except UserError as exc:
        raise UserError(f"{where}: {exc}") from None
    except Exception as exc:  # any error of the graph's rows
        raise UserError(f"{where}: cannot be built ({type(exc).__name__}: {str(exc)[:160]})") from None
    if params > MAX_PARAMS:
        raise UserError(
            f"{where}: {params / 1e6:,.0f} million parameters, beyond the {MAX_PARAMS // 10**6} million this app trains "
            "(yolov11x has 57 million)"
        )


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
    """An Ultralytics DetectionModel (CPU, train mode) from a zoo name or a model YAML (a user's
    YAML is checked first, as for training: the model card and zoo table build it too)."""
    offline.prepare()
    return graph.detection_model(check_model(model), nc=nc)


def _family_scale(model: str) -> tuple[str, str]:
    match = _NAME.match(str(model))
    if match:
        return match["family"] + (match["variant"] or ""), match["scale"]
    return Path(str(model)).stem, ""


def _stamp(model: str) -> tuple | None:
    """What a cached answer about ``model`` depends on: nothing for a zoo name, the file's size
    and modification time for a YAML (edited or replaced under the same path, it is new)."""
    if _NAME.match(str(model)):
        return None
    try:
        st = Path(str(model)).expanduser().stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def describe(model: str) -> dict:
    """Params, GFLOPs (at 640) and output strides of a zoo model or model YAML."""
    return _describe(str(model), _stamp(model))


@lru_cache(maxsize=256)
def _describe(model: str, stamp: tuple | None) -> dict:
    offline.prepare()
    net = build(model)
    family, scale = _family_scale(model)
    return {
        "name": str(model),
        "family": family,
        "scale": scale,
        "params": sum(p.numel() for p in net.parameters()),
        "gflops": round(graph.gflops(net, 640), 2),
        "strides": [int(s) for s in net.stride.tolist()],
        "description": DESCRIPTIONS.get(family, "your model YAML"),
    }


def measure_latency(model: str, imgsz: int = 320, runs: int = 5) -> float:
    """Median CPU milliseconds of one 1x3ximgszximgsz forward pass, conv+BN fused as at inference."""
    return _latency(str(model), imgsz, runs, _stamp(model))


@lru_cache(maxsize=256)
def _latency(model: str, imgsz: int, runs: int, stamp: tuple | None) -> float:
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
    ckpt = checkpoints.load(weights, "--weights")
    source = ckpt.get("ema") or ckpt["model"]
    target = build(model, nc=nc).state_dict()
    fits = graph.transferable(source.float().state_dict(), target)
    return {"weights": str(Path(weights).expanduser()), "transferred": len(fits), "total": len(target)}


def list_models(scales: str = SCALES) -> list[dict]:
    """The zoo as a list of ``describe`` entries (``scales`` limits which are built)."""
    return [describe(n) for n in zoo_names() if _NAME.match(n)["scale"] in scales]

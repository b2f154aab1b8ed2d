"""The model zoo: names like ``yolov11n`` resolve to graphs in ``yolov11/cfg/models``.

A name is ``<family><scale>[-<variant>]`` as in Ultralytics (``yolov11n``, ``yolov11s``):
the scale letter picks the row of the YAML's ``scales`` table. ``--model`` also takes a YAML
path or a ``.pt`` checkpoint. Ultralytics reads the scale from the file stem, so a zoo name
resolves to the path ``cfg/models/<name>.yaml``, which Ultralytics maps to the family file.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from yolov11 import offline
from yolov11.errors import UserError

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
    for yaml_file in sorted(CFG_DIR.glob("*.yaml")):
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


@lru_cache(maxsize=None)
def describe(name: str) -> dict:
    """Params, GFLOPs (at 640) and output strides of a zoo model, built on the CPU."""
    offline.prepare()
    from ultralytics.nn.tasks import DetectionModel
    from ultralytics.utils.torch_utils import get_flops

    model = DetectionModel(resolve_model(name), verbose=False)
    match = _NAME.match(name)
    return {
        "name": name,
        "family": match["family"] + (match["variant"] or ""),
        "scale": match["scale"],
        "params": sum(p.numel() for p in model.parameters()),
        "gflops": round(get_flops(model, 640), 2),
        "strides": [int(s) for s in model.stride.tolist()],
        "description": DESCRIPTIONS.get(match["family"] + (match["variant"] or ""), ""),
    }


def list_models(scales: str = SCALES) -> list[dict]:
    """The zoo as a list of ``describe`` entries (``scales`` limits which are built)."""
    return [describe(n) for n in zoo_names() if _NAME.match(n)["scale"] in scales]

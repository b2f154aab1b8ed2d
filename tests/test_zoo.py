"""Every zoo entry at scales n and s: builds with our modules in place, right output shapes,
one optimisation step, a trained .pt that reloads in a fresh process, ONNX equal to eager."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

import yolov11
from yolov11.compat import offline
from yolov11.models import resolve_model, zoo_names

from helpers import ROOT

ENTRIES = [n for n in zoo_names() if n[len("yolov11")] in "ns"]
OURS = {"cbam": "CBAM", "head": "AttnDetect", "spp": "SPPFWide"}  # family variant -> module it must contain


def build(name: str, nc: int = 3):
    offline.prepare()
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(resolve_model(name), nc=nc, verbose=False)


def test_zoo_has_every_family_at_every_scale():
    scales: dict[str, set[str]] = {}
    for name in zoo_names():
        family, scale = name[:7] + name[8:], name[7]  # yolov11s-cbam -> (yolov11-cbam, s)
        scales.setdefault(family, set()).add(scale)
    assert set(scales) == {"yolov11", "yolov11-cbam", "yolov11-head", "yolov11-p2", "yolov11-spp"}
    for family, found in scales.items():
        assert found == set("nsmlx"), f"{family} has scales {sorted(found)}"
    assert len(ENTRIES) == 10  # the n and s scales, which these tests build


@pytest.mark.parametrize("name", ENTRIES)
def test_entry_builds_runs_and_learns(name):
    from ultralytics.cfg import get_cfg
    from ultralytics.utils import IterableSimpleNamespace

    model = build(name)
    variant = name.partition("-")[2]
    if variant in OURS:
        assert any(type(m).__name__ == OURS[variant] for m in model.modules()), f"{name} lacks {OURS[variant]}"
    strides = [int(s) for s in model.stride]
    assert strides == ([4, 8, 16, 32] if variant == "p2" else [8, 16, 32])
    model.eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    out = out[0] if isinstance(out, (list, tuple)) else out
    assert tuple(out.shape) == (1, 4 + 3, sum((64 // s) ** 2 for s in strides))

    model.train()
    model.args = IterableSimpleNamespace(**vars(get_cfg()))  # loss gains (box, cls, dfl) as the trainer sets them
    batch = {
        "img": torch.rand(2, 3, 64, 64),
        "batch_idx": torch.tensor([0.0, 1.0]),
        "cls": torch.tensor([[0.0], [2.0]]),
        "bboxes": torch.tensor([[0.5, 0.5, 0.4, 0.4], [0.3, 0.6, 0.2, 0.3]]),
    }
    before = [p.detach().clone() for p in model.parameters()]
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    loss, _ = model.loss(batch)
    loss.sum().backward()
    opt.step()
    assert torch.isfinite(loss).all()
    changed = sum(not torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert changed > 0.9 * len(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_zip):
    """Each entry trained for one tiny epoch: name -> best.pt."""
    ws = yolov11.Workspace.at(tmp_path_factory.mktemp("zoo") / "ws")
    yolov11.import_dataset(tiny_zip, workspace=ws)
    return {name: Path(yolov11.train("hardhat-tiny", name, epochs=1, imgsz=64, batch=8, workspace=ws, plots=False)["weights"])
            for name in ENTRIES}, ws


def test_trained_checkpoints_reload_in_a_fresh_process(trained):
    weights, ws = trained
    image = next((ws.datasets_dir / "hardhat-tiny" / "images" / "val").glob("*.jpg"))
    code = (
        "import json, sys\nimport yolov11\nfrom ultralytics import YOLO\n"
        "out = {}\nfor name, path in json.loads(sys.argv[1]).items():\n"
        "    m = YOLO(path)\n"
        "    r = m.predict(sys.argv[2], imgsz=64, conf=0.0, verbose=False)[0]\n"
        "    out[name] = [type(m.model.model[-1]).__name__, list(r.boxes.data.shape[1:]),"
        " sorted(set(type(x).__module__.split('.')[0] for x in m.model.modules()))]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, json.dumps({k: str(v) for k, v in weights.items()}), str(image)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded.keys() == weights.keys()
    for name, (head, box_columns, packages) in loaded.items():
        assert box_columns == [6]
        assert head == ("AttnDetect" if name.endswith("-head") else "Detect")  # x1 y1 x2 y2 conf cls
        assert ("yolov11" in packages) == (name.partition("-")[2] in OURS)


def test_every_zoo_checkpoint_loads_through_the_restricted_unpickler(trained):
    weights, _ = trained
    for name, path in weights.items():  # no trust_weights: the allowlist holds every class they need
        ckpt = yolov11.checkpoints.load(path)
        assert isinstance(ckpt["model"] or ckpt["ema"], torch.nn.Module), name


@pytest.mark.parametrize("name", ENTRIES)
def test_onnx_export_matches_eager(trained, name):
    weights, ws = trained
    result = yolov11.export_model(weights[name], "onnx", verify=True, workspace=ws)
    v = result["verify"]
    assert v["max_abs_diff_normalized"] < 1e-4, v
    assert v["max_abs_diff"] < 1e-3, v  # boxes in pixels, scores in 0..1
    assert Path(result["path"]).parent.name == weights[name].parents[1].name  # exports/<run id>/


def test_user_yaml_errors_name_row_and_module(tmp_path):
    offline.prepare()
    from ultralytics.nn.tasks import DetectionModel

    doc = yaml.safe_load((ROOT / "yolov11" / "cfg" / "models" / "yolov11-cbam.yaml").read_text())
    doc["head"][3][2] = "Warpdrive"
    bad = tmp_path / "mine.yaml"
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(yolov11.UserError, match=r"model YAML row 14 \[-1, 1, Warpdrive, .*\]: unknown module 'Warpdrive'"):
        DetectionModel(str(bad), nc=3, verbose=False)
    doc = yaml.safe_load((ROOT / "yolov11" / "cfg" / "models" / "yolov11-cbam.yaml").read_text())
    doc["head"][12][3] = [16, 7, "x", "y"]  # row 23: CBAM with two arguments too many
    bad.write_text(yaml.safe_dump(doc))
    with pytest.raises(yolov11.UserError, match=r"model YAML row 23 \[16, 1, CBAM, \[16, 7, 'x', 'y'\]\]: TypeError"):
        DetectionModel(str(bad), nc=3, verbose=False)

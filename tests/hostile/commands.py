"""Hostile cases, groups K, L and M (shared workspace): train settings, models and weights, and the
other commands (predict, eval, export, publish, resume).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np

from . import CLASSES, MODEL_YAML, PWNED, Ctx, add, alias_bomb, case, evil_pt, image_bytes, write_tree


# === K. train settings (shared workspace) ===========================================================
def train(ctx: Ctx, *flags: str) -> list[str]:
    return ["train", "--data", ctx.dataset, "--epochs", "1", "--imgsz", "32", "--batch", "4", "--workers", "0", *flags]


BAD_FLAGS = [
    ("lr0-nan", ["--lr0", "nan"], "--lr0"),
    ("lr0-inf", ["--lr0", "inf"], "--lr0"),
    ("lr0-negative", ["--lr0", "-1"], "--lr0"),
    ("imgsz-100000", ["--imgsz", "100000"], "--imgsz"),
    ("imgsz-100", ["--imgsz", "100"], "--imgsz"),
    ("imgsz-0", ["--imgsz", "0"], "--imgsz"),
    ("epochs-0", ["--epochs", "0"], "--epochs"),
    ("epochs-1e9", ["--epochs", "1000000000"], "--epochs"),
    ("batch-0", ["--batch", "0"], "--batch"),
    ("batch-5000", ["--batch", "5000"], "--batch"),
    ("mosaic-2", ["--mosaic", "2"], "--mosaic"),
    ("mixup-negative", ["--mixup", "-0.1"], "--mixup"),
    ("hsv-h-2", ["--hsv-h", "2"], "--hsv-h"),
    ("fraction-0", ["--fraction", "0"], "--fraction"),
    ("warmup-epochs-nan", ["--warmup-epochs", "nan"], "--warmup-epochs"),
    ("scale-inf", ["--scale", "inf"], "--scale"),
    ("patience-0", ["--patience", "0"], "--patience"),
    ("close-mosaic-negative", ["--close-mosaic", "-1"], "--close-mosaic"),
    ("optimizer-lion", ["--optimizer", "Lion"], "--optimizer"),
    ("cache-gpu", ["--cache", "gpu"], "--cache"),
    ("device-gpu", ["--device", "gpu"], "--device"),
    ("device-7", ["--device", "7"], "--device"),
    ("loggers-foo", ["--loggers", "foo"], "--loggers"),
    ("workers-negative", ["--workers", "-1"], "--workers"),
    ("seed-negative", ["--seed", "-5"], "--seed"),
    ("nbs-0", ["--nbs", "0"], "--nbs"),
    ("extra-project", ["--extra", '{"project": "/tmp/x"}'], "--extra"),
    ("extra-save-dir", ["--extra", json.dumps({"save_dir": "../outside"})], "--extra"),
    ("extra-resume", ["--extra", '{"resume": true}'], "--extra"),
    ("extra-list", ["--extra", "[1]"], "--extra"),
]
for _id, _flags, _frag in BAD_FLAGS:
    add(f"train-{_id}", lambda c, f=_flags: train(c, *f), "refused", _frag, shared=True)
add("train-extra-notjson", lambda c: train(c, "--extra", "notjson"), "refused", "--extra", shared=True, argparse=True)
add("train-extra-unknown-key", lambda c: train(c, "--extra", '{"lr_f": 0.1}'), "refused", "--extra lr_f", "did you mean lrf", shared=True)


@case("train-extra-key-runs-code", "refused", "--extra", "not an Ultralytics train argument", shared=True)
def _(ctx: Ctx) -> list[str]:
    """A key that, written unquoted into the notebook's train(...) call, would run ``touch``."""
    key = f"x=__import__('os').system('touch {ctx.tmp / PWNED}'),y"
    return train(ctx, "--extra", json.dumps({key: 1}))
add("train-epochs-not-int", lambda c: train(c, "--epochs", "ten"), "refused", "--epochs", shared=True, argparse=True)
add("train-data-missing", lambda c: ["train", "--data", "no-such-dataset", "--epochs", "1"], "refused", "--data no-such-dataset",
    shared=True)


@case("train-data-alias-bomb", "refused", "bomb.yaml", "alias", shared=True, max_s=5)
def _(ctx: Ctx) -> list[str]:
    (ctx.tmp / "bomb.yaml").write_text(alias_bomb())
    return ["train", "--data", str(ctx.tmp / "bomb.yaml"), "--epochs", "1", "--imgsz", "32"]


@case("train-data-download-payload", "refused", "data.yaml", shared=True)
def _(ctx: Ctx) -> list[str]:
    payload = f"open({str(ctx.tmp / PWNED)!r}, 'w').write('pwned')"
    write_tree(ctx.tmp / "dl", {"data.yaml": json.dumps({"names": CLASSES, "nc": 3, "train": "images/train", "val": "images/val",
                                                         "download": payload}) + "\n"})
    return ["train", "--data", str(ctx.tmp / "dl" / "data.yaml"), "--epochs", "1", "--imgsz", "32", "--batch", "4", "--workers", "0"]


# === L. models and weights (shared workspace) =======================================================
def _model_yaml(ctx: Ctx, name: str, edit: Callable[[str], str]) -> Path:
    path = ctx.tmp / name
    path.write_text(edit(MODEL_YAML.read_text()))
    return path


def _no_scales(text: str) -> str:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("scales:"))
    end = next(i for i in range(start + 1, len(lines)) if lines[i] and not lines[i].startswith(" "))
    return "\n".join(lines[:start] + ["depth_multiple: 0.50", "width_multiple: 0.25"] + lines[end:]) + "\n"


def _model_case(id: str, name: str, edit: Callable[[Ctx, str], str], *fragments: str, **kw) -> None:
    add(id, lambda c: train(c, "--model", str(_model_yaml(c, name, lambda t: edit(c, t)))), "refused", name, *fragments, shared=True, **kw)


_model_case("model-broken-yaml", "broken.yaml", lambda c, t: "backbone: [[-1, 1, Conv, [64, 3, 2]]\nhead: : : [\n", "YAML")
_model_case("model-depth-multiple-1000", "deep.yaml", lambda c, t: "depth_multiple: 1000\n" + t, "depth_multiple")
_model_case("model-width-multiple-100", "wide.yaml", lambda c, t: _no_scales(t).replace("width_multiple: 0.25", "width_multiple: 100"),
            "width_multiple")
_model_case("model-unknown-module", "warp.yaml", lambda c, t: t.replace("[-1, 1, Conv, [128, 3, 2]]", "[-1, 1, Warpdrive, [128, 3, 2]]"),
            "Warpdrive")
_model_case("model-activation-code", "act.yaml",
            lambda c, t: "activation: " + json.dumps(f"__import__('os').system('touch {c.tmp / PWNED}')") + "\n" + t, "activation")
_model_case("model-row-3-items", "row3.yaml", lambda c, t: t.replace("[-1, 1, Conv, [128, 3, 2]]", "[-1, 1, Conv]"), "row")
_model_case("model-row-repeats-1000", "rep.yaml",
            lambda c, t: t.replace("[-1, 2, C3k2, [256, False, 0.25]]", "[-1, 1000, C3k2, [256, False, 0.25]]"), "1000")
_model_case("model-too-many-params", "huge.yaml",
            lambda c, t: _no_scales(t).replace("[-1, 1, Conv, [64, 3, 2]]", "[-1, 1, Conv, [10000000, 3, 2]]"),
            "million parameters", max_s=20)
_model_case("model-nc-0", "nc0.yaml", lambda c, t: t.replace("nc: 80", "nc: 0"), "nc")
_model_case("model-alias-bomb", "bomb.yaml", lambda c, t: alias_bomb("junk") + t, "alias", max_s=5)
_model_case("model-not-a-mapping", "list.yaml", lambda c, t: "- just\n- a list\n", "model YAML")


def _file(name: str, data: bytes):
    def make(ctx: Ctx) -> Path:
        (ctx.tmp / name).write_bytes(data)
        return ctx.tmp / name

    return make


RANDOM = np.random.default_rng(7).integers(0, 256, 4096, dtype=np.uint8).tobytes()


def _sd_pt(ctx: Ctx) -> Path:
    import torch

    torch.save(torch.nn.Conv2d(3, 3, 1).state_dict(), ctx.tmp / "sd.pt")
    return ctx.tmp / "sd.pt"


def _evil(ctx: Ctx) -> Path:
    return evil_pt(ctx.tmp / "evil.pt", ctx.tmp / PWNED)


def _graph_pt(change: Callable[[dict, Ctx], None]):
    """The shared run's best.pt with its model graph (plain data, which the restricted unpickler
    lets through) edited: what Ultralytics rebuilds the model from when a run starts from it."""

    def make(ctx: Ctx) -> Path:
        import torch

        ckpt = torch.load(ctx.best, map_location="cpu", weights_only=False)  # our own file
        for key in ("model", "ema"):
            if ckpt.get(key) is not None:
                change(ckpt[key].yaml, ctx)
        torch.save(ckpt, ctx.tmp / "graph.pt")
        return ctx.tmp / "graph.pt"

    return make


GRAPH_EVAL = _graph_pt(lambda y, c: y.update(activation=f"__import__('os').system('touch {c.tmp / PWNED}') or nn.SiLU()"))
GRAPH_DEEP = _graph_pt(lambda y, c: y.update(depth_multiple=1000.0))

TEXT_PT = _file("text.pt", b"this is a text file, not a checkpoint\n")
NOTACKPT = _file("notackpt.pt", RANDOM)
GARBAGE_ONNX = _file("garbage.onnx", RANDOM)

add("model-text-pt", lambda c: train(c, "--model", str(TEXT_PT(c))), "refused", "text.pt", shared=True)
add("model-evil-pt", lambda c: train(c, "--model", str(_evil(c))), "refused", "evil.pt", "posix.system", shared=True)
add("model-pt-graph-runs-code", lambda c: train(c, "--model", str(GRAPH_EVAL(c))), "refused", "graph.pt", "activation", shared=True)
add("model-pt-graph-too-deep", lambda c: train(c, "--model", str(GRAPH_DEEP(c))), "refused", "graph.pt", "depth_multiple", shared=True)
add("predict-pt-graph-runs-code", lambda c: ["predict", "--weights", str(GRAPH_EVAL(c)), "--source", str(_photo(c))],
    "refused", "graph.pt", "activation", shared=True)
add("model-missing-yaml", lambda c: train(c, "--model", str(c.tmp / "missing.yaml")), "refused", "missing.yaml", shared=True)
add("model-unknown-name", lambda c: train(c, "--model", "yolov12q"), "refused", "yolov12q", shared=True)
add("weights-evil-pt", lambda c: train(c, "--weights", str(_evil(c))), "refused", "evil.pt", "posix.system", shared=True)
add("weights-state-dict", lambda c: train(c, "--weights", str(_sd_pt(c))), "refused", "sd.pt", "not an Ultralytics checkpoint", shared=True)
add("weights-random-bytes", lambda c: train(c, "--weights", str(NOTACKPT(c))), "refused", "notackpt.pt", shared=True)
add("weights-text-pt", lambda c: train(c, "--weights", str(TEXT_PT(c))), "refused", "text.pt", shared=True)
add("weights-missing", lambda c: train(c, "--weights", str(c.tmp / "gone.pt")), "refused", "gone.pt", shared=True)


# === M. other commands (shared workspace) ===========================================================
def _photo(ctx: Ctx) -> Path:
    (ctx.tmp / "photo.jpg").write_bytes(image_bytes(800))
    return ctx.tmp / "photo.jpg"


def _still_done(ctx: Ctx) -> None:
    from yolov11 import Workspace

    status = Workspace.at(ctx.shared).run(ctx.run)["status"]
    assert status == "done", f"run {ctx.run} is {status!r} after the refused resume, expected 'done'"


GT = {"images": [{"id": 1, "width": 64, "height": 64, "file_name": "a.jpg"}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}],
      "categories": [{"id": 1, "name": "a"}]}

add("predict-evil-pt", lambda c: ["predict", "--weights", str(_evil(c)), "--source", str(_photo(c))],
    "refused", "evil.pt", "posix.system", shared=True)
add("predict-garbage-onnx", lambda c: ["predict", "--weights", str(GARBAGE_ONNX(c)), "--source", str(_photo(c))],
    "refused", "garbage.onnx", shared=True)
add("predict-random-pt", lambda c: ["predict", "--weights", str(NOTACKPT(c)), "--source", str(_photo(c))],
    "refused", "notackpt.pt", shared=True)
add("predict-missing-source", lambda c: ["predict", "--weights", str(c.best), "--source", str(c.tmp / "missing.jpg")],
    "refused", "missing.jpg", shared=True)
add("predict-conf-nan", lambda c: ["predict", "--weights", str(c.best), "--source", str(_photo(c)), "--conf", "nan"],
    "refused", "--conf", shared=True)
def _growing_video(c: Ctx) -> Path:
    import video_fixtures

    return video_fixtures.write_growing_frames(c.tmp / "grow.mov")


add("predict-video-frames-grow-past-the-cap", lambda c: ["predict", "--weights", str(c.best), "--source", str(_growing_video(c))],
    "refused", "grow.mov", "over the cap", shared=True)
add("predict-text-as-image", lambda c: ["predict", "--weights", str(c.best), "--source", str(_file("fake.jpg", b"not an image\n")(c))],
    "refused", "fake.jpg", shared=True)
add("eval-evil-pt", lambda c: ["eval", "--weights", str(_evil(c)), "--data", c.dataset], "refused", "evil.pt", "posix.system", shared=True)
add("eval-random-pt", lambda c: ["eval", "--weights", str(NOTACKPT(c)), "--data", c.dataset], "refused", "notackpt.pt", shared=True)
add("export-evil-pt", lambda c: ["export", "--weights", str(_evil(c))], "refused", "evil.pt", "posix.system", shared=True)
add("export-state-dict", lambda c: ["export", "--weights", str(_sd_pt(c))], "refused", "sd.pt", shared=True)
add("publish-evil-pt", lambda c: ["publish", "--weights", str(_evil(c))], "refused", "evil.pt", "posix.system", shared=True)
add("publish-name-dotdot", lambda c: ["publish", "--weights", str(c.best), "--name", "../outside"], "refused", "--name", shared=True)
add("resume-no-such-run", lambda c: ["resume", "--run", "no-such-run"], "refused", "no-such-run", shared=True)
add("resume-finished-run", lambda c: ["resume", "--run", c.run], "refused", "has done 1 of 1 epochs", shared=True, after=_still_done)
add("resume-epochs-0", lambda c: ["resume", "--run", c.run, "--epochs", "0"], "refused", "--epochs", shared=True)


@case("eval-coco-gt-deep-json", "refused", "deep.json", shared=True)
def _(ctx: Ctx) -> list[str]:
    write_tree(ctx.tmp, {"deep.json": "[" * 10000 + "]" * 10000, "x.json": "[]"})
    return ["eval", "--coco-gt", str(ctx.tmp / "deep.json"), "--coco-dt", str(ctx.tmp / "x.json")]


@case("eval-coco-dt-not-json", "refused", "notjson.json", shared=True)
def _(ctx: Ctx) -> list[str]:
    write_tree(ctx.tmp, {"gt.json": json.dumps(GT), "notjson.json": "this is not json\n"})
    return ["eval", "--coco-gt", str(ctx.tmp / "gt.json"), "--coco-dt", str(ctx.tmp / "notjson.json")]


@case("eval-coco-dt-not-objects", "refused", "dt.json", shared=True)
def _(ctx: Ctx) -> list[str]:
    write_tree(ctx.tmp, {"gt.json": json.dumps(GT), "dt.json": "[1, 2, 3]"})
    return ["eval", "--coco-gt", str(ctx.tmp / "gt.json"), "--coco-dt", str(ctx.tmp / "dt.json")]


@case("eval-coco-gt-images-not-objects", "refused", "gt.json", shared=True)
def _(ctx: Ctx) -> list[str]:
    write_tree(ctx.tmp, {"gt.json": json.dumps({**GT, "images": [1, "x"]}), "dt.json": "[]"})
    return ["eval", "--coco-gt", str(ctx.tmp / "gt.json"), "--coco-dt", str(ctx.tmp / "dt.json")]

"""The model zoo: names resolve to graphs that build, with the numbers `models` reports."""

from __future__ import annotations

import pytest
import torch

import yolov11
from yolov11.models import resolve_model, zoo_names


def test_zoo_lists_yolov11_at_every_scale():
    assert [n for n in zoo_names() if n.startswith("yolov11")][:5] == ["yolov11n", "yolov11s", "yolov11m", "yolov11l", "yolov11x"]


def test_models_n_and_s_build_with_reported_numbers():
    from ultralytics.nn.tasks import DetectionModel

    rows = {m["name"]: m for m in yolov11.list_models("ns")}
    assert len(rows) == 10
    assert {"yolov11n", "yolov11s", "yolov11n-cbam", "yolov11s-p2"} <= set(rows)
    assert set(rows["yolov11n-cbam"]) == {"name", "family", "scale", "params", "gflops", "strides", "description"}
    assert rows["yolov11n-p2"]["strides"] == [4, 8, 16, 32]
    assert rows["yolov11n-cbam"]["family"] == "yolov11-cbam"
    assert rows["yolov11n"]["params"] < rows["yolov11n-cbam"]["params"] < rows["yolov11s"]["params"]
    n, s = rows["yolov11n"], rows["yolov11s"]
    assert n["strides"] == s["strides"] == [8, 16, 32]
    assert 2.0e6 < n["params"] < 3.0e6
    assert 6.0 < n["gflops"] < 7.0  # YOLO11n: 2.6M params, 6.5 GFLOPs
    assert s["params"] > 3 * n["params"]
    assert s["gflops"] > 3 * n["gflops"]
    model = DetectionModel(resolve_model("yolov11n"), nc=3, verbose=False).eval()
    with torch.no_grad():
        out = model(torch.zeros(1, 3, 64, 64))
    out = out[0] if isinstance(out, (list, tuple)) else out
    assert tuple(out.shape) == (1, 4 + 3, (8 * 8) + (4 * 4) + (2 * 2))


def test_unknown_model_names_say_what_exists(tmp_path):
    with pytest.raises(yolov11.UserError, match="not a zoo model \\(yolov11n, yolov11s"):
        resolve_model("yolo-mystery")
    with pytest.raises(yolov11.UserError, match="file not found"):
        resolve_model(str(tmp_path / "mine.yaml"))

"""offline.prepare(): no downloads, fonts local (Chinese class names too), AMP check local."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from yolov11.compat import offline


def test_environment_and_settings_switch_the_network_off():
    offline.prepare()
    from ultralytics.utils import SETTINGS, checks

    assert os.environ["YOLO_OFFLINE"] == "1"
    assert os.environ["YOLO_AUTOINSTALL"] == "false"
    assert checks.ONLINE is False
    assert checks.AUTOINSTALL is False
    assert SETTINGS["sync"] is False
    assert not any(SETTINGS[k] for k in ("clearml", "comet", "dvc", "mlflow", "raytune", "wandb"))
    assert SETTINGS["tensorboard"] is True
    assert Path(os.environ["YOLO_CONFIG_DIR"]) == Path(os.environ["YOLOV11_WORKSPACE"]).resolve() / ".ultralytics"


def test_fonts_resolve_locally_and_draw_chinese():
    offline.prepare()
    from fontTools.ttLib import TTFont
    from ultralytics.utils.checks import check_font
    from ultralytics.utils.plotting import Annotator

    latin, unicode_font = Path(check_font("Arial.ttf")), Path(check_font("Arial.Unicode.ttf"))
    assert latin.parent == unicode_font.parent == Path(os.environ["YOLO_CONFIG_DIR"]) / "Ultralytics"
    cmap = TTFont(str(unicode_font.resolve()), lazy=True, fontNumber=0).getBestCmap()
    assert all(ord(ch) in cmap for ch in "安全帽背心")

    blank = np.full((120, 240, 3), 255, np.uint8)
    annotator = Annotator(blank.copy(), example="安全帽")  # non-ASCII example -> PIL with Arial.Unicode.ttf
    assert Path(annotator.font.path).resolve() == unicode_font.resolve()
    annotator.box_label([20, 50, 200, 110], "安全帽 0.9", color=(0, 0, 255))
    drawn = np.asarray(annotator.result())
    label_band = drawn[20:50, 20:200]
    assert (label_band != 255).any()  # the label box and its text were drawn


def test_amp_check_needs_no_weights():
    offline.prepare()
    import torch
    from ultralytics.engine import trainer

    assert trainer.check_amp is offline._offline_check_amp
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3))
    assert trainer.check_amp(model) is False  # CPU: AMP off, and nothing downloaded
    # The comparison a GPU run makes, exercised on the CPU's own autocast (bfloat16): a sound
    # model agrees; one whose low-precision output overflows is refused.
    assert offline.autocast_agrees(model, "cpu", torch.bfloat16) is True

    class Overflows(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3)

        def forward(self, x):
            y = self.conv(x)
            return y * torch.inf if y.dtype == torch.bfloat16 else y  # what an fp16 overflow looks like

    assert offline.autocast_agrees(Overflows(), "cpu", torch.bfloat16) is False
    assert model.training  # the check leaves the model in the mode it found it


def test_a_class_name_with_dollars_is_drawn_as_text(tmp_path):
    """Ultralytics' matplotlib plots (confusion matrix, label charts, curves) take class names from
    a user's data.yaml: "$$x$$" in one was read as mathtext and the plot failed (training with
    plots on raised). Prepared, matplotlib reads no mathtext and the plot is written."""
    offline.prepare()
    from ultralytics.utils.metrics import ConfusionMatrix

    matrix = ConfusionMatrix(names={0: "**bold** $$x$$", 1: "helmet"})
    matrix.matrix = np.array([[3, 1, 0], [0, 2, 1], [1, 0, 0]], dtype=float)
    matrix.plot(save_dir=tmp_path)
    assert (tmp_path / "confusion_matrix_normalized.png").is_file()

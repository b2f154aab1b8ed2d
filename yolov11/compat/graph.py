"""Building and sizing model graphs with Ultralytics' own machinery.

Relies on: ``nn.tasks.DetectionModel(cfg, nc=, verbose=)``, ``nn.tasks.yaml_model_load``,
``nn.tasks.parse_model(d, ch=, verbose=)`` (run on PyTorch's meta device to size a graph without
allocating), ``nn.tasks._SafeLoad.activation`` (its no-eval parser of "nn.X(literals)"),
``utils.torch_utils.get_flops`` and ``intersect_dicts`` (what a trainer's ``pretrained`` copies),
``nn.tasks.BaseModel.yaml["backbone"]`` (where the backbone ends, for ``YOLO.embed``).
"""

from __future__ import annotations

import copy


def detection_model(cfg, nc: int | None = None):
    """An Ultralytics DetectionModel (CPU, train mode) of a model YAML path or graph dict."""
    from ultralytics.nn.tasks import DetectionModel

    return DetectionModel(cfg, nc=nc, verbose=False)


def parameters_on_meta(path) -> int:
    """The parameter count of a model YAML's graph, built on the meta device (nothing allocated)."""
    import torch
    from ultralytics.nn import tasks

    d = tasks.yaml_model_load(str(path))
    with torch.device("meta"):
        net, _ = tasks.parse_model(copy.deepcopy(d), ch=int(d.get("channels", 3)), verbose=False)
    return sum(p.numel() for p in net.parameters())


def literal_activation(act: str) -> bool:
    """Whether ``act`` is a literal torch.nn layer ("nn.SiLU()", "nn.LeakyReLU(0.1)"), which
    Ultralytics' eval() of it can only build."""
    from ultralytics.nn import tasks

    try:
        tasks._SafeLoad.activation(act)
    except TypeError:
        return False
    return True


def gflops(net, imgsz: int) -> float:
    from ultralytics.utils.torch_utils import get_flops

    return get_flops(net, imgsz)


def transferable(source: dict, target: dict) -> dict:
    """The tensors of ``source`` a trainer's ``pretrained`` copies into ``target`` (same names and shapes)."""
    from ultralytics.utils.torch_utils import intersect_dicts

    return intersect_dicts(source, target)


def backbone_end(yolo) -> int | None:
    """The index of the last backbone layer of an ``ultralytics.YOLO`` holding a PyTorch
    detection model (its graph YAML's ``backbone`` list), for ``YOLO.embed(embed=[i])``; None for
    an exported model (ONNX, OpenVINO, ...), which exposes no layers."""
    from ultralytics.nn.tasks import BaseModel

    net = getattr(yolo, "model", None)
    spec = getattr(net, "yaml", None) if isinstance(net, BaseModel) else None
    backbone = spec.get("backbone") if isinstance(spec, dict) else None
    return len(backbone) - 1 if isinstance(backbone, list) and backbone else None

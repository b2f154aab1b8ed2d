"""Our layers as the fence sees them: the rows a model YAML may name (with the Ultralytics stand-in
each is sized like, ``yolov11.compat.registry``) and the classes a checkpoint may hold (the
restricted unpickler's allowlist, ``yolov11.checkpoints``). Adding a module: its file in ``nn/``,
then one entry in each function here.

Importing this module registers the YAML registry with the fence (``offline.when_prepared``);
nothing here imports torch until Ultralytics is prepared.
"""

from __future__ import annotations

from yolov11.compat import offline


def yaml_layers() -> dict:
    """YAML name -> ``compat.registry.Registered`` (stand-in, its arguments, how ours is built)."""
    from yolov11.compat.registry import Registered
    from yolov11.nn.cbam import CBAM
    from yolov11.nn.heads import AttnDetect
    from yolov11.nn.sppf import SPPFWide

    return {
        "CBAM": Registered("nn.Identity", lambda a: [], lambda c1, a, old: CBAM(c1, *a)),
        "SPPFWide": Registered("SPPF", lambda a: a[:1], lambda c1, a, old: SPPFWide(c1, old.cv2.conv.out_channels, *a[1:])),
        "AttnDetect": Registered("Detect", lambda a: a, lambda c1, a, old: AttnDetect(old.nc, old.reg_max, old.end2end, tuple(c1))),
    }


def checkpoint_classes() -> list[type]:
    """Every class of ours a saved model holds (what the restricted unpickler must allow)."""
    from yolov11.nn.cbam import CBAM, ChannelAttention, SpatialAttention
    from yolov11.nn.heads import AttnDetect
    from yolov11.nn.sppf import SPPFWide

    return [CBAM, ChannelAttention, SpatialAttention, AttnDetect, SPPFWide]


def _install_yaml_layers() -> None:
    from yolov11.compat import registry
    from yolov11.nn.graph_check import check_graph

    registry.install(yaml_layers, check_graph)


offline.when_prepared(_install_yaml_layers)

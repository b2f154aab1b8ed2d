"""The Ultralytics layers our modules build on.

Relies on: ``nn.modules.conv.Conv`` (conv + BN + SiLU, ``default_act``) and
``nn.modules.head.Detect`` (its ``cv2``/``cv3`` branches, ``nl``, ``nc``, ``reg_max``,
``end2end``, ``forward``), whose sizes our modules mirror.
"""

import os

# The one module of the fence that imports Ultralytics when it is imported (our layers subclass these):
# importing Ultralytics runs its online check (a DNS lookup) unless YOLO_OFFLINE is set, and
# ``import yolov11.nn`` must not reach the network even before offline.prepare() has run.
os.environ["YOLO_OFFLINE"] = "1"

from ultralytics.nn.modules.conv import Conv  # noqa: E402
from ultralytics.nn.modules.head import Detect  # noqa: E402

__all__ = ["Conv", "Detect"]

"""The Ultralytics layers our modules build on.

Relies on: ``nn.modules.conv.Conv`` (conv + BN + SiLU, ``default_act``) and
``nn.modules.head.Detect`` (its ``cv2``/``cv3`` branches, ``nl``, ``nc``, ``reg_max``,
``end2end``, ``forward``), whose sizes our modules mirror.
"""

from ultralytics.nn.modules.conv import Conv
from ultralytics.nn.modules.head import Detect

__all__ = ["Conv", "Detect"]

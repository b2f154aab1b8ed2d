"""SPPFWide: spatial pyramid pooling with several kernel sizes side by side.

Ultralytics' SPPF chains three 5x5 max-pools (receptive fields 5, 9, 13 from one kernel);
SPPFWide pools the reduced features with each kernel of ``ks`` in parallel (the original SPP
pyramid, e.g. 5, 9, 13) and fuses them with a 1x1 conv. Shapes: (B, c1, H, W) -> (B, c2, H, W).
"""

from __future__ import annotations

import torch
from torch import nn

from yolov11.compat.layers import Conv


class SPPFWide(nn.Module):
    def __init__(self, c1: int, c2: int, ks: tuple[int, ...] | list[int] = (5, 9, 13)):
        super().__init__()
        hidden = c1 // 2  # as in SPPF: pool on half the channels
        self.cv1 = Conv(c1, hidden, 1, 1)
        self.pools = nn.ModuleList(nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2) for k in ks)
        self.cv2 = Conv(hidden * (len(ks) + 1), c2, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.cv1(x)
        return self.cv2(torch.cat([x, *(pool(x) for pool in self.pools)], 1))

"""AttnDetect: Ultralytics' Detect head with CBAM attention on each input level.

Each feature map (P3, P4, P5, ...) passes through its own CBAM before the stock box and class
branches, so the head can re-weight channels and positions per scale (small hard hats live in
P3). Everything else (DFL, decoding, loss, export) is Detect's: it trains, saves and exports
like the stock head. Input: list of (B, ch[i], H_i, W_i); output as Detect.
"""

from __future__ import annotations

import torch

from yolov11.compat.layers import Detect
from yolov11.nn.cbam import CBAM


class AttnDetect(Detect):
    def __init__(self, nc: int = 80, reg_max: int = 16, end2end: bool = False, ch: tuple[int, ...] = ()):
        super().__init__(nc, reg_max, end2end, ch)
        self.attn = torch.nn.ModuleList(CBAM(c) for c in ch)

    def forward(self, x: list[torch.Tensor]):
        return super().forward([attn(xi) for attn, xi in zip(self.attn, x)])

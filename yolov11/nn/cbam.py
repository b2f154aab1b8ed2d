"""CBAM: Convolutional Block Attention Module (Woo et al., ECCV 2018), as a plain nn.Module.

Channel attention (a shared MLP over global average- and max-pooled features) then spatial
attention (a 7x7 conv over the channel-wise mean and max). Shape-preserving: (B, C, H, W) ->
(B, C, H, W), so it can follow any layer of a graph.
"""

from __future__ import annotations

import torch
from torch import nn


class ChannelAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W), each channel scaled by a weight in 0..1."""

    def __init__(self, channels: int, reduction: int = 16):
        super().__init__()
        hidden = max(channels // reduction, 8)  # n-scale graphs have 64-channel layers: keep the MLP useful
        self.mlp = nn.Sequential(nn.Conv2d(channels, hidden, 1, bias=False), nn.SiLU(), nn.Conv2d(hidden, channels, 1, bias=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(x.mean((2, 3), keepdim=True))
        mx = self.mlp(x.amax((2, 3), keepdim=True))
        return x * torch.sigmoid(avg + mx)


class SpatialAttention(nn.Module):
    """(B, C, H, W) -> (B, C, H, W), each position scaled by a weight in 0..1."""

    def __init__(self, kernel_size: int = 7):
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat((x.mean(1, keepdim=True), x.amax(1, keepdim=True)), 1)  # (B, 2, H, W)
        return x * torch.sigmoid(self.conv(pooled))


class CBAM(nn.Module):
    """Channel then spatial attention. ``c1``: input (= output) channels, given by the registry."""

    def __init__(self, c1: int, reduction: int = 16, kernel_size: int = 7):
        super().__init__()
        self.channel = ChannelAttention(c1, reduction)
        self.spatial = SpatialAttention(kernel_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))

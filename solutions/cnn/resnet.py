"""The residual block of ResNet (He et al., 2016, Figure 2), in PyTorch (d2l's ``Residual``)."""

import torch
from torch import nn


class Residual(nn.Module):
    """Residual block: relu(bn2(conv2(relu(bn1(conv1(X))))) + shortcut(X)).

    - conv1: 3x3, in_channels -> out_channels, padding 1, the block's stride
    - bn1, bn2: BatchNorm2d(out_channels)
    - conv2: 3x3, out_channels -> out_channels, padding 1, stride 1
    - conv3: 1x1, in_channels -> out_channels, the block's stride, when use_1x1conv;
      otherwise None and the shortcut is X itself (then in_channels must equal
      out_channels and stride be 1)

    Input X: (N, in_channels, H, W) -> output (N, out_channels, OH, OW),
    OH = (H - 1) // stride + 1, same for OW.
    """

    def __init__(
        self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1
    ):
        super().__init__()
        # BEGIN SOLUTION hint: conv1, bn1, conv2, bn2, and conv3 (None unless use_1x1conv)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
        self.bn2 = nn.BatchNorm2d(out_channels)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride)
        else:
            self.conv3 = None
        # END SOLUTION

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        """X: (N, in_channels, H, W) -> (N, out_channels, OH, OW)."""
        # BEGIN SOLUTION hint: Y = bn2(conv2(relu(bn1(conv1(X))))); add the shortcut; relu
        Y = torch.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        shortcut = X if self.conv3 is None else self.conv3(X)
        return torch.relu(Y + shortcut)
        # END SOLUTION

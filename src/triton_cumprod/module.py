"""cumprod along a fixed dim as an nn.Module, for models built from layers."""
import torch

from .api import cumprod


class CumProd(torch.nn.Module):
    """CumProd(dim, dtype=None)(x) is cumprod(x, dim, dtype=dtype): torch.cumprod by the Triton
    kernels, differentiable and traceable by torch.compile. It holds no parameters."""

    def __init__(self, dim, dtype=None):
        super().__init__()
        self.dim = dim
        self.dtype = dtype

    def forward(self, input):
        return cumprod(input, self.dim, dtype=self.dtype)

    def extra_repr(self):
        return f"dim={self.dim}" + (f", dtype={self.dtype}" if self.dtype is not None else "")

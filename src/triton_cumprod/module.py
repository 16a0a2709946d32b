"""cumprod along a fixed dim as an nn.Module, for models built from layers."""
import torch

from .api import cumprod


class CumProd(torch.nn.Module):
    """CumProd(dim, dtype=None, exclusive=False, reverse=False)(x) is cumprod(x, dim, dtype=dtype,
    exclusive=exclusive, reverse=reverse): torch.cumprod by the Triton kernels, differentiable and
    traceable by torch.compile. It holds no parameters."""

    def __init__(self, dim, dtype=None, exclusive=False, reverse=False):
        super().__init__()
        self.dim = dim
        self.dtype = dtype
        self.exclusive = exclusive
        self.reverse = reverse

    def forward(self, input):
        return cumprod(input, self.dim, dtype=self.dtype, exclusive=self.exclusive, reverse=self.reverse)

    def extra_repr(self):
        options = [f"dim={self.dim}"]
        if self.dtype is not None:
            options.append(f"dtype={self.dtype}")
        options += [name + "=True" for name in ("exclusive", "reverse") if getattr(self, name)]
        return ", ".join(options)

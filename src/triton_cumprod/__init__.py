"""triton_cumprod: torch.cumprod as Triton kernels, at the speed of a device copy."""
from .api import cumprod

__all__ = ["cumprod"]
__version__ = "0.1.0"

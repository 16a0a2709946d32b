"""triton_cumprod: torch.cumprod as Triton kernels, at the speed of a device copy."""
from .api import cumprod
from .module import CumProd

__all__ = ["cumprod", "CumProd"]
__version__ = "0.1.0"

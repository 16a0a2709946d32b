"""triton_cumprod: torch.cumprod as Triton kernels, at the speed of a device copy."""
from .api import cumprod
from .module import CumProd
from .override import disable, enable, enabled

__all__ = ["cumprod", "CumProd", "enable", "disable", "enabled"]
__version__ = "0.1.0"

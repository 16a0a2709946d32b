"""cumprod's gradient: the launch path of the backward kernels (ops.py registers it with autograd)."""
import math

import torch

from .dispatch import plan_backward
from .forward import device_traits
from .kernels.backward import launch_backward, launch_backward_chain, launch_backward_lookback
from .kernels.flat import launch_backward_flat
from .kernels.combine import accumulator_dtype


def cumprod_backward(x, y, grad, dim, out_dtype, exclusive=False, reverse=False):
    """The gradient of y = cumprod(x, dim, dtype=out_dtype) (the exclusive or reverse scan as
    api.cumprod's options say) for the output gradient `grad`, in x's dtype. Exact where x holds
    zeros: no division (see kernels/backward.py)."""
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if gx.numel() == 0:
        return gx
    if x.dim() == 0 or x.shape[dim] == 1:
        # The inclusive scan of one element is the element; the exclusive one is 1, whatever it is.
        return gx.zero_() if exclusive else gx.copy_(grad)
    dim = dim % x.dim()
    x, y, grad = x.contiguous(), y.contiguous(), grad.contiguous()
    n_outer, length, inner = math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1:])
    plan = plan_backward(n_outer, length, inner, *device_traits(x.device), out_dtype.itemsize, exclusive, reverse)
    if plan[0] == "flat":
        launch_backward_flat(x, y, grad, gx, n_outer, length, out_dtype, plan, exclusive, reverse)
        return gx
    if plan[0] == "lookback":
        launch_backward_lookback(x, y, grad, gx, n_outer, length, out_dtype, plan, exclusive, reverse)
        return gx
    if plan[0] == "chain":
        launch_backward_chain(x, y, grad, gx, n_outer, length, inner, out_dtype, plan, exclusive, reverse)
        return gx
    maps = gx
    if plan[1] > 1:
        maps = torch.empty((2, n_outer, plan[1], inner), dtype=accumulator_dtype(out_dtype), device=x.device)
        launch_backward(x, y, grad, gx, maps, n_outer, length, inner, out_dtype, plan, True, exclusive, reverse)
    launch_backward(x, y, grad, gx, maps, n_outer, length, inner, out_dtype, plan, False, exclusive, reverse)
    return gx

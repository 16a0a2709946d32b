"""cumprod's gradient: the launch path of the backward kernels (ops.py registers it with autograd)."""
import math

import torch

from .dispatch import plan_backward
from .forward import device_traits
from .kernels.backward import launch_backward, launch_backward_chain, launch_backward_lookback
from .kernels.flat import launch_backward_flat
from .kernels.combine import accumulator_dtype
from .layout import contiguous_view, turned_view


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
    x, y, grad = x.resolve_neg(), y.resolve_neg().contiguous(), grad.resolve_neg().contiguous()
    view = gradient_view(x, dim, out_dtype)
    if view is None:
        x = x.contiguous()
        view = contiguous_view(math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1:]))
    (n_outer, n_mid, length, inner), x_strides, y_strides = view
    plan = plan_backward(n_outer * n_mid, length, inner, *device_traits(x.device), out_dtype.itemsize, exclusive,
                         reverse, x_strides[3] == 1)
    if plan[0] == "flat":
        launch_backward_flat(x, y, grad, gx, n_outer, length, out_dtype, plan, exclusive, reverse)
        return gx
    if plan[0] == "lookback":
        launch_backward_lookback(x, y, grad, gx, n_outer, length, out_dtype, plan, exclusive, reverse)
        return gx
    if plan[0] == "chain":
        launch_backward_chain(x, y, grad, gx, view, out_dtype, plan, exclusive, reverse)
        return gx
    maps = gx
    if plan[1] > 1:
        maps = torch.empty((2, n_outer * n_mid, plan[1], inner), dtype=accumulator_dtype(out_dtype), device=x.device)
        launch_backward(x, y, grad, gx, maps, view, out_dtype, plan, True, exclusive, reverse)
    launch_backward(x, y, grad, gx, maps, view, out_dtype, plan, False, exclusive, reverse)
    return gx


def gradient_view(x, dim, out_dtype):
    """The layout.turned_view the gradient's column kernels read a non-contiguous `x` through, as it
    lies, where `dim` is not the last and the result's inner axis spans a 32-byte sector: y, the
    output gradient and the input gradient are contiguous, and column tiles load them along that
    axis (fp16 9046605 x 11 dim 0 transposed, 22 bytes: 0.112 of two copies, through the copy
    0.152; fp32 145306 x 58 x 10 dim 1, 40 bytes: 0.391 and 0.347, H100, benchmarks/NOTES.md
    2026-12-07). Else None, and x is copied first (scanned along the last dim, the copy's rows take
    the row kernels' 16-byte vectors)."""
    if x.is_contiguous():
        return None
    view = turned_view(x, dim)
    if view is None or view[2][3] != 1 or view[0][3] * out_dtype.itemsize < 32:
        return None
    return view

"""cumprod's gradient: a torch.autograd.Function over the forward launch path and the backward kernel."""
import math

import torch

from .dispatch import plan_backward
from .forward import cumprod_forward, device_traits
from .kernels.backward import launch_backward
from .kernels.combine import accumulator_dtype


def cumprod_backward(x, y, grad, dim, out_dtype):
    """The gradient of y = cumprod(x, dim, dtype=out_dtype) for the output gradient `grad`, in x's
    dtype. Exact where x holds zeros: no division (see kernels/backward.py)."""
    gx = torch.empty(x.shape, dtype=x.dtype, device=x.device)
    if gx.numel() == 0:
        return gx
    if x.dim() == 0 or x.shape[dim] == 1:
        return gx.copy_(grad)  # the scan of one element is the element: its gradient passes through
    dim = dim % x.dim()
    x, y, grad = x.contiguous(), y.contiguous(), grad.contiguous()
    n_outer, length, inner = math.prod(x.shape[:dim]), x.shape[dim], math.prod(x.shape[dim + 1:])
    plan = plan_backward(n_outer, length, inner, *device_traits(x.device), out_dtype.itemsize)
    maps = gx
    if plan[1] > 1:
        maps = torch.empty((2, n_outer, plan[1], inner), dtype=accumulator_dtype(out_dtype), device=x.device)
        launch_backward(x, y, grad, gx, maps, n_outer, length, inner, out_dtype, plan, True)
    launch_backward(x, y, grad, gx, maps, n_outer, length, inner, out_dtype, plan, False)
    return gx


class CumprodFunction(torch.autograd.Function):
    """cumprod(input, dim, dtype=out_dtype) with its gradient computed by the Triton kernels.
    Double backward is not supported: it raises."""

    @staticmethod
    def forward(ctx, input, dim, out_dtype):
        output = cumprod_forward(input, dim, out_dtype)
        ctx.save_for_backward(input, output)
        ctx.dim, ctx.out_dtype = dim, out_dtype
        return output

    @staticmethod
    def backward(ctx, grad):
        if torch.is_grad_enabled():
            raise RuntimeError(
                "triton_cumprod.cumprod has no double backward (its backward ran with create_graph=True); "
                "use torch.cumprod where higher-order gradients are needed")
        input, output = ctx.saved_tensors
        return cumprod_backward(input, output, grad, ctx.dim, ctx.out_dtype), None, None

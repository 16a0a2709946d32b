"""The public cumprod: torch.cumprod's semantics on top of the Triton kernels."""
import os
import warnings

import torch

from .forward import cumprod_forward, default_dtype
from .ops import cumprod_op
from .replay import record, replay

# The dtypes the kernels write; the inputs they read are these and bool.
KERNEL_DTYPES = frozenset({
    torch.float16, torch.bfloat16, torch.float32, torch.float64,
    torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8,
})


def result_dtype(input, dtype, out):
    """The dtype torch.cumprod computes in: `dtype=`, else `out`'s, else int64 for integers and bool."""
    if dtype is not None:
        return dtype
    if out is not None:
        return out.dtype
    return default_dtype(input.dtype)


def kernel_dtype(input, dim, dtype, out):
    """The dtype our kernels compute this call in, or None where they do not. Everything else,
    including every call torch rejects, goes to torch.cumprod itself, so that it raises torch's own
    error or computes what we do not: complex and bool or float8 results, devices other than CUDA
    (and the CPU under TRITON_INTERPRET=1), and out= or integer results under autograd."""
    if not isinstance(input, torch.Tensor) or type(dim) is not int:
        return None
    if not input.is_cuda and not (input.device.type == "cpu" and os.environ.get("TRITON_INTERPRET") == "1"):
        return None
    ndim = max(input.dim(), 1)
    if not -ndim <= dim < ndim:
        return None
    if dtype is not None and not isinstance(dtype, torch.dtype):
        return None
    if out is not None:
        if not isinstance(out, torch.Tensor) or out.device != input.device:
            return None
        if dtype is not None and out.dtype != dtype:
            return None
        if out.untyped_storage().data_ptr() == input.untyped_storage().data_ptr():
            return None  # torch decides what an out= sharing the input's memory means
    out_dtype = result_dtype(input, dtype, out)
    if torch.is_grad_enabled() and (input.requires_grad or (out is not None and out.requires_grad)):
        if out is not None or not out_dtype.is_floating_point:
            return None  # torch refuses these under autograd, with its own message
    if (input.dtype in KERNEL_DTYPES or input.dtype == torch.bool) and out_dtype in KERNEL_DTYPES:
        return out_dtype
    return None


def cumprod(input, dim, *, dtype=None, out=None, exclusive=False, reverse=False):
    """Cumulative product of `input` along `dim`, as torch.cumprod(input, dim, dtype=dtype, out=out).

    Integer and bool inputs give int64 unless `dtype` says otherwise; `dtype` casts the input before
    the scan; fp16 and bf16 multiply in fp32. `out` is resized and written as torch does.
    Beyond torch, as TensorFlow's cumprod: `exclusive=True` makes each output the product of the
    elements before it (the first is 1), `reverse=True` scans from the end; the kernels do both in
    place of the plain scan, at its speed.
    """
    exclusive, reverse = bool(exclusive), bool(reverse)
    eager = (out is None and type(input) is torch.Tensor and type(dim) is int and not torch.compiler.is_compiling()
             and not (input.requires_grad and torch.is_grad_enabled()))
    if eager and input.is_cuda:
        y = replay(input, dim, dtype, exclusive, reverse)
        if y is not None:
            return y
    out_dtype = kernel_dtype(input, dim, dtype, out)
    if out_dtype is None:
        # Pass on only what the caller gave, so torch's errors read as if torch had been called.
        options = {name: value for name, value in (("dtype", dtype), ("out", out)) if value is not None}
        if exclusive or reverse:
            return torch_scan(input, dim, options, exclusive, reverse)
        return torch.cumprod(input, dim, **options)
    if input.device.type == "cpu" and out_dtype == torch.bfloat16 and input.dtype != torch.bfloat16:
        # Triton 3.6's interpreter casts float64 and integers to bf16 wrongly: cast as torch does, first.
        input = input.to(torch.bfloat16)
    if eager:
        return record(input, dim, dtype, exclusive, reverse, out_dtype)
    if out is None:
        # Through the custom op: traced by torch.compile, differentiated by autograd.
        return cumprod_op(input, dim, out_dtype, exclusive, reverse)
    if out.shape != input.shape:
        if out.numel() != 0:
            warnings.warn(
                f"An output with one or more elements was resized since it had shape {list(out.shape)}, "
                f"which does not match the required output shape {list(input.shape)}. This behavior is "
                "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                "zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                "elements with t.resize_(0).",
                UserWarning,
            )
        out.resize_(input.shape)
    if out.is_contiguous():
        return cumprod_forward(input, dim, out_dtype, out, exclusive, reverse)
    return out.copy_(cumprod_forward(input, dim, out_dtype, exclusive=exclusive, reverse=reverse))


def torch_scan(input, dim, options, exclusive, reverse):
    """The exclusive or reverse scan from torch's own ops, for the calls our kernels do not compute:
    flips and a shift around torch.cumprod, with torch's errors."""
    out = options.pop("out", None)
    scalar = isinstance(input, torch.Tensor) and input.dim() == 0
    x = input.reshape(1) if scalar else input
    if reverse:
        x = x.flip(dim)
    y = torch.cumprod(x, dim, **options)
    if exclusive:
        y = shift(y, dim, 1)
    if reverse:
        y = y.flip(dim)
    if scalar:
        y = y.reshape(())
    if out is None:
        return y
    return out.resize_(y.shape).copy_(y)


def shift(t, dim, fill):
    """`t` moved one place on along `dim` (t[j - 1] at j), with `fill` at the start."""
    n = t.shape[dim]
    if n == 0:
        return t
    return torch.cat([torch.full_like(t.narrow(dim, 0, 1), fill), t.narrow(dim, 0, n - 1)], dim)

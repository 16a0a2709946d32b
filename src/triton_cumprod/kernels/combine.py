import torch
import triton
import triton.language as tl


@triton.jit
def mul_combine(a, b):
    # The associative operator of the scan; every kernel family scans and reduces with it.
    return a * b


@triton.jit
def pick(values, where, axis: tl.constexpr):
    # The entry of each line along `axis` at the one position `where` marks: a product with ones,
    # so exact, whatever the value (inf, NaN, -0.0).
    return tl.reduce(tl.where(where, values, 1), axis, mul_combine)


def accumulator_dtype(dtype):
    """The dtype a scan producing `dtype` multiplies in: fp32 for the half types, else `dtype` itself."""
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def triton_dtype(dtype):
    """The triton.language dtype for a torch dtype, to pass as a constexpr."""
    return getattr(tl, str(dtype).split(".")[-1])

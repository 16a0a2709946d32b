import torch
import triton
import triton.language as tl


@triton.jit
def mul_combine(a, b):
    # The associative operator of the scan; every kernel family scans and reduces with it.
    return a * b


def accumulator_dtype(dtype):
    """The dtype a scan producing `dtype` multiplies in: fp32 for the half types, else `dtype` itself."""
    if dtype == torch.float16 or dtype == torch.bfloat16:
        return torch.float32
    return dtype


def triton_dtype(dtype):
    """The triton.language dtype for a torch dtype, to pass as a constexpr."""
    return getattr(tl, str(dtype).split(".")[-1])

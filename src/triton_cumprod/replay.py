"""The host path of repeated calls. A small tensor's cumprod costs what the host spends on the call:
the checks, the plan and Triton's dispatch take tens of microseconds against a kernel of a few. So
an eager call whose scan was one launch of the rows or columns kernel on the input itself is
remembered by everything that decided that launch (device, dtypes, shape, strides, alignment, dim,
options), and the next call with the same key launches the compiled kernel again directly."""
import torch

from .forward import run_forward

# key -> (launcher of the compiled kernel on its grid, output dtype, the arguments after x, y, prefix)
_launches = {}
MAX_LAUNCHES = 4096  # layouts remembered; past that the memory starts over


def _key(input, dim, dtype, exclusive, reverse):
    # Triton specialises a launch on its integers (from shape and strides here) and on whether each
    # pointer is 16-byte aligned: the output is a fresh allocation, the input may be a view. A
    # negative-bit view is read through a copy, so it is never recorded; its key must not match.
    return (input.device, input.dtype, input.shape, input.stride(), input.data_ptr() % 16 == 0, input.is_neg(), dim,
            dtype, exclusive, reverse)


def replay(input, dim, dtype, exclusive, reverse):
    """The result of cumprod(input, dim, dtype=dtype, ...) by the launch remembered for this key, or
    None if there is none. Only for eager calls without out= that autograd does not record."""
    launch = _launches.get(_key(input, dim, dtype, exclusive, reverse))
    if launch is None:
        return None
    run, out_dtype, args = launch
    y = torch.empty(input.shape, dtype=out_dtype, device=input.device)
    run(input, y, y, *args)
    return y


def record(input, dim, dtype, exclusive, reverse, out_dtype):
    """cumprod by forward.run_forward, remembering its launch for replay where there was one."""
    y, launch = run_forward(input, dim, out_dtype, exclusive=exclusive, reverse=reverse)
    if launch is not None and input.is_cuda:
        compiled, grid, args = launch
        if len(_launches) >= MAX_LAUNCHES:
            _launches.clear()
        run = compiled[tuple(grid) + (1,) * (3 - len(grid))]  # a compiled kernel's launcher takes three grid sizes
        _launches[_key(input, dim, dtype, exclusive, reverse)] = (run, out_dtype, list(args.values())[3:])
    return y

"""The host path of repeated calls. A small tensor's cumprod costs what the host spends on the call:
the checks, the plan and Triton's dispatch take tens of microseconds against a kernel of a few. So
an eager call whose scan was one launch of a kernel on the input itself (rows, columns, the single
pass) is remembered by everything that decided that launch (device, dtypes, shape, strides,
alignment, dim, options), and the next call with the same key launches the compiled kernel again
directly: through replay.cpp (its parameters packed once, the two pointers written in per call, the
key, the output's allocation and the launch all in C++), else through Triton's launcher."""
import functools
import re
import struct
from pathlib import Path

import torch
from triton import knobs

from .forward import run_forward

# key -> (launch(x, y) of the compiled kernel on its grid, through Triton's launcher; output dtype):
# the calls replay.cpp leaves to Python (it is not built, a profiler listens, or the single pass's
# state belongs to another stream)
_launches = {}
MAX_LAUNCHES = 4096  # layouts remembered; past that the memory starts over


def _key(input, pointer, dim, dtype, exclusive, reverse):
    # Triton specialises a launch on its integers (from shape and strides here) and on whether each
    # pointer is 16-byte aligned: the output is a fresh allocation, the input (at `pointer`) may be a
    # view. A negative-bit view is read through a copy, so it is never recorded; its key must not match.
    # replay.cpp's key holds the same.
    return (input.device, input.dtype, input.shape, input.stride(), pointer % 16 == 0, input.is_neg(), dim, dtype,
            exclusive, reverse)


def _no_native_replay(input, dim, dtype, exclusive, reverse):
    return None


_native_replay = _no_native_replay  # replay.cpp's replay, once record() has built it


def replay(input, dim, dtype, exclusive, reverse):
    """The result of cumprod(input, dim, dtype=dtype, ...) by the launch remembered for this key, or
    None if there is none. Only for eager calls without out= that autograd does not record."""
    y = _native_replay(input, dim, dtype, exclusive, reverse)
    if y is not None:
        return y
    pointer = input.data_ptr()
    launch = _launches.get(_key(input, pointer, dim, dtype, exclusive, reverse))
    if launch is None:
        return None
    run, out_dtype = launch
    # torch.empty_like costs half of torch.empty(shape, dtype=, device=).
    y = torch.empty_like(input, dtype=out_dtype, memory_format=torch.contiguous_format)
    run(pointer, y.data_ptr())
    return y


def record(input, dim, dtype, exclusive, reverse, out_dtype):
    """cumprod by forward.run_forward, remembering its launch for replay where there was one."""
    global _native_replay
    y, launch = run_forward(input, dim, out_dtype, exclusive=exclusive, reverse=reverse)
    if launch is not None and input.is_cuda and not torch.cuda.is_current_stream_capturing():
        if len(_launches) >= MAX_LAUNCHES:
            _launches.clear()
        _launches[_key(input, input.data_ptr(), dim, dtype, exclusive, reverse)] = (launcher(*launch), out_dtype)
        native = _native()
        packed = None if native is None else pack(*launch)
        if packed is not None:
            native.remember(input, dim, dtype, exclusive, reverse, *packed, out_dtype, held_state(launch[2]),
                            torch.cuda.current_stream().cuda_stream, knobs.runtime)
            _native_replay = native.replay
    return y


def forget():
    """Drop every remembered launch."""
    _launches.clear()
    if _native.cache_info().currsize:
        native = _native()
        if native is not None:
            native.forget()


def launcher(compiled, grid, args):
    """launch(x, y): the compiled kernel on `grid` with `args` (in the kernel's order: x, y, then a
    third pointer where the kernel takes one, then the rest) through Triton's launcher. The third
    is y again where the kernel reads no prefix (rows, columns), else the single pass's state
    (kernels/lookback.py), which a call leaves zeroed for the next one on its stream: replays on the
    recording call's stream take it, other streams and graph captures fresh zeros (a graph owns
    what it captures). kernels/flat.py takes two pointers."""
    grid = tuple(grid) + (1,) * (3 - len(grid))
    values = list(args.values())
    state = held_state(args)
    takes_third = isinstance(values[2], torch.Tensor)
    rest = values[3:] if takes_third else values[2:]
    runner = compiled[grid]
    current_stream, current_device = torch._C._cuda_getCurrentRawStream, torch._C._cuda_getDevice
    home = current_stream(current_device())
    capturing = torch._C._cuda_isCurrentStreamCapturing

    def launch(x, y):
        if not takes_third:
            return runner(x, y, *rest)
        if state is not None and (current_stream(current_device()) != home or capturing()):
            return runner(x, y, torch.zeros_like(state), *rest)
        return runner(x, y, y if state is None else state, *rest)

    return launch


@functools.cache
def _native():
    """replay.cpp, built at first use by torch.utils.cpp_extension (kept in its build directory for
    the next process), or None where it cannot be built (no C++ compiler or ninja, a torch without
    CUDA): replays then go through Triton's launcher."""
    if not torch.cuda.is_available():
        return None
    try:
        from torch.utils import cpp_extension
        from triton.backends.nvidia.driver import include_dirs, library_dirs

        return cpp_extension.load("triton_cumprod_replay", [str(Path(__file__).parent / "replay.cpp")],
                                  extra_include_paths=include_dirs, extra_cflags=["-O2"],
                                  extra_ldflags=[*(f"-L{d}" for d in library_dirs()), "-lcuda", "-lc10_cuda"])
    except Exception:  # no compiler, no ninja, headers or libraries missing
        return None


def held_state(args):
    """The launch's third argument where it is a pointer other than the output (rows and columns pass
    the output for the prefix they do not read): the single pass's state, else None."""
    _, y, third = list(args.values())[:3]
    return third if isinstance(third, torch.Tensor) and third is not y else None


PTX_PARAM = re.compile(r"\.param\s+\.[bsu](32|64)\b")
SLOT_FORMATS = {"i32": "<i4x", "u32": "<I4x", "i64": "<q", "u64": "<Q"}


def pack(compiled, grid, args):
    """replay.cpp's packed launch of `compiled` on `grid`, as remember() takes it (function, grid,
    block, shared bytes, slots, and the slots of the input, the output and the third pointer):
    every parameter in an 8-byte slot, as Triton passes them (its specialisation dropped integers
    equal to 1 and the constexprs, and two scratch pointers follow the arguments). None where the
    kernel's parameters are anything but two or three pointers and integers, or its PTX declares
    other parameters. A third pointer other than the output (a state) is packed; replay.cpp writes
    the output into the third slot too, so there, and for kernels of two pointers, it gets the
    output's own slot."""
    grid = tuple(grid) + (1,) * (3 - len(grid))
    signature = getattr(getattr(compiled, "src", None), "signature", None)
    triton_launcher = compiled.run
    if (not isinstance(signature, dict) or getattr(triton_launcher, "global_scratch_size", 1)
            or getattr(triton_launcher, "profile_scratch_size", 1)
            or getattr(triton_launcher, "launch_cooperative_grid", 1) or getattr(triton_launcher, "launch_pdl", 1)
            or compiled.metadata.num_ctas != 1
            or not hasattr(knobs.runtime.launch_enter_hook, "calls")):
        return None
    state = held_state(args)
    slots, bits, pointers = [], [], []
    for name, value in args.items():
        kind = signature.get(name)
        if kind == "constexpr":
            continue
        if isinstance(kind, str) and kind.startswith("*"):
            pointers.append(len(slots))
            slots.append(struct.pack("<Q", value.data_ptr() if value is state else 0))
            bits.append("64")
        elif kind in SLOT_FORMATS:
            slots.append(struct.pack(SLOT_FORMATS[kind], value))
            bits.append(kind[1:])
        else:
            return None
    slots += [struct.pack("<Q", 0)] * 2
    bits += ["64"] * 2
    ptx = compiled.asm.get("ptx", "")
    entry = ptx.find(".entry")
    if len(pointers) not in (2, 3) or entry < 0 or PTX_PARAM.findall(ptx[entry:ptx.find(")", entry)]) != bits:
        return None
    return (compiled.function, *grid, 32 * compiled.metadata.num_warps, compiled.metadata.shared, b"".join(slots),
            pointers[0], pointers[1], pointers[2] if len(pointers) == 3 and state is None else pointers[1])

"""Compile the kernels a cumprod call (or its backward) would launch, for a GPU generation, on a
machine without a GPU.

    python -m triton_cumprod.compile_check --arch 90 --shape 32768,32768 --dim 1 --dtype float32
    python -m triton_cumprod.compile_check --arch 89 --sweep 200 --seed 0 [--gradient] [--exclusive] [--reverse]

Runs the real launch path (plan, split recursion, launchers) on CPU tensors of the given shape, with
each kernel launch replaced by an ahead-of-time compile for `sm_<arch>` through Triton's own
compiler and ptxas. It reports, per launch, the widest global load (or pipelined copy to shared
memory) and store in the PTX, any local-memory traffic, and the registers and register spills ptxas
assigns, so CI catches compiler crashes, lost vectorisation and spills that only a GPU would
otherwise show. For the single passes, which a GPU compiles to fewer registers where one more
program then fits (kernels/lookback.py: launch_resident), it also reports that cap and the capped
compile's registers and spills. `--sweep` compiles the layouts `bench --sweep` draws with the same
seed, a line a launch, and lists those that spill. Must run without TRITON_INTERPRET (the kernels
must be compiled functions).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import torch
import triton
from triton.backends.compiler import GPUTarget
from triton.backends.nvidia.compiler import get_ptxas
from triton.compiler import ASTSource

from triton_cumprod import autograd, forward
from triton_cumprod.bench import draw_sweep, sweep_input
from triton_cumprod.dispatch import register_cap
from triton_cumprod.kernels import backward, cols, flat, lookback, rows
from triton_cumprod.kernels import transposed as transposed_kernels

# What a GPU generation reports to the dispatcher: (multiprocessors, capability).
TRAITS = {89: (128, (8, 9)), 90: (132, (9, 0))}
THREADS_PER_SM = {89: 1536, 90: 2048}  # both hold 65536 registers a multiprocessor
RESIDENT_KERNELS = {"scan_lookback_kernel", "scan_lookback_cols_kernel", "backward_lookback_kernel"}
POINTER_TYPES = {
    torch.float16: "*fp16", torch.bfloat16: "*bf16", torch.float32: "*fp32", torch.float64: "*fp64",
    torch.int8: "*i8", torch.int16: "*i16", torch.int32: "*i32", torch.int64: "*i64", torch.uint8: "*u8",
    torch.bool: "*i1",
}


def _signature(kernel, args, kwargs):
    """Triton's specialisation of a launch, as its launcher would make it: pointers and integers
    divisible by 16 get the divisibility hint, integers equal to 1 become constants. Returns the
    signature, the constants, the attributes and the kernel's own constexpr arguments."""
    names = kernel.arg_names
    values = {**dict(zip(names, args)), **kwargs}
    constexprs = {p.name: values[p.name] for p in kernel.params if p.is_constexpr}
    signature, constants, aligned = {}, dict(constexprs), []
    for name, value in ((name, values[name]) for name in names if name not in constexprs):
        if isinstance(value, torch.Tensor):
            signature[name] = POINTER_TYPES[value.dtype]
            if value.data_ptr() % 16 == 0:  # a meta tensor's pointer is its offset into storage
                aligned.append(name)
        elif value == 1:
            signature[name] = "constexpr"
            constants[name] = 1
        else:
            signature[name] = "i32" if -2**31 <= value < 2**31 else "i64"
            if value % 16 == 0:
                aligned.append(name)
    for name in constexprs:
        signature[name] = "constexpr"
    attrs = {(names.index(name),): [["tt.divisibility", 16]] for name in aligned}
    return {name: signature[name] for name in names}, constants, attrs, constexprs


def _vector_bits(ptx, op):
    """Widest access of `op` ('ld.global' or 'st.global') in bits, 0 if there is none."""
    widest = 0
    for match in re.finditer(re.escape(op) + r"(?:\.[a-zA-Z0-9_:]+)*?(?:\.v(\d))?\.b(\d+)", ptx):
        widest = max(widest, int(match.group(1) or 1) * int(match.group(2)))
    return widest


def _async_copy_bits(ptx):
    """Widest global-to-shared copy (cp.async, how pipelined loads read) in bits, 0 if there is none."""
    sizes = re.findall(r"cp\.async\.c[ag]\.shared\.global[^,]*,[^,]*,\s*(0x[0-9a-fA-F]+|\d+)", ptx)
    return max((8 * int(size, 0) for size in sizes), default=0)


def _registers(ptx, arch):
    """(registers a thread, bytes spilled to local memory) as ptxas assigns them: spills of the
    register allocator never show in the PTX itself."""
    with tempfile.TemporaryDirectory() as tmp:
        source = os.path.join(tmp, "kernel.ptx")
        with open(source, "w") as f:
            f.write(ptx)
        target = f"sm_{arch}a" if arch >= 90 else f"sm_{arch}"
        log = subprocess.run([get_ptxas(arch).path, "-v", "--gpu-name", target, source, "-o", os.path.join(tmp, "k.o")],
                             capture_output=True, text=True, check=True).stderr
    registers = int(re.search(r"Used (\d+) registers", log).group(1))
    spills = sum(int(n) for n in re.findall(r"(\d+) bytes spill stores", log))
    return registers, spills


class _Compiler:
    """Stands in for a kernel: `kernel[grid](*args, **kwargs)` compiles instead of launching."""

    def __init__(self, kernel, arch, report):
        self.kernel, self.arch, self.report = kernel, arch, report

    def __getitem__(self, grid):
        def compile_launch(*args, num_warps=4, **kwargs):
            signature, constants, attrs, constexprs = _signature(self.kernel, args, kwargs)
            source = ASTSource(self.kernel, signature, constants, attrs)
            ptx, shared = self._ptx(source, num_warps)
            launch = {
                "kernel": self.kernel.__name__, "grid": list(grid), "num_warps": num_warps,
                "constexprs": {k: str(v) for k, v in constexprs.items()},
                "load_bits": max(_vector_bits(ptx, "ld.global"), _async_copy_bits(ptx)),
                "store_bits": _vector_bits(ptx, "st.global"),
                "local_memory": "ld.local" in ptx or "st.local" in ptx,
                **dict(zip(("registers", "spill_bytes"), _registers(ptx, self.arch))),
                "shared_bytes": shared,
            }
            if self.kernel.__name__ in RESIDENT_KERNELS:
                cap = register_cap(launch["registers"], 32 * num_warps, threads_per_sm=THREADS_PER_SM[self.arch])
                launch["resident_maxnreg"] = cap
                if cap is not None:
                    capped = _registers(self._ptx(source, num_warps, maxnreg=cap)[0], self.arch)
                    launch.update(zip(("resident_registers", "resident_spill_bytes"), capped))
            self.report.append(launch)
        return compile_launch

    def _ptx(self, source, num_warps, **options):
        """(PTX, shared memory bytes) of `source` compiled for this generation."""
        compiled = triton.compile(source, target=GPUTarget("cuda", self.arch, 32),
                                  options={"num_warps": num_warps, **options})
        return compiled.asm["ptx"], compiled.metadata.shared


def compile_call(shape, dim, dtype, arch, out_dtype=None, transposed=False, gradient=False, exclusive=False,
                 reverse=False):
    """The report of every kernel cumprod(x, dim, dtype=out_dtype, exclusive=..., reverse=...)
    launches on sm_<arch>, or with `gradient` every kernel its backward launches. `transposed`: x
    is a 2-D transpose, or, given as a list, the order of x's dims in memory (its last contiguous)."""
    if isinstance(transposed, (list, tuple)):
        order = list(transposed)
    else:
        order = list(range(len(shape)))[::-1 if transposed else 1]
    x = torch.empty([shape[d] for d in order], dtype=dtype, device="meta")
    return compile_input(x.permute(*[order.index(d) for d in range(len(shape))]), dim, arch, out_dtype, gradient,
                         exclusive, reverse)


def compile_input(x, dim, arch, out_dtype=None, gradient=False, exclusive=False, reverse=False):
    """compile_call on a meta tensor `x`, which may be any view: its strides and its offset into
    storage (alignment) are what the launches are specialised on."""
    out_dtype = out_dtype or forward.default_dtype(x.dtype)
    y = torch.empty(x.shape, dtype=out_dtype, device="meta")
    report = []
    kernels = [(rows, "scan_rows_kernel"), (cols, "scan_cols_kernel"), (flat, "scan_flat_rows_kernel"),
               (flat, "backward_flat_rows_kernel"),
               (lookback, "scan_lookback_kernel"),
               (lookback, "scan_lookback_cols_kernel"), (lookback, "scan_chain_cols_kernel"),
               (transposed_kernels, "scan_transposed_kernel"),
               (backward, "backward_rows_kernel"), (backward, "backward_line_kernel"),
               (backward, "backward_cols_kernel"),
               (backward, "backward_lookback_kernel"), (backward, "backward_chain_cols_kernel")]
    saved = [getattr(module, name) for module, name in kernels]
    saved_traits = forward.device_traits, autograd.device_traits
    forward.device_traits = autograd.device_traits = lambda device: TRAITS[arch]
    for (module, name), kernel in zip(kernels, saved):
        setattr(module, name, _Compiler(kernel, arch, report))
    try:
        if gradient:
            autograd.cumprod_backward(x, y, torch.empty_like(y), dim, out_dtype, exclusive, reverse)
        else:
            forward.run_forward(x, dim, out_dtype, y, exclusive, reverse)
    finally:
        forward.device_traits, autograd.device_traits = saved_traits
        for (module, name), kernel in zip(kernels, saved):
            setattr(module, name, kernel)
    return report


def launch_line(launch):
    """One launch of a report in a line: kernel, grid, tile constants, warps, access widths,
    registers and spill."""
    tile = " ".join(f"{k}={v}" for k, v in launch["constexprs"].items()
                    if k in ("BLOCK", "BLOCK_L", "BLOCK_I", "ROWS", "RUN", "VEC", "UNIT", "STAGES"))
    return (f"{launch['kernel']} grid={'x'.join(map(str, launch['grid']))} {tile} warps={launch['num_warps']} "
            f"ld={launch['load_bits']} st={launch['store_bits']} regs={launch['registers']} "
            f"spill={launch['spill_bytes']}")


def compile_sweep(n, seed, arch, gradient=False, exclusive=False, reverse=False):
    """(case, report) for each of the `n` layouts bench's sweep draws with `seed`."""
    for case in draw_sweep(n, seed, gradient):
        yield case, compile_input(sweep_input(case, "meta"), case.dim, arch, None, gradient, exclusive, reverse)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", type=int, choices=sorted(TRAITS), default=90)
    parser.add_argument("--shape", help="e.g. 32768,32768")
    parser.add_argument("--sweep", type=int, metavar="N", help="the N layouts of bench --sweep N instead of --shape")
    parser.add_argument("--seed", type=int, default=0, help="the sweep's seed")
    parser.add_argument("--dim", type=int, default=-1)
    parser.add_argument("--dtype", default="float32")
    parser.add_argument("--out-dtype", help="dtype= of the call")
    parser.add_argument("--transposed", action="store_true", help="a transposed (non-contiguous) 2-D input")
    parser.add_argument("--order", help="the order of the input's dims in memory, e.g. 0,3,2,1 (the last contiguous)")
    parser.add_argument("--gradient", action="store_true", help="the backward's kernels instead of the forward's")
    parser.add_argument("--exclusive", action="store_true", help="an exclusive scan")
    parser.add_argument("--reverse", action="store_true", help="a reverse scan")
    args = parser.parse_args(argv)
    if bool(args.shape) == bool(args.sweep):
        parser.error("give one of --shape and --sweep")
    if args.sweep:
        spilled = []
        for case, report in compile_sweep(args.sweep, args.seed, args.arch, args.gradient, args.exclusive,
                                          args.reverse):
            name = f"{case.dtype} {'x'.join(map(str, case.shape))} dim {case.dim} {case.view}"
            print(name, flush=True)
            for launch in report:
                print("   ", launch_line(launch), flush=True)
            if any(launch["spill_bytes"] for launch in report):
                spilled.append(name)
        print(f"{len(spilled)} of {args.sweep} layouts spill on sm_{args.arch}:", *spilled, sep="\n  ")
        return 0
    shape = tuple(int(s) for s in args.shape.split(","))
    out_dtype = getattr(torch, args.out_dtype) if args.out_dtype else None
    layout = [int(d) for d in args.order.split(",")] if args.order else args.transposed
    report = compile_call(shape, args.dim, getattr(torch, args.dtype), args.arch, out_dtype, layout, args.gradient,
                          args.exclusive, args.reverse)
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

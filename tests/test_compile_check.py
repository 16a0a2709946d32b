"""The kernels compile for sm_89 (the prompt's RTX 4090) and sm_90 (H200) with global accesses as
wide as their layout allows and no spills, checked without a GPU through triton_cumprod.compile_check."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[1] / "src")

# (shape, dim, dtype, dtype=, transposed (or the order of x's dims in memory), whether the last
#  launch's accesses must be as wide as its layout allows, backward, exclusive, reverse)
CASES = [
    ((32768, 32768), 1, "float32", None, False, True),
    ((32768, 32768), 1, "bfloat16", None, False, True),
    ((32768, 32768), 0, "float32", None, False, True),
    ((4194304, 64), 1, "float32", None, False, True),
    ((64, 4096, 1024), 1, "float32", None, False, True),
    ((16384, 32768), 1, "float64", None, False, True),
    ((32768, 32768), 1, "float32", None, True, True),
    ((268435456,), 0, "float32", None, False, True),
    ((16, 16777216), 1, "bfloat16", None, False, True),
    ((32768, 32768), 0, "bfloat16", None, False, True),
    ((16777216, 4), 0, "float32", None, False, False),
    ((1000, 1003), 1, "float32", "float16", False, False),
    ((3, 5, 7), 1, "bool", None, False, False),
    ((7, 300001), 1, "int8", "int64", False, False),
    ((32768, 32768), 1, "float32", None, False, False, True),
    ((32768, 32768), 0, "float32", None, False, True, True),
    ((268435456,), 0, "float32", None, False, False, True),
    ((64, 4096, 1024), 1, "bfloat16", None, False, True, True),
    ((5, 7, 3), 2, "float16", "float32", False, False, True),
    ((32768, 32768), 1, "float32", None, False, True, False, True, True),
    ((32768, 32768), 1, "float32", None, False, True, False, True, False),
    ((32768, 32768), 0, "float32", None, False, True, False, True, False),
    ((32768, 32768), 0, "float32", None, False, True, False, False, True),
    ((32768, 32768), 0, "bfloat16", None, False, True, False, True, True),
    ((2, 300007), 1, "float64", None, False, False, False, False, True),
    ((268435456,), 0, "float32", None, False, True, False, False, True),
    ((32768, 32768), 1, "bfloat16", None, False, True, False, False, True),
    ((32768, 32768), 1, "float32", None, False, True, True, True, False),
    ((32768, 32768), 1, "bfloat16", None, False, True, True, False, True),
    ((16384, 32768), 1, "float64", None, False, True, True),
    ((268435456,), 0, "float32", None, False, True, True, True, True),
    ((64, 4096, 1024), 1, "bfloat16", None, False, True, True, True, True),
    # Sizes that are not multiples of 16: every strategy keeps 16-byte accesses (kernels/rows.py,
    # kernels/lookback.py: tiles on vectors, a row's head and tail apart; the column chain).
    ((32768, 32767), 1, "float32", None, False, True),
    ((1048576, 999), 1, "float32", None, False, True),
    ((4097, 4095), 1, "bfloat16", None, False, True),
    ((268435455,), 0, "float32", None, False, True),
    ((100000007,), 0, "float32", None, False, True, False, False, True),
    ((32768, 32767), 1, "float32", None, False, True, False, True, True),
    ((131072, 8192), 0, "float32", None, False, True),
    ((32768, 32767), 1, "float32", None, False, True, True),
    ((1048576, 999), 1, "float32", None, False, True, True),
    ((100000007,), 0, "float32", None, False, True, True),
    ((131072, 8192), 0, "float32", None, False, True, True),
    # Integer rows of 8-byte inputs take the single pass too.
    ((100000007,), 0, "int64", None, False, True),
    ((100000007,), 0, "int64", None, False, True, False, True, True),
    # float64 rows take the single pass too.
    ((134217727,), 0, "float64", None, False, True),
    # Lengths a multiple of the vector but not of 16 elements: rows start and end on vectors, which
    # the compiler must be told (it saw 8-byte accesses on float64 47488622, 4-byte on float32 1000004).
    ((47488622,), 0, "float64", None, False, True),
    ((1000004,), 0, "float32", None, False, True),
    ((1000008,), 0, "bfloat16", None, False, True, False, True, True),
    # Column walks that fe95267 takes instead of three stages (float64 lines two steps deep) and of
    # the unaligned chain (98 columns of many lines): no spill.
    ((141, 8, 52, 190), 2, "float64", None, False, False),
    ((8, 638, 301, 98), 2, "float32", None, False, False),
    # Short rows of 8-byte results: tiles of 16 values a thread (at 32 they spilled, forward and
    # gradient).
    ((6244872, 10), 1, "int32", None, False, True),
    ((1118464, 15), 1, "float64", None, False, True),
    ((1118464, 15), 1, "float64", None, False, True, True),
    # Rows of fewer than 16, forward: one flat array, rows as segments (kernels/flat.py), 16 bytes
    # whatever the length, every type.
    ((6000001, 3), 1, "float32", None, False, True),
    ((4, 734, 2127, 10), 3, "int32", None, False, True),
    ((4000000, 5), 1, "float64", None, False, True),
    ((6000000, 7), 1, "float16", None, False, True),
    ((6000001, 7), 1, "float16", None, False, True, False, True, True),
    ((4000000, 5), 1, "float64", None, False, True, False, True, False),
    ((6000000, 3), 1, "float32", None, False, True),
    ((446, 102, 345, 4), 3, "float32", None, False, True),
    ((6000000, 2), 1, "bfloat16", None, False, True, False, True, True),
    # Their gradient: the same flat array (kernels/flat.py: backward_flat_rows_kernel).
    ((6000000, 3), 1, "float32", None, False, True, True),
    ((6000001, 3), 1, "float32", None, False, True, True, True, False),
    ((4000000, 5), 1, "float64", None, False, True, True, False, True),
    ((2955, 3, 723, 7), 3, "float16", None, False, True, True),
    ((4000000, 8), 1, "float64", None, False, True, True),
    ((4000000, 5), 1, "bfloat16", None, False, True, True, True, True),
    # Transposed inputs scanned along their contiguous dim: small column tiles on several warps.
    ((4095, 65535), 0, "float32", None, True, False),
    ((1914, 22690), 0, "bfloat16", None, True, False),
    ((13375, 6072), 0, "int32", None, True, False),
    # 8-byte results of such inputs whose lines hold few warps: deep tiles, 8 columns by 128
    # positions; 16 bytes where the stride allows, no spill.
    ((13376, 6080), 0, "float64", None, True, True),
    ((13376, 6080), 0, "int32", None, True, True),
    ((13375, 6072), 0, "float64", None, True, False, False, True, True),
    ((2000, 3001), 0, "float32", None, True, False, False, True, True),
    # Dims that do not merge around the scan (kernels/transposed.py), given as the order of the
    # input's dims in memory: loads along the scan, stores along inner, 16 bytes where the sizes
    # allow; no spill.
    ((8, 64, 32, 64), 1, "float32", None, [0, 3, 2, 1], True),
    ((88, 20, 208, 75), 1, "float32", None, [0, 3, 2, 1], False),
    ((5, 3115, 190, 41), 1, "float64", None, [0, 3, 2, 1], False),
    ((387, 207, 5, 114), 3, "float64", None, [3, 1, 2, 0], False, False, True, True),
    ((555, 189, 145), 0, "bfloat16", None, [1, 0, 2], False),
    # The gradient's column chain where the tile's rows do not start on 16 bytes: no spill with its
    # float64 tile products; odd neighbours of the chain's layouts take it too.
    ((999, 3, 4097), 0, "float32", None, False, False, True),
    ((131071, 8193), 0, "float16", None, False, False, True, True, True),
    # Column rows that start on 16 bytes with an inner size no multiple of 16, which Triton cannot
    # tell without combine.stride_unit: whole vectors, forward and gradient, walks and chains.
    ((13375, 6072), 0, "float32", None, False, True, True),
    ((13375, 6072), 0, "float32", None, False, True),
    ((64, 4096, 1000), 1, "float32", None, False, True),
    ((64, 4096, 1000), 1, "float32", None, False, True, True),
    ((64, 4096, 1000), 1, "bfloat16", None, False, True, True, True, True),
    ((64, 4096, 1000), 1, "float16", None, False, True, True),
    # The gradient's walk masks its rows by their numbers in the tile too: through their positions
    # it kept 156-159 registers (fp32 100001 x 2002 dim 0, its second launch; 94-96 so).
    ((100001, 2002), 0, "float32", None, False, False, True),
    ((1000, 1003), 0, "float32", None, False, False, True, True, True),
    # A forward walk whose length is no multiple of 16 masks its rows by their numbers in the tile:
    # through their positions it spilled 728-956 bytes (kernels/cols.py: scan_cols_kernel).
    ((5104, 301, 100), 1, "float32", None, False, True),
    ((5104, 301, 128), 1, "float32", None, False, True),
    ((5104, 301, 128), 1, "bfloat16", None, False, True),
    ((5104, 301, 128), 1, "float32", None, False, True, False, True, False),
    # The forward chain where rows do not start on 16 bytes: half as deep, no spill (at 128
    # positions 124 bytes on sm_90, 312 on sm_89).
    ((131071, 8191), 0, "float32", None, False, False),
    ((131071, 8193), 0, "float16", "float32", False, False),
    # The single pass over a few 16-bit columns that are not a packed run of vectors: an element a
    # register, on as many warps as fp32 (on half it spilled 80-556 bytes).
    ((116780, 5), 0, "float16", None, False, False),
    ((3, 77026, 10), 1, "bfloat16", None, False, False, False, True, True),
    ((4, 16777216, 3), 1, "float16", None, False, False, False, True, True),
]
CASES = [case + (False,) * (9 - len(case)) for case in CASES]
ELEMENT_BITS = {"fp16": 16, "bf16": 16, "fp32": 32, "fp64": 64}


def access_bits(launch):
    """The widest access `launch`'s layout allows: 16 bytes, or a column kernel's (forward or
    gradient) run of columns where each lane owns RUN of them (kernels/cols.py: column_run)."""
    constexprs = launch["constexprs"]
    if (launch["kernel"] in ("scan_cols_kernel", "backward_cols_kernel")
            and int(constexprs["RUN"]) < int(constexprs["BLOCK_I"])):
        return int(constexprs["RUN"]) * ELEMENT_BITS[constexprs["OUT"]]
    return 128

SCRIPT = """
import json, sys, torch
from triton_cumprod.compile_check import compile_call
cases = json.loads(sys.argv[1])
out = []
for arch in (89, 90):
    for shape, dim, dtype, out_dtype, transposed, _, gradient, exclusive, reverse in cases:
        out.append(compile_call(tuple(shape), dim, getattr(torch, dtype), arch,
                                getattr(torch, out_dtype) if out_dtype else None, transposed, gradient, exclusive,
                                reverse))
print(json.dumps(out))
"""


def compiled(*args):
    """A Python process on `args` with the kernels compiled (TRITON_INTERPRET unset), that succeeded."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = SRC
    run = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-4000:]
    return run


@pytest.fixture(scope="module")
def reports():
    run = compiled("-c", SCRIPT, json.dumps(CASES))
    results = json.loads(run.stdout.splitlines()[-1])
    return dict(zip([(arch, i) for arch in (89, 90) for i in range(len(CASES))], results))


@pytest.mark.parametrize("arch", [89, 90])
@pytest.mark.parametrize("case", range(len(CASES)), ids=[f"{c[0]}-dim{c[1]}-{c[2]}{'-T' if c[4] else ''}{'-grad' if c[6] else ''}{'-excl' if c[7] else ''}"
                                                     f"{'-rev' if c[8] else ''}" for c in CASES])
def test_kernels_compile(reports, arch, case):
    launches = reports[(arch, case)]
    assert launches, "the call launched no kernel"
    for launch in launches:
        assert not launch["local_memory"], f"spills to local memory: {launch}"
        assert launch["spill_bytes"] == 0, f"ptxas spills registers: {launch}"
        assert launch["shared_bytes"] <= 99 * 1024, f"more shared memory than sm_89 gives a block: {launch}"
        assert launch["load_bits"] > 0 and launch["store_bits"] > 0
    if CASES[case][5]:
        final = launches[-1]
        bits = access_bits(final)
        assert final["load_bits"] == bits and final["store_bits"] == bits, f"accesses are not {bits} bits wide: {final}"


def test_single_pass_fits_one_more_program(reports):
    # The fp32 1-D single pass: 72 registers (7 programs of 4 warps a multiprocessor), 64 (8) under
    # the cap lookback.launch_resident takes, without a spill, on both generations (H200: 0.763 ->
    # 0.789 of copy). Every single-pass launch reports its cap.
    case = CASES.index(((268435456,), 0, "float32", None, False, True, False, False, False))
    for arch in (89, 90):
        (launch,) = reports[(arch, case)]
        assert launch["kernel"] == "scan_lookback_kernel", launch
        assert launch["resident_maxnreg"] == 64 and launch["resident_registers"] <= 64, launch
        assert launch["resident_spill_bytes"] == 0, launch
    resident = [launch for launches in reports.values() for launch in launches if "lookback" in launch["kernel"]]
    assert resident and all("resident_maxnreg" in launch for launch in resident)


def test_integer_single_pass_registers(reports):
    # Integer rows of odd length: the carry past a tile's body is its product times the carry into
    # it, not read off its scan, which would stay live past the store (int32 -> int64 on sm_90: 212
    # registers, one program of 8 warps a multiprocessor; 94 so).
    case = CASES.index(((100000007,), 0, "int64", None, False, True, False, False, False))
    for arch in (89, 90):
        (launch,) = reports[(arch, case)]
        assert launch["kernel"] == "scan_lookback_kernel" and launch["constexprs"]["EDGES"] == "True", launch
        assert launch["registers"] <= 128 and launch["spill_bytes"] == 0, launch


def test_flat_rows_odd_count_registers(reports):
    # An odd element count: the last tile masks at the last multiple of 16 and scans the rest on 16
    # lanes; a mask at the odd bound itself would load element by element (fp32 rows of 3, sm_90:
    # 182 registers a thread, 94 so).
    for case in (CASES.index(((6000001, 3), 1, "float32", None, False, True, False, False, False)),
                 CASES.index(((6000001, 7), 1, "float16", None, False, True, False, True, True)),
                 CASES.index(((6000001, 3), 1, "float32", None, False, True, True, True, False))):
        for arch in (89, 90):
            (launch,) = reports[(arch, case)]
            assert launch["constexprs"]["MASKED"] == "True" and launch["registers"] <= 128, launch


def test_vector_width_reader():
    from triton_cumprod.compile_check import _vector_bits

    ptx = "ld.global.v4.b32 { %r1 }, [ %rd1 ];\n@%p1 st.global.b16 [ %rd2 ], { %rs1 };\nld.global.L1::evict_last.v2.b32 {}"
    assert _vector_bits(ptx, "ld.global") == 128
    assert _vector_bits(ptx, "st.global") == 16
    assert _vector_bits("", "ld.global") == 0


def test_async_copy_width_reader():
    from triton_cumprod.compile_check import _async_copy_bits

    ptx = "cp.async.cg.shared.global [ %r11 + 0 ], [ %rd13 + 0 ], 0x10, %r12;\ncp.async.ca.shared.global [ %r1 ], [ %rd2 ], 0x4, %r3;"
    assert _async_copy_bits(ptx) == 128
    assert _async_copy_bits(ptx.splitlines()[1]) == 32
    assert _async_copy_bits("ld.global.v4.b32 { %r1 }, [ %rd1 ];") == 0


def test_sweep_audit():
    # `--sweep` compiles the layouts bench's sweep draws (views too: a transposed one is among
    # seed 0's first three), a line a layout and its launches, then the count that spill.
    run = compiled("-m", "triton_cumprod.compile_check", "--sweep", "3", "--seed", "0")
    lines = run.stdout.splitlines()
    summary = next(i for i, line in enumerate(lines) if "layouts spill on sm_90" in line)
    layouts = [line for line in lines[:summary] if not line.startswith(" ")]
    assert len(layouts) == 3 and any("transposed" in line for line in layouts), lines
    assert all(line.startswith("    ") and "regs=" in line for line in lines[:summary] if line not in layouts)
    assert lines[summary].split()[:3] == [str(len(lines) - summary - 1), "of", "3"]


ALIGNMENT_SCRIPT = """
import torch
from triton_cumprod.compile_check import _signature
from triton_cumprod.kernels.rows import scan_rows_kernel
x = torch.empty(4, 9, device="meta")
names = scan_rows_kernel.arg_names
for view in (x, x[:, 1:]):
    attrs = _signature(scan_rows_kernel, [], {**{name: 3 for name in names}, "x_ptr": view})[2]
    print((names.index("x_ptr"),) in attrs)
"""


def test_sliced_view_is_not_aligned():
    # A view one element into its storage starts off 16 bytes: the compile must not assume it does.
    run = compiled("-c", ALIGNMENT_SCRIPT)
    assert run.stdout.split() == ["True", "False"]

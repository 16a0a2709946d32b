"""triton_cumprod.dispatch.plan_scan: the choice of strategy, tiles and split, as a pure function,
and end to end at each cut-over the plan makes (block boundaries, the split threshold, the number of
lines below which a scan is split). Block sizes are read from plan_scan, never hard-coded, so these
tests follow the tuning."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st


from reference import MAX_GRID_X, MAX_GRID_YZ, assert_cumprod_matches, near_one, plan_like_forward, random_input
from triton_cumprod import cumprod
from triton_cumprod.dispatch import plan_scan
from triton_cumprod.forward import default_dtype, device_traits, view_plan
from triton_cumprod.layout import scan_view

# (n_sm, compute capability) pairs: the interpreter's, and GPUs from sm_70 to sm_120.
MACHINES = [(4, (0, 0)), (80, (7, 0)), (108, (8, 0)), (128, (8, 9)), (132, (9, 0)), (148, (10, 0)), (170, (12, 0)), (1, (9, 0))]


def cdiv(a, b):
    return -(-a // b)


def is_pow2(n):
    return n >= 1 and n & (n - 1) == 0


def grid_of(plan, n_outer, inner):
    """The launch grid of a plan, as kernels/rows.py and kernels/cols.py compute it."""
    kind, n_chunks, _, block_a, *_ = plan
    if kind == "rows":
        return cdiv(n_outer, block_a), n_chunks
    return n_outer * cdiv(inner, block_a), n_chunks


ITEMSIZES = [1, 2, 4, 8]


def plan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize=4, scan_contiguous=False):
    return plan_scan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize,
                     scan_contiguous=scan_contiguous)


def check_plan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize=4, scan_contiguous=False):
    plan_ = plan(n_outer, length, inner, unit_stride, n_sm, capability, itemsize, scan_contiguous)
    where = f"plan_scan{(n_outer, length, inner, unit_stride, n_sm, capability, itemsize, scan_contiguous)} = {plan_}"
    kind, n_chunks, chunk, block_a, block_l, num_warps, num_stages = plan_
    if kind == "lookback":
        # The single pass: rows of stride 1, n_chunks tiles of block_l a row, one launch.
        assert inner == 1 and unit_stride, where
        assert n_chunks * block_l >= length > (n_chunks - 1) * block_l, where
        assert is_pow2(block_l) and num_warps in (1, 2, 4, 8), where
        assert 1 <= n_outer * n_chunks <= MAX_GRID_X, where
        return plan_
    assert kind == ("rows" if inner == 1 else "cols"), where
    assert isinstance(n_chunks, int) and isinstance(chunk, int), where
    assert n_chunks >= 1 and chunk >= 1, where
    # The chunks cover the line, and none is empty.
    assert n_chunks * chunk >= length, where
    assert (n_chunks - 1) * chunk < length, where
    assert chunk % block_l == 0, where
    assert is_pow2(block_a) and is_pow2(block_l), where
    assert num_warps in (1, 2, 4, 8) and num_stages >= 1, where
    # No tile is longer than the line (but rows' tiles, at least 16 wide: dispatch.row_tile) or wider
    # than the lines side by side.
    assert block_l <= max(16 if kind == "rows" else 1, 1 << (length - 1).bit_length()), where
    across = n_outer if kind == "rows" else inner
    assert block_a <= max(1, 1 << (across - 1).bit_length()), where
    grid = grid_of(plan_, n_outer, inner)
    assert 1 <= grid[0] <= MAX_GRID_X, f"{where}: grid {grid}"
    assert 1 <= grid[1] <= MAX_GRID_YZ, f"{where}: grid {grid}"
    if n_chunks > 1:
        # A split line scans its chunk products in a second, shorter scan: that recursion ends.
        assert n_chunks < length, where
        check_plan(n_outer, n_chunks, inner, True, n_sm, capability, itemsize)
    return plan_


LAYOUTS = {
    # name: (n_outer, length, inner, unit_stride)
    "many short rows": (100_000, 7, 1, True),
    "many rows of 1000": (4096, 1000, 1, True),
    "long rows": (64, 1 << 20, 1, True),
    "one very long row": (1, 1 << 30, 1, True),
    "few long rows": (3, 1 << 22, 1, True),
    "seed shape dim 1": (32768, 32768, 1, True),
    "seed shape dim 0": (1, 32768, 32768, True),
    "transposed rows": (32768, 32768, 1, False),
    "few transposed rows": (2, 100_000, 1, False),
    "inner 3": (5, 10_000, 3, False),
    "inner 32, few": (1, 1 << 20, 32, False),
    "inner 1000": (7, 300, 1000, False),
    "wide inner, one outer": (1, 10, 1 << 24, False),
    "length 2": (1 << 20, 2, 1, True),
    "length 2, inner 2": (1 << 20, 2, 2, False),
    "over 2**31 elements, rows": (8, (1 << 28) + 3, 1, True),
    "over 2**31 elements, cols": (1, (1 << 28) + 3, 8, False),
}


@pytest.mark.parametrize("itemsize", ITEMSIZES)
@pytest.mark.parametrize("machine", MACHINES, ids=lambda m: f"{m[0]}sm-sm{m[1][0]}{m[1][1]}")
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_plan_invariants(layout, machine, itemsize):
    check_plan(*LAYOUTS[layout], *machine, itemsize)


@given(
    n_outer=st.integers(1, 1 << 20),
    length=st.integers(2, 1 << 24),
    inner=st.one_of(st.just(1), st.integers(2, 1 << 12)),
    unit_stride=st.booleans(),
    machine=st.sampled_from(MACHINES),
    itemsize=st.sampled_from(ITEMSIZES),
    scan_contiguous=st.booleans(),
)
def test_plan_invariants_property(n_outer, length, inner, unit_stride, machine, itemsize, scan_contiguous):
    check_plan(n_outer, length, inner, unit_stride, *machine, itemsize, scan_contiguous and not unit_stride)


@given(
    log_numel=st.integers(31, 34),
    length=st.integers(2, 1 << 16),
    inner=st.one_of(st.just(1), st.integers(2, 64)),
    unit_stride=st.booleans(),
    itemsize=st.sampled_from([1, 2]),
)
def test_plan_invariants_huge_tensors(log_numel, length, inner, unit_stride, itemsize):
    """Tensors of 2**31 to 2**34 elements (what an H200's 141 GB holds in one or two bytes each) of
    every shape the plan could see: the grid must stay within CUDA's limits."""
    n_outer = max(1, (1 << log_numel) // (length * inner))
    check_plan(n_outer, length, inner, unit_stride, 132, (9, 0), itemsize)


@pytest.mark.parametrize("itemsize", ITEMSIZES)
@pytest.mark.parametrize("machine", MACHINES[:5], ids=lambda m: f"{m[0]}sm")
def test_split_decisions(machine, itemsize):
    n_sm, capability = machine
    # Plenty of short lines: never split.
    assert plan(100_000, 7, 1, True, n_sm, capability, itemsize)[1] == 1
    assert plan(100_000, 64, 128, False, n_sm, capability, itemsize)[1] == 1
    # One very long line, a row or a column block: always split, but for a row of stride 1 of
    # integers read from 8-byte inputs, which takes the single pass instead
    # (test_rows_cut_over_to_the_single_pass).
    assert plan(1, 1 << 24, 1, False, n_sm, capability, itemsize)[1] > 1
    assert plan(1, 1 << 24, 8, False, n_sm, capability, itemsize)[1] > 1
    row = plan(1, 1 << 24, 1, True, n_sm, capability, itemsize)
    assert row[0] == ("lookback" if itemsize == 8 else "rows") and row[1] > 1
    # A line that fits in two steps is never split, however few lines there are.
    for inner, unit in ((1, False), (8, False)) + (((1, True),) if itemsize < 8 else ()):
        block_l = plan(1, 1 << 24, inner, unit, n_sm, capability, itemsize)[4]
        assert plan(1, 2 * block_l, inner, unit, n_sm, capability, itemsize)[1] == 1
        assert plan(1, 2 * block_l + 1, inner, unit, n_sm, capability, itemsize)[1] > 1


@pytest.mark.parametrize("itemsize", ITEMSIZES)
@pytest.mark.parametrize("machine", MACHINES[1:], ids=lambda m: f"{m[0]}sm")
def test_transposed_columns_take_small_tiles(machine, itemsize):
    """Columns read through a transposed input (contiguous along the scan, strided along inner)
    load their tiles along the scan: smaller tiles, with fewer of their elements a warp, than the
    columns contiguous along inner take (rows on 16 bytes: 16-bit rows off them take half as deep
    a tile), where lines are many enough to leave the chain out."""
    transposed = plan(1, 4095, 65535, False, *machine, itemsize, scan_contiguous=True)
    along_inner = plan(1, 4095, 65536, True, *machine, itemsize)
    assert transposed[0] == along_inner[0] == "cols"
    assert transposed[3] * transposed[4] < along_inner[3] * along_inner[4]
    assert transposed[3] * transposed[4] // transposed[5] < along_inner[3] * along_inner[4] // along_inner[5]


@pytest.mark.parametrize("machine", MACHINES[1:], ids=lambda m: f"{m[0]}sm")
def test_column_stages_need_several_steps(machine):
    """Wide column tiles are pipelined only where a program walks several steps of them: float64
    lines 52 deep take one stage, 16384 deep the setting's (benchmarks/NOTES.md)."""
    short = plan_scan(1128, 52, 190, True, *machine, 8)
    deep = plan_scan(1, 16384, 16384, True, *machine, 8)
    assert short[0] == deep[0] == "cols"
    assert short[6] == 1 and deep[6] > 1


@pytest.mark.parametrize("machine", MACHINES[1:-1], ids=lambda m: f"{m[0]}sm")
def test_unaligned_chain_only_where_lines_are_few(machine):
    """Columns whose rows do not start on 16 bytes take the chain where their lines hold few warps
    a multiprocessor (32767 x 32767 dim 0), the column walk where they hold many (98 columns of
    5104 lines)."""
    few = plan_scan(1, 32767, 32767, True, *machine, 4, floating=True)
    many = plan_scan(5104, 301, 98, True, *machine, 4, floating=True)
    assert few[0] == "chain"
    assert many[0] == "cols"


@pytest.mark.parametrize("machine", MACHINES[1:-1], ids=lambda m: f"{m[0]}sm")
def test_single_pass_tiles(machine):
    """The rows' single pass takes 16-bit tiles of 8192 elements, but read backwards (8192 spills
    there) and where it scans a few columns side by side (slower there), 4096; every type of row
    groups 128 tiles (benchmarks/NOTES.md, 2026-12-07)."""
    forward = plan_scan(1, 1 << 28, 1, True, *machine, 2, floating=True)
    backward = plan_scan(1, 1 << 28, 1, True, *machine, 2, floating=True, reverse=True)
    columns = plan_scan(1, 1 << 26, 4, True, *machine, 2, floating=True)
    assert forward[0] == backward[0] == columns[0] == "lookback"
    assert (forward[4], backward[4], columns[4] * 4) == (8192, 4096, 4096)
    for itemsize in (2, 4, 8):
        assert plan_scan(1, 1 << 27, 1, True, *machine, itemsize, floating=True)[3] == 128


@pytest.mark.parametrize("machine", MACHINES[1:-1], ids=lambda m: f"{m[0]}sm")
def test_single_pass_columns_warps(machine):
    """16-bit tiles of a few columns that are not one packed run of vectors load an element a
    register, as fp32 ones do, and take as many warps (on half, 80-556 bytes of spill); packed
    ones keep half (benchmarks/NOTES.md, 2026-12-08)."""
    def warps(n_outer, length, inner, itemsize, packed=True):
        plan = plan_scan(n_outer, length, inner, True, *machine, itemsize, floating=True, packed=packed)
        assert plan[0] == "lookback"
        return plan[5]

    assert warps(4, 1 << 24, 3, 2) == warps(4, 1 << 24, 3, 4) == 4
    assert warps(1, 1 << 24, 8, 2, packed=False) == warps(1, 1 << 24, 8, 4) == 4
    assert warps(1, 1 << 24, 8, 2) == 2


@pytest.mark.parametrize("machine", MACHINES[1:-1], ids=lambda m: f"{m[0]}sm")
def test_unaligned_16bit_columns_half_as_deep(machine):
    """16-bit column rows that start off 16 bytes load an element a register: 32 rows a step, not
    64 (benchmarks/NOTES.md, 2026-12-08); rows on 16 bytes, fp32 and reverse tiles keep theirs."""
    def tile(inner, itemsize, reverse=False):
        plan = plan_scan(650, 480, inner, True, *machine, itemsize, floating=True, reverse=reverse)
        assert plan[0] == "cols"
        return plan[3], plan[4]

    assert tile(712, 2) == (64, 64) and tile(713, 2) == (64, 32)
    assert tile(713, 4) == (64, 64)
    assert tile(713, 2, reverse=True) == tile(712, 2, reverse=True)


def test_strategy_kinds():
    for machine in MACHINES:
        assert plan(10, 100, 1, True, *machine)[0] == "rows"
        assert plan(10, 100, 1, False, *machine)[0] == "rows"
        assert plan(10, 100, 2, False, *machine)[0] == "cols"
        assert plan(10, 100, 2, True, *machine)[0] == "cols"


def test_device_traits(device):
    n_sm, capability = device_traits(torch.device(device))
    assert isinstance(n_sm, int) and n_sm >= 1
    assert isinstance(capability, tuple) and len(capability) == 2
    if device == "cpu":
        # The interpreter runs programs one by one: the plan must see a small machine.
        assert (n_sm, capability) == (4, (0, 0))
    else:
        props = torch.cuda.get_device_properties(device)
        assert (n_sm, capability) == (props.multi_processor_count, (props.major, props.minor))


# --- end to end at the plan's cut-overs -------------------------------------------------------------
#
# Families of layouts, each as a function (length, n, seed, device) -> (input, dim), where n is the
# number of lines side by side (rows, or outer indices for the column families).

def odd_integers(shape, seed, device, dtype=torch.int64):
    # Integers, exact whatever the order of the products; odd factors, so that no product wraps to
    # zero.
    return (random_input(shape, dtype, seed=seed) | 1).to(device)


def rows_input(length, n, seed, device):
    # int32 -> int64: rows of integers from inputs narrower than 8 bytes are split, not single pass.
    return odd_integers((n, length), seed, device, torch.int32), 1


def strided_rows_input(length, n, seed, device):
    # A transposed tensor: rows of `length` elements `n` apart in memory.
    return near_one((length, n), device=device, seed=seed).t(), 1


def cols_input(length, n, seed, device):
    return near_one((n, length, 32), device=device, seed=seed), 1


def transposed_cols_input(length, n, seed, device):
    # Columns read through a transposed view: contiguous along the scan, 17 inner positions (a tile
    # partly masked) `length` apart: too few for deep tiles.
    return near_one((n, 17, length), device=device, seed=seed).transpose(1, 2), 1


def transposed_deep_input(length, n, seed, device):
    # The same in float64 with 33 inner positions: lines of 32-column tiles hold few warps, and deep
    # tiles of 8 columns (four and a part) fill the interpreter's 4 SMs (dispatch.plan_scan:
    # transposed_deep_tile).
    return near_one((n, 33, length), torch.float64, device=device, seed=seed).transpose(1, 2), 1


def few_cols_input(length, n, seed, device):
    # A few columns multiplied in floating point that would be cut take the single pass.
    return odd_integers((n, length, 3), seed, device), 1


FAMILIES = {
    "rows": (rows_input, 1),
    "strided rows": (strided_rows_input, 3),
    "cols inner 32": (cols_input, 1),
    "cols inner 3": (few_cols_input, 2),
    "transposed cols": (transposed_cols_input, 1),
    "transposed deep": (transposed_deep_input, 1),
}
# Deep tiles take only lines that need no split.
SPLIT_FAMILIES = sorted(set(FAMILIES) - {"transposed deep"})


def plan_for(x, dim):
    """The plan forward.scan_3d takes for cumprod(x, dim) of these inputs."""
    return view_plan(*scan_view(x, dim % x.dim()), default_dtype(x.dtype))


def step_of(family, device):
    """The plan's longest step (BLOCK_L) for this family: that of a very long line."""
    make, n = FAMILIES[family]
    x, dim = make(2, n, 0, device)
    x3, n_outer, _, inner, strides = scan_view(x, dim)
    return view_plan(x3, n_outer, 1 << 24, inner, strides, default_dtype(x.dtype))[4]


@pytest.mark.parametrize("offset", [-1, 0, 1])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_block_boundary(family, offset, device, launches):
    """Lines of BLOCK_L - 1, BLOCK_L and BLOCK_L + 1 (one step, one full step, two steps or more:
    the plan may shorten the step of a line that one long step would pad)."""
    make, n = FAMILIES[family]
    block_l = step_of(family, device)
    length = block_l + offset
    x, dim = make(length, n, 1000 + length, device)
    plan = plan_for(x, dim)
    if offset <= 0:
        assert plan[4] == block_l, f"{family}: length {length} planned with BLOCK_L {plan[4]}, a long line with {block_l}"
        assert plan[1] == 1
    else:
        # A single line may then be cut in chunks too.
        assert plan[4] <= block_l and -(-length // plan[4]) >= 2, f"{family}: length {length} planned {plan}"
    assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{family}, length {length}, plan {plan}")
    assert launches.plans[-1] == plan, "the test's plan is not the one forward took"


@pytest.mark.parametrize("length", [513, 1 << 24])
def test_deep_tiles_do_not_split(length):
    # Planned for the interpreter's 4 SMs, where 33 columns fill the deep tiles' condition.
    x, dim = transposed_deep_input(2, 1, 0, "cpu")
    x3, n_outer, _, inner, strides = scan_view(x, dim)
    plan = view_plan(x3, n_outer, length, inner, strides, x.dtype)
    assert plan[0] == "cols" and plan[1] == 1 and plan[3] == 8, plan


@pytest.mark.parametrize("offset", [0, 1])
@pytest.mark.parametrize("family", SPLIT_FAMILIES)
def test_split_threshold(family, offset, device, launches):
    """2 * BLOCK_L is scanned in one pass; 2 * BLOCK_L + 1 by chunks (few lines)."""
    make, n = FAMILIES[family]
    block_l = step_of(family, device)
    length = 2 * block_l + offset
    x, dim = make(length, n, 2000 + length, device)
    plan = plan_for(x, dim)
    assert (plan[1] > 1) == (offset == 1), f"{family}: length {length} planned {plan}"
    assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{family}, length {length}, plan {plan}")
    # One pass; or a pass of chunk products, their scan (one pass or more) and the scan of the chunks.
    assert launches.count == 1 if offset == 0 else launches.count >= 3
    assert launches.plans[-1] == plan, "the test's plan is not the one forward took"
    if offset == 1:
        assert launches.calls[0][9] is True and launches.calls[-1][9] is False


@pytest.mark.parametrize("family", SPLIT_FAMILIES)
def test_chunk_boundaries(family, device, launches):
    """Split lines whose length ends exactly on, just before and just after a chunk boundary."""
    make, n = FAMILIES[family]
    block_l = step_of(family, device)
    x, dim = make(2 * block_l + 1, n, 3, device)
    _, n_chunks, chunk, *_ = plan_for(x, dim)
    assert n_chunks > 1
    for length in (2 * chunk - 1, 2 * chunk, 2 * chunk + 1):
        x, dim = make(length, n, length, device)
        plan = plan_for(x, dim)
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{family}, length {length}, plan {plan}")
        assert launches.count >= (3 if plan[1] > 1 else 1)


def test_lines_cut_over(device, launches):
    """The split is for few lines: find, from plan_scan, the fewest strided rows of length
    2 * BLOCK_L + 1 that are not split, and check that number and one fewer end to end."""
    make, _ = FAMILIES["strided rows"]
    block_l = step_of("strided rows", device)
    length = 2 * block_l + 1
    n = 1
    while plan_like_forward(n, length, 1, False, device)[1] > 1:
        n += 1
        assert n < 1 << 20, "plan_scan splits any number of rows"
    assert n > 1
    for rows, split in ((n - 1, True), (n, False)):
        x, dim = make(length, rows, rows, device)
        plan = plan_for(x, dim)
        assert (plan[1] > 1) == split
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{rows} strided rows of {length}, plan {plan}")
        assert (launches.count > 1) == split


def test_rows_cut_over_to_the_single_pass(device, launches):
    """A row of stride 1 too long for one program's walk to fill the GPU is not cut into chunks: it
    takes the single pass (kernels/lookback.py), integers of 8-byte inputs too. Find the shortest
    such row from plan_scan and check it and one element less end to end."""
    def single_pass(length):
        return plan_like_forward(1, length, 1, True, device, torch.int64)[0] == "lookback"

    low, high = 2, 1 << 24
    assert single_pass(high)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if single_pass(middle) else (middle, high)
    for length, kind in ((low, "rows"), (high, "lookback")):
        x, dim = odd_integers((1, length), length, device), 1
        plan = plan_for(x, dim)
        assert plan[0] == kind and (plan[1] == 1 or kind == "lookback"), f"a row of {length}: {plan}"
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"a row of {length}, plan {plan}")
        assert launches.count == 1


@pytest.mark.parametrize("length", [2, 3, 5, 7, 13, 31, 100, 257, 1000, 1023])
def test_odd_lengths(length, device):
    """Odd and non-power-of-two lengths: masked tails in every family."""
    for family, (make, n) in sorted(FAMILIES.items()):
        x, dim = make(length, n, length, device)
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{family}, length {length}")

"""The Triton kernels (kernels/rows.py, kernels/cols.py) and the chunked scan that drives them
(forward.scan_3d), under plans of small tiles forced through forward.plan_scan: many steps, many
chunks and a recursion several levels deep on small tensors, for every dtype, plus each pass alone
(chunk products, prefixed scans) and guard bands around the output; the helpers of kernels/combine.py."""
import pytest
import torch
import triton
import triton.language as tl
from hypothesis import given
from hypothesis import strategies as st

from reference import (ALL_DTYPES, FLOAT_DTYPES, INT_DTYPES, SPECIAL_ROWS, assert_cumprod_matches, assert_identical,
                       assert_scan_matches, eps, interpreted, max_error, near_one, random_input, reference,
                       relative_error, torch_cpu)
from triton_cumprod import cumprod, forward
from triton_cumprod.kernels.combine import accumulator_dtype, triton_dtype, vector_elements, wide_product


def cdiv(a, b):
    return -(-a // b)


def forced_planner(block_a, block_l, max_chunks, stages=1):
    """A plan_scan stand-in with fixed small tiles: lines longer than block_l are cut into up to
    max_chunks chunks, always (whatever the line count), so small tensors take the split path;
    `stages` tiles in flight (the GPU pipelines loads; the interpreter ignores it)."""

    def plan(n_outer, length, inner, unit_stride, n_sm, capability, *_, **__):
        kind = "rows" if inner == 1 else "cols"
        n_chunks = max(1, min(max_chunks, cdiv(length, block_l)))
        chunk = cdiv(cdiv(length, n_chunks), block_l) * block_l
        return kind, cdiv(length, chunk), chunk, block_a, block_l, 1, stages

    return plan


PLANS = {
    # name: (BLOCK_A, BLOCK_L, most chunks, tiles in flight)
    "one chunk, many steps": (2, 4, 1, 1),
    "one chunk, pipelined": (2, 4, 1, 3),
    "three chunks": (2, 4, 3, 1),
    "three chunks, pipelined": (2, 4, 3, 2),
    "chunks of one step, deep recursion": (1, 2, 64, 1),
    "tile wider than the lines": (8, 8, 4, 1),
    "uneven chunks": (4, 8, 5, 1),
}


def layouts(dtype, device, length=40, seed=0):
    """(name, input, dim) for the three ways the kernels read a line."""
    yield "rows", random_input((3, length), dtype, device=device, seed=seed), 1
    yield "strided rows", random_input((length, 3), dtype, device=device, seed=seed + 1).t(), 1
    yield "cols", random_input((2, length, 3), dtype, device=device, seed=seed + 2), 1
    yield "cols, strided outer", random_input((length, 2, 5), dtype, device=device, seed=seed + 3).permute(1, 0, 2)[:, :, ::2], 1
    # Rows of 8 inner positions: sizes and strides passed in units of several elements (combine.stride_unit).
    yield "cols in vectors", random_input((2, length, 8), dtype, device=device, seed=seed + 4), 1


@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_forced_plans(dtype, plan_name, device, monkeypatch, launches):
    monkeypatch.setattr(forward, "plan_scan", forced_planner(*PLANS[plan_name]))
    # The chunk products' rows would take kernels/flat.py: every launch keeps the forced plan.
    monkeypatch.setattr(forward, "takes_flat", lambda *args: False)
    # Chunks of one step mean many programs: a shorter line still recurses four levels (10, 5, 3, 2).
    length = 20 if plan_name.startswith("chunks of one step") else 40
    for name, x, dim in layouts(dtype, device, length=length):
        launches.reset()
        y = cumprod(x, dim)
        assert_cumprod_matches(y, x, dim, label=f"{name}, plan {plan_name}")
        _, block_l, max_chunks, _ = PLANS[plan_name]
        assert all(plan[4] == block_l for plan in launches.plans)
        if max_chunks > 1:
            assert launches.count >= 3, f"{name}: not split under {plan_name}"
            assert launches.calls[0][9] is True  # the first pass takes chunk products


def test_deep_recursion_depth(device, monkeypatch, launches):
    """A line of 50 in chunks of 2: the chunk products (25) are scanned in 13 chunks, those in 7,
    4, 2, then in one pass: every level is a reduce pass plus a scan pass."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(1, 2, 64))
    x = random_input((50,), torch.float64, device=device, seed=3)
    assert_cumprod_matches(cumprod(x, 0), x, 0)
    lengths = [call[4] for call in launches.calls]
    assert lengths == [50, 25, 13, 7, 4, 2, 4, 7, 13, 25, 50]
    assert [call[9] for call in launches.calls] == [True] * 5 + [False] * 6


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_forced_split_special_values(dtype, device, monkeypatch):
    """Zeros, -0.0, infinities and NaN crossing steps, chunks and recursion levels: exact."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(2, 2, 8))
    x = torch.tensor(SPECIAL_ROWS, dtype=dtype)
    for name, t, dim in [("rows", x, 1), ("strided rows", x.t().contiguous().t(), 1), ("cols", x.t().contiguous(), 0)]:
        assert_identical(cumprod(t.to(device), dim), torch.cumprod(t, dim), label=name)


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_forced_split_integer_wraparound(dtype, device, monkeypatch):
    monkeypatch.setattr(forward, "plan_scan", forced_planner(2, 4, 6))
    x = random_input((4, 45), dtype, device=device, seed=9)
    for dim in (0, 1):
        assert_identical(cumprod(x, dim), torch.cumprod(x.cpu(), dim))
        assert_identical(cumprod(x, dim, dtype=dtype), torch.cumprod(x.cpu(), dim, dtype=dtype))


# --- each pass alone -------------------------------------------------------------------------------------

EXACT_VALUES = torch.tensor([1.0, -1.0, 2.0, 0.5, -2.0, -0.5, 1.0, 1.0])


def exact_input(shape, dtype, seed):
    """Values whose products are exact in every dtype (+-1, +-2, +-0.5; small integers for ints)."""
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(0, len(EXACT_VALUES), shape, generator=g)
    values = EXACT_VALUES if dtype.is_floating_point else torch.tensor([1, -1, 2, 3, -2, 1, 1, 5])
    if dtype == torch.uint8:
        values = values.abs()
    return values[index].to(dtype)


def view_3d(x, dim):
    return forward.scan_view(x, dim)


def chunk_bounds(n_rows, length, chunk, n_chunks, vec, block_r):
    """[(lo, hi)] of each chunk of each row (positions in the row), as scan_rows_kernel lays them on
    the 16-byte vectors of a contiguous output of rows of `length`, `vec` elements a vector: from
    each row's first vector boundary, its head in the first chunk and tail in the last, for a row a
    program; from the vector holding its first element for rows a tile; the last chunk to the end."""
    bounds = []
    for r in range(n_rows):
        start, end = r * length, (r + 1) * length
        if length % vec == 0:
            origin = start
        elif block_r == 1:
            origin = -(-start // vec) * vec
        else:
            origin = start // vec * vec
        body_end = max(end // vec * vec, origin) if length % vec and block_r == 1 else end
        row = []
        for c in range(n_chunks):
            lo = max(origin + c * chunk, start) - start
            hi = (body_end if c == n_chunks - 1 else min(origin + (c + 1) * chunk, body_end)) - start
            if length % vec and block_r == 1:
                lo = 0 if c == 0 else lo
                hi = length if c == n_chunks - 1 else hi
            row.append((lo, max(lo, hi)))
        bounds.append(row)
    return bounds


@pytest.mark.parametrize("kind", ["rows", "cols"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int32, torch.int8, torch.uint8], ids=str)
def test_reduce_pass_writes_chunk_products(kind, dtype, device):
    n_outer, length, inner = 3, 22, (1 if kind == "rows" else 3)
    block_l, n_chunks, chunk = 4, 3, 8
    x = exact_input((n_outer, length, inner), dtype, 5).to(device)
    x2, n_outer, length, inner, strides = view_3d(x.reshape(n_outer, length, inner) if inner > 1 else x.reshape(n_outer, length), 1)
    acc = accumulator_dtype(dtype)
    totals = torch.full((n_outer, n_chunks, inner), -7, dtype=acc, device=device)
    plan = (kind, n_chunks, chunk, 2, block_l, 1, 1)
    forward.launch_scan(x2, totals, None, n_outer, length, inner, strides, dtype, plan, True)
    wide = torch.float64 if dtype.is_floating_point else torch.int64
    x3 = x.cpu().reshape(n_outer, length, inner).to(wide)
    if kind == "rows":
        vec = vector_elements(x.element_size(), block=block_l)
        bounds = chunk_bounds(n_outer, length, chunk, n_chunks, vec, 2)
        expected = torch.stack([torch.stack([x3[r, lo:hi].prod(0) for lo, hi in bounds[r]]) for r in range(n_outer)])
    else:
        expected = torch.stack([torch.cumprod(x3[:, c * chunk:min((c + 1) * chunk, length)], 1)[:, -1]
                                for c in range(n_chunks)], 1)
    checked = n_chunks
    if dtype == torch.bfloat16 and interpreted():
        # Triton 3.6's interpreter fills masked bfloat16 loads with the bits 0x0001 instead of the
        # value of `other` (bfloat16 lives in uint16 there): the partial last chunk's product comes
        # out wrong. scan_3d never reads the last chunk's product, and a GPU loads `other` right.
        checked = n_chunks - 1
    assert_identical(totals[:, :checked], expected[:, :checked].to(acc))


@pytest.mark.parametrize("kind", ["rows", "cols"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.float64, torch.int64, torch.int16], ids=str)
def test_scan_pass_starts_each_chunk_from_its_prefix(kind, dtype, device):
    """The second pass: chunk c starts from prefix[:, c - 1] (chunk 0 from one), whatever the prefix."""
    n_outer, length, inner = 2, 19, (1 if kind == "rows" else 4)
    block_l, n_chunks, chunk = 4, 3, 8
    x = exact_input((n_outer, length, inner), dtype, 6).to(device)
    x2, _, _, _, strides = view_3d(x if inner > 1 else x.reshape(n_outer, length), 1)
    acc = accumulator_dtype(dtype)
    prefix = exact_input((n_outer, n_chunks, inner), dtype, 7).to(acc) * 4
    y = torch.empty((n_outer, length, inner) if inner > 1 else (n_outer, length), dtype=dtype, device=device)
    plan = (kind, n_chunks, chunk, 2, block_l, 1, 1)
    forward.launch_scan(x2, y, prefix.to(device), n_outer, length, inner, strides, dtype, plan, False)
    wide = torch.float64 if dtype.is_floating_point else torch.int64
    x3 = x.cpu().reshape(n_outer, length, inner).to(wide)
    vec = vector_elements(x.element_size(), block=block_l) if kind == "rows" else 1
    expected = torch.empty_like(x3)
    for r in range(n_outer):
        for c, (lo, hi) in enumerate(chunk_bounds(n_outer, length, chunk, n_chunks, vec, 2)[r] if kind == "rows"
                                     else [(c * chunk, min((c + 1) * chunk, length)) for c in range(n_chunks)]):
            local = torch.cumprod(x3[r, lo:hi], 0)
            expected[r, lo:hi] = local * prefix[r, c - 1].to(wide) if c > 0 else local
    assert_identical(y, expected.to(dtype).reshape(y.shape))


@pytest.mark.parametrize("plan_name", ["three chunks", "tile wider than the lines"])
@pytest.mark.parametrize("layout", ["rows", "strided rows", "cols"])
def test_writes_stay_inside_the_output(layout, plan_name, device, monkeypatch):
    """scan_3d into a window of a larger buffer: the guard bands before and after keep their values,
    with masked tails in both the line and the across-lines directions."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(*PLANS[plan_name]))
    _, x, dim = next((n, x, d) for n, x, d in layouts(torch.float32, device, length=21, seed=4) if n == layout)
    x2, n_outer, length, inner, strides = forward.scan_view(x, dim)
    n = n_outer * length * inner
    guard = 37
    buffer = torch.full((guard + n + guard,), 12345.0, device=device)
    y = buffer[guard:guard + n]
    forward.scan_3d(x2, y, n_outer, length, inner, strides, torch.float32)
    assert bool((buffer[:guard] == 12345.0).all()) and bool((buffer[guard + n:] == 12345.0).all())
    assert_cumprod_matches(y.reshape(x.shape), x, dim)


def test_masked_loads_do_not_read_past_the_input(device, monkeypatch):
    """Inputs that are windows of a buffer whose other elements are NaN: a load outside its mask
    would turn results into NaN."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(4, 8, 3))
    buffer = torch.full((5, 40), float("nan"), device=device)
    buffer[1:4, 3:24] = random_input((3, 21), torch.float32, device=device, seed=8)
    x = buffer[1:4, 3:24]
    assert_cumprod_matches(cumprod(x, 1), x, 1)
    assert_cumprod_matches(cumprod(x, 0), x, 0)
    xt = buffer.t()[3:24, 1:4]
    assert_cumprod_matches(cumprod(xt, 0), xt, 0)
    assert_cumprod_matches(cumprod(xt, 1), xt, 1)


# --- helpers of kernels/combine.py ------------------------------------------------------------------

def test_accumulator_dtype():
    assert accumulator_dtype(torch.float16) == torch.float32
    assert accumulator_dtype(torch.bfloat16) == torch.float32
    for dtype in (torch.float32, torch.float64) + INT_DTYPES:
        assert accumulator_dtype(dtype) == dtype


def test_triton_dtype():
    expected = {
        torch.float16: tl.float16, torch.bfloat16: tl.bfloat16, torch.float32: tl.float32, torch.float64: tl.float64,
        torch.int8: tl.int8, torch.int16: tl.int16, torch.int32: tl.int32, torch.int64: tl.int64, torch.uint8: tl.uint8,
    }
    for dtype, tl_dtype in expected.items():
        assert triton_dtype(dtype) == tl_dtype


@triton.jit
def wide_product_kernel(x_ptr, out_ptr, N: tl.constexpr):
    row = tl.program_id(0)
    tl.store(out_ptr + row, wide_product(tl.load(x_ptr + row * N + tl.arange(0, N)), 0).to(out_ptr.dtype.element_ty))


def wide_products(x, dtype=torch.float64, num_warps=4):
    out = torch.empty(x.shape[0], dtype=dtype, device=x.device)
    wide_product_kernel[(x.shape[0],)](x, out, N=x.shape[1], num_warps=num_warps)
    return out


@pytest.mark.skipif(interpreted(), reason="triton's interpreter computes fma as a rounded product plus an addend")
def test_wide_product_rounds_far_below_float32(device):
    """2048 factors near one: within 1e-11 of the product taken exactly (float64 of the float32
    factors, whose own rounding is below 2048 * 2**-53), where float32 is off by 1e-7 and more."""
    x = near_one((4, 2048), seed=11, spread=0.1)
    exact = x.double().prod(1)
    ours = wide_products(x.to(device)).cpu()
    assert ((ours - exact).abs() / exact.abs()).max() < 1e-11
    float32 = x.prod(1).double()
    assert ((float32 - exact).abs() / exact.abs()).max() > 1e-8


@pytest.mark.skipif(interpreted(), reason="triton's interpreter computes fma as a rounded product plus an addend")
@pytest.mark.parametrize("num_warps", [1, 2, 4])
def test_wide_product_rounded_once_to_float32(num_warps, device):
    """As the kernels take it (rounded to float32), on any number of warps: within half a float32 ulp
    of the exact product. A finiteness test written hi - hi == 0 was contracted with hi's product
    into an fma on one warp, which dropped the low part."""
    x = near_one((4, 1024), seed=13, spread=0.1)
    exact = x.double().prod(1)
    ours = wide_products(x.to(device), torch.float32, num_warps).cpu().double()
    assert ((ours - exact).abs() / exact.abs()).max() <= 2**-24 * 1.001


def test_wide_product_special_values(device):
    """Zeros keep their sign, inf its sign, NaN and inf * 0 give NaN: as the float64 product."""
    specials = [[0.0], [-0.0], [float("inf")], [-float("inf")], [float("nan")], [0.0, float("inf")], [-0.0, -2.0]]
    x = near_one((len(specials), 16), seed=12, spread=0.1)
    for row, values in enumerate(specials):
        x[row, 3:3 + len(values)] = torch.tensor(values)
    ours, exact = wide_products(x.to(device)).cpu(), x.double().prod(1)
    assert torch.equal(torch.isnan(ours), torch.isnan(exact))
    same = ~torch.isnan(exact)
    assert torch.equal(ours[same], exact[same]) and torch.equal(torch.signbit(ours[same]), torch.signbit(exact[same]))


# --- rows on vectors -------------------------------------------------------------------------------
# kernels/rows.py lays row tiles on 16-byte vectors: a row a program takes its head and tail apart
# (combine.piece), rows a tile are laid from the vector their first element is in. Lengths that
# are not multiples of a vector start the rows at every phase; views make x's rows start elsewhere
# than y's (sliced) or not on 16 bytes at all (offset).


def row_views(x, view):
    if view == "sliced":
        return x[:, 1:]
    if view == "offset":
        flat = torch.cat([x.new_ones(1), x.reshape(-1)])
        return flat[1:].reshape(x.shape)
    return x


@given(length=st.integers(1, 45), rows=st.integers(1, 5), block_a=st.sampled_from([1, 2, 4]),
       block_l=st.sampled_from([4, 8, 16]), max_chunks=st.integers(1, 4),
       dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float64, torch.int32, torch.int8]),
       view=st.sampled_from(["contiguous", "sliced", "offset"]), exclusive=st.booleans(), reverse=st.booleans())
def test_rows_on_vectors(length, rows, block_a, block_l, max_chunks, dtype, view, exclusive, reverse, device,
                         monkeypatch):
    monkeypatch.setattr(forward, "plan_scan", forced_planner(block_a, block_l, max_chunks))
    x = row_views(random_input((rows, length + (view == "sliced")), dtype, device=device, seed=length), view)
    assert_scan_matches(cumprod(x, 1, exclusive=exclusive, reverse=reverse), x, 1, exclusive, reverse)


@pytest.mark.parametrize("length", [27, 29, 30, 31])
def test_rows_on_vectors_write_only_their_row(length, device, monkeypatch):
    """Rows of a tile that start inside a vector: its whole vectors, and each neighbouring row's
    elements of the vectors they share, are written by the programs that own them."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(4, 32, 1))
    x = random_input((9, length), torch.float32, device=device, seed=length)
    guard = 5
    buffer = torch.full((guard + x.numel() + guard,), 12345.0, device=device)
    y = buffer[guard:guard + x.numel()]
    x2, n_outer, n, inner, strides = forward.scan_view(x, 1)
    forward.scan_3d(x2, y, n_outer, n, inner, strides, torch.float32)
    assert bool((buffer[:guard] == 12345.0).all()) and bool((buffer[guard + x.numel():] == 12345.0).all())
    assert_cumprod_matches(y.reshape(x.shape), x, 1)


def test_float32_lanes_along_the_scan_as_accurate_as_torch(device, monkeypatch, launches):
    """An input contiguous along the scan puts the column kernel's lanes along it, and float32
    products of near-one factors taken across lanes round down more often than up: float32 results
    multiply in float64 there (kernels/cols.py), and err no more than torch's own scan."""
    monkeypatch.setattr(forward, "plan_scan", forced_planner(32, 64, 1))
    x = near_one((96, 1200), torch.float32, device, spread=0.01, signs=False).t()
    y = cumprod(x, 0)
    assert launches.plans[-1][0] == "cols"
    ref = reference(x.cpu(), 0, torch.float32)
    ours = max_error(relative_error(y.cpu().numpy(), ref))
    torchs = max(max_error(relative_error(torch.cumprod(x, 0).cpu().numpy(), ref)),
                 max_error(relative_error(torch_cpu(x, 0).numpy(), ref)))
    assert ours <= torchs + eps(torch.float32), (ours, torchs)

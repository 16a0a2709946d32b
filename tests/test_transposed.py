"""kernels/transposed.py and forward.scan_turned: inputs whose dims do not merge around the scan
(transposed and sliced views of several dims), under forced plans of small tiles (many steps, many
chunks, recursion), for every dtype and scan option; plus the plan (dispatch.plan_transposed)."""
import itertools

import pytest
import torch

from reference import FLOAT_DTYPES, SPECIAL_ROWS, assert_identical, assert_scan_matches, random_input
from triton_cumprod import cumprod, forward
from triton_cumprod.dispatch import plan_transposed


def cdiv(a, b):
    return -(-a // b)


def force(monkeypatch, block_i, block_l, max_chunks):
    """Every layout whose dims do not merge to kernels/transposed.py (however narrow, whatever
    dispatch.turns_well says), under fixed small tiles (forced_transposed)."""
    monkeypatch.setattr(forward, "turns_well", lambda *_: True)
    monkeypatch.setattr(forward, "plan_transposed", forced_transposed(block_i, block_l, max_chunks))


def forced_transposed(block_i, block_l, max_chunks):
    """A plan_transposed stand-in with fixed small tiles: lines longer than block_l are cut into up
    to max_chunks chunks, whatever the line count."""

    def plan(lines, length, inner, *_):
        n_chunks = max(1, min(max_chunks, cdiv(length, block_l)))
        chunk = cdiv(cdiv(length, n_chunks), block_l) * block_l
        return "transposed", cdiv(length, chunk), chunk, block_i, block_l, 1, 1

    return plan


def permuted(shape, order, dtype, device, seed=0):
    """A tensor of `shape` whose dims lie in memory in `order` (the last there the contiguous one)."""
    base = random_input(tuple(shape[d] for d in order), dtype, device=device, seed=seed)
    return base.permute(*[order.index(d) for d in range(len(shape))])


def sliced(shape, dtype, device, seed=0):
    """A tensor of `shape` one element into rows one element longer (its dims do not merge)."""
    return random_input(shape[:-1] + (shape[-1] + 1,), dtype, device=device, seed=seed)[..., 1:]


# (input, scan dim), every one with dims that do not merge around the scan (scan_view would copy):
# contiguous along the scan with the result along inner, the result along the scan with x along an
# outer dim, x and the result along inner, and x along neither.
LAYOUTS = {
    "scan contiguous": (lambda dtype, device: permuted((3, 9, 4, 5), (0, 3, 2, 1), dtype, device, 1), 1),
    "result along the scan": (lambda dtype, device: permuted((5, 3, 9), (2, 1, 0), dtype, device, 2), 2),
    "outer dims apart": (lambda dtype, device: permuted((3, 4, 9, 5), (1, 0, 2, 3), dtype, device, 3), 2),
    "rows apart": (lambda dtype, device: sliced((11, 3, 6), dtype, device, 4), 0),
}


# A dtype of each width and kind (the kernels' other dtypes differ from these only in the cast).
DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.int8, torch.bool)


@pytest.mark.parametrize("plan", [(4, 4, 1), (4, 2, 3), (8, 16, 4)], ids=["one chunk", "three chunks", "wide tile"])
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_forced_plans(dtype, layout, plan, device, monkeypatch, launches):
    force(monkeypatch, *plan)
    make, dim = LAYOUTS[layout]
    x = make(dtype, device)
    assert forward.turned_layout(x, dim, torch.float32) is not None
    for exclusive, reverse in itertools.product((False, True), repeat=2):
        launches.reset()
        y = cumprod(x, dim, exclusive=exclusive, reverse=reverse)
        assert y.is_contiguous()
        assert_scan_matches(y, x, dim, exclusive, reverse, label=f"{layout}, plan {plan}")
        assert {p[0] for p in launches.plans[-1:]} == {"transposed"}
        if cdiv(x.shape[dim], plan[1]) > 1 and plan[2] > 1:
            assert launches.count >= 3 and launches.calls[0][9] is True, "not split"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_forced_split_special_values(dtype, device, monkeypatch):
    """Zeros, -0.0, infinities and NaN crossing steps and chunks: exactly torch's."""
    force(monkeypatch, 2, 2, 8)
    x = torch.tensor(SPECIAL_ROWS, dtype=dtype)
    # The 17 positions as (2, 17, 2, 5), contiguous along the scan, its inner dims apart; and as
    # (17, 5, 3), rows of 3 four apart.
    along_scan = x.reshape(1, 5, 1, 17).expand(2, 5, 2, 17).contiguous().permute(0, 3, 2, 1)
    rows_apart = x.t().reshape(17, 5, 1).expand(17, 5, 4).contiguous()[..., 1:]
    for t, dim in [(along_scan, 1), (rows_apart, 0)]:
        assert forward.turned_layout(t, dim, dtype) is not None
        assert_identical(cumprod(t.to(device), dim), torch.cumprod(t, dim))


def test_masked_loads_and_stores_stay_inside(device, monkeypatch):
    """A window of a NaN buffer (rows 9 apart, 7 long), written into a window of a guarded buffer:
    a load outside its mask would give NaN, a store outside it would change the guards."""
    force(monkeypatch, 4, 4, 3)
    buffer = torch.full((4, 40, 9), float("nan"), device=device)
    buffer[:, 3:24, 1:8] = random_input((4, 21, 7), torch.float32, device=device, seed=8)
    x = buffer[:, 3:24, 1:8]
    guard = 29
    out = torch.full((guard + x.numel() + guard,), 12345.0, device=device)
    for dim in (0, 2):
        assert forward.turned_layout(x, dim, torch.float32) is not None
        y = out[guard:guard + x.numel()].view(x.shape)
        forward.cumprod_forward(x, dim, torch.float32, y)
        assert bool((out[:guard] == 12345.0).all()) and bool((out[guard + x.numel():] == 12345.0).all())
        assert_scan_matches(y, x, dim)


def test_repeated_calls_are_bitwise_identical(device, launches):
    x = permuted((3, 9, 4, 8), (0, 3, 2, 1), torch.float32, device)
    assert_identical(cumprod(x, 1), cumprod(x, 1))
    assert launches.plans[-1][0] == "transposed"


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.int8], ids=str)
def test_sector_wide_layouts_only(dtype):
    """The kernel takes layouts where x's contiguous axis or the result's spans a 32-byte sector;
    where neither does, x is copied and scanned as before."""
    out_dtype = torch.int64 if dtype == torch.int8 else dtype
    sector = 32 // dtype.itemsize
    wide = 32 // out_dtype.itemsize
    for scan, inner, turns in ((sector, wide, True), (sector - 1, wide, True), (sector, wide - 1, True),
                               (sector - 1, wide - 1, False)):
        x = permuted((2, scan, 3, inner), (0, 3, 2, 1), dtype, "cpu")
        assert (forward.turned_layout(x, 1, out_dtype) is not None) == turns, (scan, inner)


@pytest.mark.parametrize("capability", [(8, 9), (9, 0)])
@pytest.mark.parametrize("itemsize", [1, 2, 4, 8])
@pytest.mark.parametrize("lines, length, inner", [(1, 9046605, 11), (1, 13375, 6072), (18304, 20, 75), (1, 3, 1 << 20)])
def test_plan_covers_the_lines(lines, length, inner, itemsize, capability):
    """Tiles of powers of two within the setting's elements, chunks that cover each line whole, a
    split only where the lines' tiles leave the multiprocessors idle."""
    kind, n_chunks, chunk, block_i, block_l, num_warps, stages = plan_transposed(lines, length, inner, 132,
                                                                                 capability, itemsize)
    assert kind == "transposed" and stages == 1
    assert block_i & (block_i - 1) == 0 and block_l & (block_l - 1) == 0 and block_i <= max(inner, 64)
    assert chunk % block_l == 0 and (n_chunks - 1) * chunk < length <= n_chunks * chunk
    assert (n_chunks > 1) == (2 * lines * cdiv(inner, block_i) <= 132 and length > 2 * block_l)
    assert 1 <= num_warps <= 8

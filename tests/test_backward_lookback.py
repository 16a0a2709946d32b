"""kernels/backward.py's single-pass gradient of rows too few to fill the GPU (backward_lookback_kernel):
when the dispatcher takes it, its word encoding, and its gradients on tiles and groups made small
through dispatch.tile_settings, so that every carry (inside a group, from the group before, across
rows) is used."""
import pytest
import torch
import triton
import triton.language as tl

from reference import assert_identical, eps, near_one
from test_lookback import STEP, WINDOW, use_small_tiles
from triton_cumprod import autograd, cumprod, dispatch
from triton_cumprod.api import torch_scan
from triton_cumprod.dispatch import plan_backward
from triton_cumprod.kernels.backward import pack_map, unpack_map

GROUP = STEP * WINDOW
H200 = (132, (9, 0))


@pytest.fixture
def small_tiles(monkeypatch):
    """test_lookback's small tiles and groups; the plans the backward takes are recorded in the list
    it returns."""
    use_small_tiles(monkeypatch)
    plans = []

    def recorded(*args):
        plans.append(dispatch.plan_backward(*args))
        return plans[-1]

    monkeypatch.setattr(autograd, "plan_backward", recorded)
    return plans


# The plain scan, then cumprod's options (exclusive, reverse), whose gradients take the same kernel.
SCANS = [(False, False), (True, False), (False, True), (True, True)]
SCAN_IDS = ["plain", "exclusive", "reverse", "exclusive-reverse"]


def gradient(x, dim, g, dtype=None, exclusive=False, reverse=False):
    leaf = x.detach().clone().requires_grad_()
    cumprod(leaf, dim, dtype=dtype, exclusive=exclusive, reverse=reverse).backward(g)
    return leaf.grad


def exact_gradient(x, dim, g, dtype=None, exclusive=False, reverse=False):
    """torch's gradient in float64 of the call on x as the kernels read it (cast to `dtype` first);
    the options through torch's own ops (api.torch_scan)."""
    leaf = x.detach().to(dtype or x.dtype).double().requires_grad_()
    torch_scan(leaf, dim, {}, exclusive, reverse).backward(g.double())
    return leaf.grad


def assert_gradient_close(ours, x, dim, g, dtype=None, label="", exclusive=False, reverse=False):
    """`ours` against the float64 gradient, entry by entry. Each entry is a sum of products; taken in
    float32 in any order, its error is at most about (length of the line) * eps32 times the sum of
    the terms' magnitudes (the gradient of |x| for |g|); the budget is twice that, plus an ulp of the
    entry for each rounding to a narrower dtype (of y, the forward's output, which the gradient
    reads, and of the gradient itself; an ulp, not half: the interpreter truncates to bfloat16).
    A lost or misplaced carry moves entries by far more. Zeros of the gradient (every entry past
    a zero of x) must be exact."""
    assert ours.dtype == x.dtype and ours.shape == x.shape, f"{label}: {ours.dtype} {tuple(ours.shape)}"
    exact = exact_gradient(x, dim, g, dtype, exclusive, reverse)
    magnitude = exact_gradient(x.abs(), dim, g.abs(), dtype, exclusive, reverse)
    assert torch.equal(ours == 0, exact == 0), f"{label}: zero patterns differ\nours {ours}\nexact {exact}"
    budget = 2 * x.shape[dim] * eps(torch.float32) * magnitude + (eps(dtype or x.dtype) + eps(x.dtype)) * exact.abs()
    error = (ours.double() - exact).abs()
    bad = ~(error <= budget)
    assert not bad.any(), (f"{label}: {int(bad.sum())} entries exceed the budget; first at {bad.nonzero()[0].tolist()}: "
                           f"ours {ours[bad][0].item()!r}, exact {exact[bad][0].item()!r}, budget {budget[bad][0].item():.3e}")


def test_taken_for_rows_the_chunked_plan_would_split():
    plan = plan_backward(1, 1 << 28, 1, *H200, 4)
    assert plan == ("lookback", (1 << 28) // 2048, 2048, 64, 2048, 2)
    # The options' gradients take the same tiles and groups.
    for exclusive, reverse in [(True, False), (False, True), (True, True)]:
        assert plan_backward(1, 1 << 28, 1, *H200, 4, exclusive, reverse) == plan
    assert plan_backward(16, 1 << 24, 1, *H200, 2)[0] == "lookback"
    assert plan_backward(3, 50000, 1, *H200, 2)[0] == "lookback"
    # Exactly the rows whose gradient was cut in chunks, where it is computed in float32.
    for n_outer, length in [(1, 1 << 28), (1, 4097), (1, 4096), (66, 10000), (67, 10000), (1000, 1 << 20),
                            (32768, 32768), (3, 50)]:
        chunked = plan_backward(n_outer, length, 1, *H200, 8)
        assert chunked[0] == ("line" if length > 1024 else "rows")
        for itemsize in (2, 4):
            kind, n_chunks, chunk, window, block_l, num_warps = plan_backward(n_outer, length, 1, *H200, itemsize)
            assert (kind == "lookback") == (chunked[1] > 1), (n_outer, length)
            if kind == "lookback":
                assert chunk == block_l and (n_chunks - 1) * block_l < length <= n_chunks * block_l
                assert window & (window - 1) == 0 and window <= 256 and num_warps * 32 * 32 == block_l
            else:
                assert (kind, n_chunks) == (chunked[0], 1)
    assert plan_backward(1, 1 << 28, 4, *H200, 4)[0] == "cols"


@triton.jit
def round_trip_kernel(a_ptr, b_ptr, word_ptr, a_out_ptr, b_out_ptr, N: tl.constexpr):
    at = tl.arange(0, N)
    word = pack_map(tl.load(a_ptr + at), tl.load(b_ptr + at))
    tl.store(word_ptr + at, word)
    a, b = unpack_map(word)
    tl.store(a_out_ptr + at, a)
    tl.store(b_out_ptr + at, b)


def test_every_map_packs_to_a_nonzero_word(device):
    """0 means "not published": no pair of floats may pack to it, the all-ones NaNs included, and
    every pair comes back bit for bit (a NaN in b as a NaN)."""
    bits = [0, -1, 0x7FFFFFFF, 0x7FC00000, -0x80000000, 0x7F800000, -0x800000, 1, 0x3F800000, -0x40800000]
    values = torch.tensor(bits, dtype=torch.int32).view(torch.float32)
    # Every pair of them, then the first pairs again up to a power of two.
    a, b = (torch.cat([t, t[:128 - t.numel()]]).to(device)
            for t in (values.repeat_interleave(len(bits)), values.repeat(len(bits))))
    word, a_out, b_out = torch.empty(128, dtype=torch.int64, device=device), torch.empty_like(a), torch.empty_like(b)
    round_trip_kernel[(1,)](a, b, word, a_out, b_out, N=128)
    assert (word != 0).all()
    assert torch.equal(a_out.view(torch.int32), a.view(torch.int32))
    nan = torch.isnan(b)
    assert torch.isnan(b_out[nan]).all()
    assert torch.equal(b_out[~nan].view(torch.int32), b[~nan].view(torch.int32))


SHAPES = {
    "one row": ((1, 200), 1),
    "1-D": ((777,), 0),
    "3 rows": ((3, 130), 1),
    "3 groups and a tile of one": ((2, 3 * GROUP + 1), 1),
    "whole groups": ((2, 2 * GROUP), 1),
    "short rows": ((5, 2 * STEP + 1), 1),
    "3-D, last dim": ((2, 3, 100), -1),
    "rows a vector short of whole tiles": ((4, 6 * STEP - 1), 1),
    "rows three short of whole tiles": ((3, 6 * STEP - 3), 1),
}


@pytest.mark.parametrize("exclusive,reverse", SCANS, ids=SCAN_IDS)
@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("signs", [False, True], ids=["positive", "signed"])
def test_matches_torch(name, signs, exclusive, reverse, device, small_tiles):
    shape, dim = SHAPES[name]
    x = near_one(shape, device=device, seed=len(name), signs=signs)
    g = near_one(shape, device=device, seed=len(name) + 1, spread=1.0, signs=signs)
    ours = gradient(x, dim, g, exclusive=exclusive, reverse=reverse)
    assert_gradient_close(ours, x, dim, g, label=name, exclusive=exclusive, reverse=reverse)
    assert [plan[0] for plan in small_tiles] == ["lookback"]


def test_strided_input(device, small_tiles):
    x = near_one((300, 2), device=device, seed=3).t()
    g = near_one((2, 300), device=device, seed=4, spread=1.0)
    assert_gradient_close(gradient(x, 1, g), x, 1, g)
    assert small_tiles[0][0] == "lookback"


ZEROS = {
    "one zero": [100],
    "several": [37, 38, 150],
    "first position": [0],
    "last position": [-1],
    "first and last": [0, -1],
    "tile edges": [STEP - 1, STEP],
    "group edges": [GROUP - 1, GROUP],
    "last tile of the second group": [2 * GROUP - STEP],
    "every fiftieth": list(range(5, 260, 50)),
}


@pytest.mark.parametrize("exclusive,reverse", SCANS, ids=SCAN_IDS)
@pytest.mark.parametrize("case", sorted(ZEROS))
def test_exact_with_zeros(case, exclusive, reverse, device, small_tiles):
    x = near_one((3, 260), device=device, seed=6, signs=False)
    x[0, ZEROS[case]] = 0
    x[2, ZEROS[case][-1:]] = 0
    g = near_one((3, 260), device=device, seed=7, spread=1.0, signs=False)
    ours = gradient(x, 1, g, exclusive=exclusive, reverse=reverse)
    assert_gradient_close(ours, x, 1, g, label=case, exclusive=exclusive, reverse=reverse)
    assert small_tiles[0][0] == "lookback"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("at", [0, STEP - 1, STEP, GROUP - 1, GROUP, 150, 199])
def test_special_values_give_the_true_derivative(value, at, device, small_tiles):
    """As the chunked backward (test_autograd): where torch divides by the input (inf/inf, x/NaN),
    the entry of the special input keeps the derivative's own value, which does not depend on that
    input; the other entries are not finite wherever torch's are not."""
    x = near_one((200,), device=device, seed=8, signs=False)
    g = near_one((200,), device=device, seed=9, spread=1.0, signs=False)
    x[at] = value
    ours = gradient(x, 0, g)
    leaf = x.clone().requires_grad_()
    torch.cumprod(leaf, 0).backward(g)
    others = torch.arange(200, device=device) != at
    assert torch.equal(torch.isfinite(ours) & others, torch.isfinite(leaf.grad) & others)
    assert torch.isfinite(ours[at]) and not torch.isfinite(leaf.grad[at])
    x[at] = 1  # any finite value: the derivative by x[at] does not depend on it
    exact, magnitude = exact_gradient(x, 0, g)[at].item(), exact_gradient(x.abs(), 0, g.abs())[at].item()
    assert abs(ours[at].item() - exact) <= 2 * 200 * eps(torch.float32) * magnitude
    assert small_tiles[0][0] == "lookback"


@pytest.mark.parametrize("exclusive,reverse", SCANS, ids=SCAN_IDS)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_types(dtype, exclusive, reverse, device, small_tiles):
    """Rows of 300 end in a part tile: a reverse scan's gradient leaves its last tile through the
    masked tail, which must read as 1 (the interpreter ignores `other` for bf16 loads)."""
    x = near_one((2, 300), device=device, seed=10).to(dtype)
    g = near_one((2, 300), device=device, seed=11, spread=1.0).to(dtype)
    ours = gradient(x, 1, g, exclusive=exclusive, reverse=reverse)
    assert_gradient_close(ours, x, 1, g, label=str(dtype), exclusive=exclusive, reverse=reverse)
    assert small_tiles[0][0] == "lookback"


def test_dtype_argument(device, small_tiles):
    """dtype=float32 on a float64 input: the kernel reads the input as float32 and writes float64."""
    x = near_one((2, 300), dtype=torch.float64, device=device, seed=12)
    g = near_one((2, 300), dtype=torch.float32, device=device, seed=13, spread=1.0)
    assert_gradient_close(gradient(x, 1, g, dtype=torch.float32), x, 1, g, dtype=torch.float32)
    assert small_tiles[0][0] == "lookback"


def test_other_rows_keep_their_plans(device, small_tiles):
    """Rows that fill the GPU take the line kernel; float64 rows too few for it the chunked one."""
    x = near_one((140, 20), device=device, seed=14)
    g = near_one((140, 20), device=device, seed=15, spread=1.0)
    assert_gradient_close(gradient(x, 1, g), x, 1, g, label="140 rows")
    x = near_one((2, 200), dtype=torch.float64, device=device, seed=16)
    g = near_one((2, 200), dtype=torch.float64, device=device, seed=17, spread=1.0)
    torch.testing.assert_close(gradient(x, 1, g), exact_gradient(x, 1, g), rtol=1e-10, atol=1e-12)
    # The line kernel steps half a short tile (STEP) at a time.
    assert [plan[:2] for plan in small_tiles] == [("line", 1), ("line", -(-200 // (STEP // 2)))]


def test_deterministic(device, small_tiles):
    x = near_one((3, 500), device=device, seed=18)
    g = near_one((3, 500), device=device, seed=19, spread=1.0)
    assert_identical(gradient(x, 1, g), gradient(x, 1, g))
    assert [plan[0] for plan in small_tiles] == ["lookback"] * 2


@pytest.mark.gpu
@pytest.mark.parametrize("shape,dim", [((1 << 24,), 0), ((4, 1 << 22), 1)], ids=["1-D", "4 rows"])
def test_long_rows_no_less_accurate_than_torch(shape, dim, device):
    """A row of thousands of tiles: the carry multiplies every tile's product, so those products
    must round once (kernels/combine.py: wide_product), or the error walks past torch's own."""
    x = near_one(shape, device=device, seed=13, spread=1 / 256, signs=False)
    g = near_one(shape, device=device, seed=14, spread=1 / 256, signs=False)
    exact = exact_gradient(x, dim, g)
    leaf = x.clone().requires_grad_()
    torch.cumprod(leaf, dim).backward(g)

    def error(grad):
        return ((grad.double() - exact).abs().max() / exact.abs().max()).item()

    assert error(gradient(x, dim, g)) <= error(leaf.grad)
    assert plan_backward(x.numel() // shape[dim], shape[dim], 1, *H200, 4)[0] == "lookback"

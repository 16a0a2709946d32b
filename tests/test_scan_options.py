"""cumprod(..., exclusive=True) and cumprod(..., reverse=True): every kernel family (rows, columns,
the split scan's chunk products and prefixes, the single-pass look-back) under small forced tiles,
the torch fallback, special values, the gradient, the custom op and the module."""
import pytest
import torch

from reference import assert_identical, assert_scan_matches, near_one, random_input
from test_kernels import forced_planner, layouts
from test_lookback import STEP, WINDOW, small_tiles  # noqa: F401 (a fixture)
from test_autograd import small_planner, small_plans
from test_backward_lookback import assert_gradient_close, gradient
from triton_cumprod import CumProd, autograd, cumprod, forward
from triton_cumprod.api import torch_scan

OPTIONS = [(True, False), (False, True), (True, True)]
OPTION_IDS = ["exclusive", "reverse", "exclusive-reverse"]

# A few of test_kernels.PLANS: many steps a chunk (pipelined), chunks of uneven length, and chunk
# products scanned again over several levels, which a reverse scan walks from the other end; and one
# row a program in steps of 16, which a reverse scan reads backwards in runs of up to 16 bytes
# (combine.mirrored), the line's tail masked inside a run.
PLANS = {
    "one chunk, pipelined": (2, 4, 1, 3),
    "uneven chunks": (4, 8, 5),
    "deep recursion": (1, 2, 64),
    "one row, runs": (1, 16, 2),
}


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("plan_name", sorted(PLANS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.int32, torch.bfloat16], ids=str)
def test_forced_plans(exclusive, reverse, plan_name, dtype, device, monkeypatch, launches):
    monkeypatch.setattr(forward, "plan_scan", forced_planner(*PLANS[plan_name]))
    length = 20 if plan_name == "deep recursion" else 40
    for name, x, dim in layouts(dtype, device, length=length):
        launches.reset()
        y = cumprod(x, dim, exclusive=exclusive, reverse=reverse)
        assert launches.count >= 1, f"{name}: the kernels were not called"
        assert_scan_matches(y, x, dim, exclusive, reverse, label=f"{name}, plan {plan_name}")


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("shape", [(2, STEP * WINDOW * 3 + 1), (3, 130)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
def test_lookback(exclusive, reverse, shape, dtype, device, small_tiles, launches):  # noqa: F811
    x = near_one(shape, device=device, seed=shape[1]).to(dtype)
    y = cumprod(x, 1, exclusive=exclusive, reverse=reverse)
    assert [plan[0] for plan in launches.plans] == ["lookback"]
    assert_scan_matches(y, x, 1, exclusive, reverse)
    assert_identical(cumprod(x, 1, exclusive=exclusive, reverse=reverse), y)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
def test_special_values_at_the_ends(exclusive, reverse, device, small_tiles):  # noqa: F811
    x = near_one((4, 200), device=device, seed=1)
    x[0, 0] = float("nan")  # exclusive: not in the first output, in every later one
    x[1, -1] = float("nan")  # reverse: the same from the other end
    x[2, STEP * WINDOW] = 0
    x[2, STEP * WINDOW + 5] = float("inf")  # 0 * inf: NaN from there, as torch
    x[3, STEP - 1] = -0.0
    y = cumprod(x, 1, exclusive=exclusive, reverse=reverse)
    assert_scan_matches(y, x, 1, exclusive, reverse)
    if exclusive:
        assert y[0, 0] == 1 if not reverse else y[1, -1] == 1


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("shape,dim", [((), 0), ((0, 3), 1), ((3, 0), 1), ((4, 1), 1), ((5, 3), -1)])
def test_trivial_shapes_and_negative_dim(exclusive, reverse, shape, dim, device):
    x = near_one(shape, device=device, seed=4)
    assert_scan_matches(cumprod(x, dim, exclusive=exclusive, reverse=reverse), x, dim, exclusive, reverse)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
def test_dtype_and_out(exclusive, reverse, device):
    x = random_input((3, 50), torch.int16, device=device, seed=5)
    y = cumprod(x, 1, exclusive=exclusive, reverse=reverse)
    assert y.dtype == torch.int64
    assert_scan_matches(y, x, 1, exclusive, reverse)
    out = torch.empty((50, 3), dtype=torch.float64, device=device).t()  # non-contiguous: written through a copy
    result = cumprod(x, 1, dtype=torch.float64, out=out, exclusive=exclusive, reverse=reverse)
    assert result is out
    assert_scan_matches(out, x, 1, exclusive, reverse, dtype=torch.float64)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
def test_torch_fallback(exclusive, reverse):
    """Calls the kernels do not compute (complex) go through torch with flips and a shift."""
    g = torch.Generator().manual_seed(6)
    x = torch.randn((3, 7), dtype=torch.complex64, generator=g)
    y = cumprod(x, 1, exclusive=exclusive, reverse=reverse)
    flipped = x.flip(1) if reverse else x
    expected = torch.cumprod(flipped, 1)
    if exclusive:
        expected = torch.cat([torch.ones_like(expected[:, :1]), expected[:, :-1]], 1)
    torch.testing.assert_close(y, expected.flip(1) if reverse else expected)
    assert torch_scan(torch.tensor(2.0 + 1j), 0, {}, exclusive, reverse) == (1 if exclusive else 2.0 + 1j)
    with pytest.raises(IndexError):
        cumprod(x, 2, exclusive=exclusive, reverse=reverse)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 9), 1), ((9, 3), 0), ((2, 5, 3), 1), ((), 0), ((4, 1), 1)])
def test_gradcheck(exclusive, reverse, shape, dim, device):
    x = near_one(shape, dtype=torch.float64, device=device, seed=7).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: cumprod(t, dim, exclusive=exclusive, reverse=reverse), (x,))


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("shape,dim", [((0, 3), 0), ((3, 0), 1), ((0, 3), 1)])
def test_gradient_of_empty_tensors(exclusive, reverse, shape, dim, device):
    x = torch.rand(shape, dtype=torch.float64, device=device, requires_grad=True)
    (grad,) = torch.autograd.grad(cumprod(x, dim, exclusive=exclusive, reverse=reverse), x, torch.ones_like(x))
    assert grad.shape == x.shape and grad.dtype == x.dtype


def assert_matches_torch_ops(x, dim, g, exclusive, reverse, label=""):
    """Our float64 gradient of the scan equals that of torch's own ops (flips and a shift), zeros
    where theirs are."""
    ours = x.clone().requires_grad_()
    theirs = x.clone().requires_grad_()
    (grad_ours,) = torch.autograd.grad(cumprod(ours, dim, exclusive=exclusive, reverse=reverse), ours, g)
    (grad_theirs,) = torch.autograd.grad(torch_scan(theirs, dim, {}, exclusive, reverse), theirs, g)
    assert torch.equal(grad_ours == 0, grad_theirs == 0), label
    torch.testing.assert_close(grad_ours, grad_theirs, rtol=1e-10, atol=1e-12, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
def test_gradient_with_zeros(exclusive, reverse, device):
    """Exact where inputs are zero: against the gradient of torch's own ops (flips and a shift)."""
    x = near_one((3, 40), dtype=torch.float64, device=device, seed=8)
    x[0, [0, 17]] = 0
    x[1, [20, 21, 39]] = 0
    g = near_one((3, 40), dtype=torch.float64, device=device, seed=9)
    assert_matches_torch_ops(x, 1, g, exclusive, reverse)


# test_autograd's layouts, small: the split ones still cut in many chunks by small_planner.
GRADIENT_LAYOUTS = {"rows": ((6, 300), 1), "columns": ((300, 6), 0), "3-D middle": ((3, 200, 5), 1),
                    "split rows (few, long)": ((600,), 0), "split columns": ((2, 500, 3), 1)}


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("layout,kind", small_plans(GRADIENT_LAYOUTS))
def test_gradient_of_many_tiles_and_chunks(layout, kind, exclusive, reverse, device, monkeypatch):
    """The backward kernels run each option's own recurrence (no flips, no shifts): small tiles and
    chunks, so that every carry between tiles and chunks is used, zeros on tile and chunk edges
    included, against the gradient of torch's own ops."""
    shape, dim = GRADIENT_LAYOUTS[layout]
    monkeypatch.setattr(autograd, "plan_backward", small_planner(kind))
    x = near_one(shape, dtype=torch.float64, device=device, seed=12)
    x.select(dim, 15).zero_()
    x.select(dim, 48).zero_()
    g = near_one(shape, dtype=torch.float64, device=device, seed=13)
    assert_matches_torch_ops(x, dim, g, exclusive, reverse, layout)


def threads_own_columns(n_chunks):
    """plan_backward's tile for 16-bit columns that fill the GPU (64 columns on one warp, each lane
    two whole columns: kernels/cols.py column_run) in steps of 8, lines cut in `n_chunks` chunks."""
    return lambda n_outer, length, inner, *_: ("cols", n_chunks, -(-length // (8 * n_chunks)) * 8, 64, 8, 1)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("n_chunks", [1, 3])
def test_gradient_of_columns_owned_by_threads(n_chunks, exclusive, reverse, device, monkeypatch):
    """The column gradient with each lane walking two whole columns: 100 columns (the second tile
    part masked), zeros on a step's edge, against the gradient of torch's own ops."""
    monkeypatch.setattr(autograd, "plan_backward", threads_own_columns(n_chunks))
    x = near_one((2, 44, 100), dtype=torch.float64, device=device, seed=16)
    x[:, [15, 24]] = 0
    g = near_one((2, 44, 100), dtype=torch.float64, device=device, seed=17)
    assert_matches_torch_ops(x, 1, g, exclusive, reverse)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
@pytest.mark.parametrize("kind", ["rows", "line"])
def test_half_type_gradient_of_a_part_tile(kind, exclusive, reverse, device, monkeypatch):
    """bf16 rows of 100 in tiles of 16: the last tile is part masked, and a reverse scan's gradient
    leaves it through the masked tail, which must read as 1 (the interpreter ignores `other` for
    bf16 loads)."""
    monkeypatch.setattr(autograd, "plan_backward", small_planner(kind))
    x = near_one((2, 100), device=device, seed=14).to(torch.bfloat16)
    g = near_one((2, 100), device=device, seed=15, spread=1.0).to(torch.bfloat16)
    ours = gradient(x, 1, g, exclusive=exclusive, reverse=reverse)
    assert_gradient_close(ours, x, 1, g, label=kind, exclusive=exclusive, reverse=reverse)


@pytest.mark.parametrize("exclusive,reverse", OPTIONS, ids=OPTION_IDS)
def test_custom_op(exclusive, reverse, device):
    from triton_cumprod.ops import cumprod_op

    x = near_one((4, 33), device=device, seed=10)
    torch.library.opcheck(cumprod_op, (x, 1, torch.float32, exclusive, reverse),
                          test_utils=("test_schema", "test_faketensor"))
    compiled = torch.compile(lambda t: cumprod(t, 1, exclusive=exclusive, reverse=reverse), fullgraph=True,
                             backend="eager")
    assert_scan_matches(compiled(x), x, 1, exclusive, reverse)


def test_module_options(device):
    layer = CumProd(1, exclusive=True, reverse=True)
    assert repr(layer) == "CumProd(dim=1, exclusive=True, reverse=True)"
    x = near_one((3, 20), device=device, seed=11)
    assert_scan_matches(layer(x), x, 1, exclusive=True, reverse=True)

"""The gradient (triton_cumprod.autograd and kernels/backward.py) against torch's, in float64."""
import pytest
import torch

from reference import near_one
from triton_cumprod import autograd, cumprod
from triton_cumprod.dispatch import plan_backward


def gradients(x, dim, g, dtype=None):
    """(ours, torch's) gradient of cumprod(x, dim, dtype=dtype) for the output gradient g."""
    ours = x.detach().clone().requires_grad_()
    theirs = x.detach().clone().requires_grad_()
    cumprod(ours, dim, dtype=dtype).backward(g)
    torch.cumprod(theirs, dim, dtype=dtype).backward(g)
    return ours.grad, theirs.grad


def assert_gradient_matches(x, dim, g, rtol=1e-10, label=""):
    ours, theirs = gradients(x, dim, g)
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    assert torch.equal(ours == 0, theirs == 0), f"{label}: zero patterns differ\nours {ours}\ntorch {theirs}"
    torch.testing.assert_close(ours, theirs, rtol=rtol, atol=1e-12, msg=lambda m: f"{label}: {m}")


@pytest.mark.parametrize("shape,dim", [((7,), 0), ((3, 9), 1), ((3, 9), 0), ((2, 3, 4), 1), ((2, 3, 4), -1), ((4, 1, 5), 1)])
def test_gradcheck(shape, dim, device):
    x = near_one(shape, dtype=torch.float64, device=device, seed=1).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: cumprod(t, dim), (x,))


LAYOUTS = {
    "rows": ((6, 300), 1),
    "columns": ((300, 6), 0),
    "3-D middle": ((3, 200, 5), 1),
    "split rows (few, long)": ((6000,), 0),
    "split columns": ((2, 5000, 3), 1),
    "rows a vector short of whole tiles": ((5, 95), 1),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_matches_torch_on_every_layout(layout, device):
    shape, dim = LAYOUTS[layout]
    x = near_one(shape, dtype=torch.float64, device=device, seed=2)
    g = near_one(shape, dtype=torch.float64, device=device, seed=3)
    assert_gradient_matches(x, dim, g, label=layout)


def small_planner(row_kind):
    """plan_backward cut small: tiles of 16 positions, chunks of three tiles; rows by `row_kind`
    ("rows", two a program, or "line", one)."""
    def plan(n_outer, length, inner, *_):
        block_l = 16
        chunk = 3 * block_l
        kind = row_kind if inner == 1 else "cols"
        block_a = {"rows": 2, "line": 1}.get(kind, min(4, 1 << max(inner - 1, 0).bit_length()))
        return kind, -(-length // chunk), chunk, block_a, block_l, 1
    return plan


def small_plans(layouts):
    """(layout, kind) pairs: both row kernels for each layout of rows, the columns kernel for the rest."""
    return [(name, kind) for name, (shape, dim) in sorted(layouts.items())
            for kind in (("rows", "line") if dim % len(shape) == len(shape) - 1 else ("cols",))]


@pytest.mark.parametrize("layout,kind", small_plans(LAYOUTS))
def test_many_tiles_and_chunks(layout, kind, device, monkeypatch):
    """Small tiles and many chunks on small tensors: every carry between tiles and chunks is used."""
    shape, dim = LAYOUTS[layout]
    monkeypatch.setattr(autograd, "plan_backward", small_planner(kind))
    x = near_one(shape, dtype=torch.float64, device=device, seed=4)
    g = near_one(shape, dtype=torch.float64, device=device, seed=5)
    assert_gradient_matches(x, dim, g, label=layout)


ZEROS = {
    "one zero": [5],
    "two zeros": [3, 11],
    "adjacent zeros": [6, 7],
    "first position": [0],
    "last position": [-1],
    "first and last": [0, -1],
    "every tenth": list(range(2, 40, 10)),
}


@pytest.mark.parametrize("case", sorted(ZEROS))
def test_exact_with_zeros(case, device):
    x = near_one((3, 40), dtype=torch.float64, device=device, seed=6)
    x[:, ZEROS[case]] = 0
    x[1] = near_one((40,), dtype=torch.float64, device=device, seed=7)  # one row without zeros
    g = near_one((3, 40), dtype=torch.float64, device=device, seed=8)
    assert_gradient_matches(x, 1, g, label=case)
    assert_gradient_matches(x.t().contiguous(), 0, g.t().contiguous(), label=f"{case}, columns")


@pytest.mark.parametrize("kind", ["rows", "line"])
def test_zeros_across_chunks(kind, device, monkeypatch):
    monkeypatch.setattr(autograd, "plan_backward", lambda n_outer, length, inner, *_: (kind, -(-length // 32), 32, 1, 16, 1))
    x = near_one((200,), dtype=torch.float64, device=device, seed=9)
    x[[40, 41, 150]] = 0
    assert_gradient_matches(x, 0, near_one((200,), dtype=torch.float64, device=device, seed=10), label="chunks")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_gradient_dtype_and_accuracy(dtype, device):
    x = near_one((4, 100), device=device, seed=11).to(dtype)
    g = near_one((4, 100), device=device, seed=12).to(dtype)
    ours, theirs = gradients(x, 1, g)
    assert ours.dtype == dtype == theirs.dtype
    exact, _ = gradients(x.double(), 1, g.double())
    # The gradient sums terms of both signs, so small entries carry the rounding of large ones:
    # measure errors against the largest entry. Half types compute in fp32 and round once.
    scale = exact.abs().max().item()
    ours_error = (ours.double() - exact).abs().max().item() / scale
    torch_error = (theirs.double() - exact).abs().max().item() / scale
    assert ours_error <= max(2 * torch_error, 4 * torch.finfo(dtype).eps), (ours_error, torch_error)


def test_half_columns_plan_and_accuracy(device):
    """16-bit columns that fill the GPU: one warp a program, each lane two whole columns in steps of 8
    (dispatch.plan_backward), no less accurate than torch's gradient."""
    assert plan_backward(4096, 4096, 4096, 132, (9, 0), 2)[3:] == (64, 8, 1)
    assert plan_backward(4096, 4096, 4096, 132, (9, 0), 4)[3:] == (64, 32, 4)
    x = near_one((3, 40, 64), device=device, seed=23, spread=1 / 8).to(torch.bfloat16)
    g = near_one((3, 40, 64), device=device, seed=24).to(torch.bfloat16)
    ours, theirs = gradients(x, 1, g)
    exact, _ = gradients(x.double(), 1, g.double())
    scale = exact.abs().max().item()
    ours_error = (ours.double() - exact).abs().max().item() / scale
    torch_error = (theirs.double() - exact).abs().max().item() / scale
    assert ours_error <= max(2 * torch_error, 4 * torch.finfo(torch.bfloat16).eps), (ours_error, torch_error)


def test_dtype_argument(device):
    """dtype= casts before the scan: the gradient comes back in the input's dtype."""
    x = near_one((3, 50), device=device, seed=13)
    g = near_one((3, 50), dtype=torch.float64, device=device, seed=14)
    ours, theirs = gradients(x, 1, g, dtype=torch.float64)
    assert ours.dtype == torch.float32 == theirs.dtype
    exact, _ = gradients(x.double(), 1, g)
    torch.testing.assert_close(ours.double(), exact, rtol=0, atol=2 * torch.finfo(torch.float32).eps * exact.abs().max().item())


def test_negative_and_strided_input(device):
    base = near_one((50, 6), dtype=torch.float64, device=device, seed=15) * -1
    x = base.t()
    assert not x.is_contiguous()
    assert_gradient_matches(x, 1, near_one((6, 50), dtype=torch.float64, device=device, seed=16), label="strided")


# Inputs the gradient reads as they lie (autograd.gradient_view): (shape, dim, the order of the
# dims in memory, the outermost first), or a row slice.
TURNED = {
    "transposed, scanned along x's contiguous dim": ((37, 21), 0, (1, 0)),
    "dim and the last swapped": ((3, 19, 4, 9), 1, (0, 3, 2, 1)),
    "first and last swapped, dims between merged": ((20, 2, 3, 9), 0, (3, 1, 2, 0)),
    "every other outer index": ((8, 19, 9), 1, "sliced outer"),
    "rows one element into wider rows": ((37, 5, 19), 0, "sliced rows"),
}


def turned_leaf(shape, dim, order, device, seed):
    """A leaf tensor of `shape` laid out as TURNED says, with a zero at a tile's edge."""
    if order == "sliced outer":
        x = near_one((2 * shape[0],) + shape[1:], device=device, seed=seed)[::2]
    elif order == "sliced rows":
        x = near_one(shape[:-1] + (shape[-1] + 1,), device=device, seed=seed)[..., 1:]
    else:
        x = near_one(tuple(shape[d] for d in order), device=device, seed=seed)
        x = x.permute(*[order.index(d) for d in range(len(shape))])
    at = [0] * len(shape)
    at[dim] = 4
    x[tuple(at)] = 0
    return x.detach().requires_grad_()


def chain_planner(n_outer, length, inner, *_):
    """The column chain on tiles of 4 positions by 8 columns: many tiles a line."""
    return "chain", -(-length // 4), 4, 8, 4, 1


@pytest.mark.parametrize("options", [{}, {"exclusive": True, "reverse": True}], ids=["plain", "exclusive-reverse"])
@pytest.mark.parametrize("plan", ["default", "chunks", "chain"])
@pytest.mark.parametrize("layout", sorted(TURNED))
def test_turned_inputs_are_read_as_they_lie(layout, plan, options, device, monkeypatch):
    """A transposed or sliced input is read through its strides, not copied (gradient_view), by the
    column kernel, its chunks and the column chain, against torch's gradient in float64."""
    from test_backward_lookback import assert_gradient_close

    shape, dim, order = TURNED[layout]
    x = turned_leaf(shape, dim, order, device, seed=18)
    assert not x.is_contiguous() and autograd.gradient_view(x, dim, x.dtype) is not None
    if plan != "default":
        monkeypatch.setattr(autograd, "plan_backward", chain_planner if plan == "chain" else small_planner("cols"))
    g = near_one(shape, device=device, seed=19, spread=1.0)
    (ours,) = torch.autograd.grad(cumprod(x, dim, **options), x, g)
    assert_gradient_close(ours, x.detach(), dim, g, label=f"{layout}, {plan}", **options)


def test_gradient_view_copies_what_the_column_kernels_would_read_badly():
    """Contiguous inputs, results whose inner axis spans less than a 32-byte sector and scans along
    the last dim (the result lies along the scan) take the copy's path."""
    assert autograd.gradient_view(torch.ones(6, 5), 0, torch.float32) is None
    assert autograd.gradient_view(torch.ones(5, 6).t(), 0, torch.float32) is None
    assert autograd.gradient_view(torch.ones(11, 50, dtype=torch.float16).t(), 0, torch.float16) is None
    assert autograd.gradient_view(torch.ones(8, 50).t(), 0, torch.float32) is not None
    assert autograd.gradient_view(torch.ones(50, 60).t(), 0, torch.float32) is not None
    assert autograd.gradient_view(torch.ones(50, 60).t(), 1, torch.float32) is None
    assert autograd.gradient_view(torch.ones(50, 61)[:, 1:], 1, torch.float32) is None


def test_non_contiguous_output_gradient(device):
    x = near_one((4, 30), dtype=torch.float64, device=device, seed=17).requires_grad_()
    cumprod(x, 1).sum().backward()  # sum's gradient is an expanded (stride 0) tensor
    expected = torch.autograd.grad(torch.cumprod(x, 1).sum(), x)[0]
    torch.testing.assert_close(x.grad, expected, rtol=1e-10, atol=0)


@pytest.mark.parametrize("shape,dim", [((0, 3), 1), ((3, 0), 1), ((), 0), ((4, 1), 1)])
def test_trivial_shapes(shape, dim, device):
    x = near_one(shape, dtype=torch.float64, device=device, seed=18)
    g = near_one(shape, dtype=torch.float64, device=device, seed=19)
    ours, theirs = gradients(x, dim, g)
    assert ours.shape == theirs.shape and torch.equal(ours, theirs)


def test_double_backward_says_it_is_not_supported(device):
    x = near_one((3, 5), dtype=torch.float64, device=device, seed=20).requires_grad_()
    with pytest.raises(RuntimeError, match="no double backward"):
        torch.autograd.grad(cumprod(x, 1).sum(), x, create_graph=True)


def test_deterministic(device):
    x = near_one((2, 5000, 3), device=device, seed=21)
    g = near_one((2, 5000, 3), device=device, seed=22)
    first, _ = gradients(x, 1, g)
    second, _ = gradients(x, 1, g)
    assert torch.equal(first, second)


def test_plan_backward_invariants():
    # float64: rows too few for the GPU are cut in chunks (gradients computed in float32 take the
    # look-back there, tests/test_backward_lookback.py). Rows of a tile or more take one a program.
    for n_outer, length, inner in [(32768, 32768, 1), (1, 32768, 32768), (1, 1 << 28, 1), (64, 4096, 1024), (3, 50, 7),
                                   (5000, 300, 1), (8, 1025, 1)]:
        kind, n_chunks, chunk, block_a, block_l, num_warps = plan_backward(n_outer, length, inner, 132, (9, 0), 8)
        assert kind == ("cols" if inner > 1 else "line" if length > 1024 else "rows")
        assert chunk % block_l == 0 and (n_chunks - 1) * chunk < length <= n_chunks * chunk
        assert block_a & (block_a - 1) == 0 and block_l & (block_l - 1) == 0 and n_chunks <= 65535
        lines = -(-n_outer // block_a) if inner == 1 else n_outer * -(-inner // block_a)
        assert (n_chunks > 1) == (2 * lines <= 132 and length > 2 * block_l)


def test_special_values_give_the_true_derivative(device):
    """Where torch divides by the input (inf/inf, x/NaN), ours keeps the derivative's own value:
    d y[j] / d x[k] is the product of the other factors, so it is finite at a NaN or inf input."""
    x = torch.tensor([2.0, float("nan"), 3.0, 0.5], dtype=torch.float64, device=device)
    g = torch.ones(4, dtype=torch.float64, device=device)
    ours, _ = gradients(x, 0, g)
    # grad[1] = sum over j >= 1 of the product of x[:j + 1] without x[1] = 2 + 2 * 3 + 2 * 3 * 0.5
    assert ours[1].item() == 2 + 6 + 3
    assert torch.isnan(ours[[0, 2, 3]]).all()
    x = torch.tensor([float("inf"), 2.0], dtype=torch.float64, device=device)
    ours, theirs = gradients(x, 0, torch.ones(2, dtype=torch.float64, device=device))
    assert ours[0].item() == 3.0 and ours[1].item() == float("inf")
    assert torch.isnan(theirs[0])  # torch: (inf + inf) / inf

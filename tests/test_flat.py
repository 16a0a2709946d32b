"""kernels/flat.py: contiguous short rows scanned as one flat array, rows as segments, and their
gradient."""
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference import (ALL_DTYPES, FLOAT_DTYPES, SPECIAL_ROWS, assert_cumprod_matches, assert_identical,
                       assert_scan_matches, near_one, random_input)
from test_backward_lookback import assert_gradient_close, gradient
from triton_cumprod import autograd, cumprod, dispatch, forward
from triton_cumprod.dispatch import plan_flat
from triton_cumprod.forward import view_plan
from triton_cumprod.layout import scan_view


def small_tiles(block):
    """plan_flat with tiles of `block` elements, so that small inputs cross tiles and rows straddle
    them."""
    def plan(n_rows, length, capability, itemsize, backward=False):
        return (*plan_flat(n_rows, length, capability, itemsize, backward)[:4], block, 1, 1)
    return plan


def offset_rows(x):
    # Rows one after another, starting one element past the storage's start (no 16-byte alignment).
    flat = torch.cat([x.new_ones(1), x.reshape(-1)])
    return flat[1:].reshape(x.shape)


@given(length=st.integers(2, 15), rows=st.integers(2, 60), block=st.sampled_from([16, 32, 64]),
       dtype=st.sampled_from(ALL_DTYPES), offset=st.booleans(), exclusive=st.booleans(), reverse=st.booleans())
def test_flat_rows(length, rows, block, dtype, offset, exclusive, reverse, device, monkeypatch, launches):
    monkeypatch.setattr(forward, "plan_flat", small_tiles(block))
    x = random_input((rows, length), dtype, device=device, seed=rows * 16 + length)
    if offset:
        x = offset_rows(x)
    assert_scan_matches(cumprod(x, 1, exclusive=exclusive, reverse=reverse), x, 1, exclusive, reverse)
    assert launches.plans[-1][0] == "flat"


@pytest.mark.parametrize("length", [3, 5, 7])
@pytest.mark.parametrize("reverse", [False, True])
def test_flat_rows_special_values(length, reverse, device, monkeypatch):
    # Zeros, -0.0, infinities and NaN, in rows that straddle tiles of 16.
    monkeypatch.setattr(forward, "plan_flat", small_tiles(16))
    values = torch.tensor(SPECIAL_ROWS, dtype=torch.float32).reshape(-1)
    x = values[: values.numel() // length * length].reshape(-1, length).to(device)
    if reverse:
        assert_scan_matches(cumprod(x, 1, reverse=True), x, 1, reverse=True)
    else:
        assert_cumprod_matches(cumprod(x, 1), x, 1, label=f"rows of {length}")


def test_flat_rows_repeat_bitwise(device, monkeypatch):
    monkeypatch.setattr(forward, "plan_flat", small_tiles(32))
    x = random_input((301, 7), torch.float32, device=device, seed=7)
    assert_identical(cumprod(x, 1), cumprod(x, 1))


@pytest.mark.parametrize("length, options, view, flat", [
    (3, {}, "contiguous", True),
    (15, {}, "contiguous", True),
    (3, {}, "offset", True),
    (16, {}, "contiguous", False),  # rows of 16 fill a tile of rows
    (3, {"exclusive": True, "reverse": True}, "contiguous", True),
    (3, {}, "sliced", False),  # rows apart in memory
])
def test_flat_plan(length, options, view, flat, device):
    x = random_input((40, length + (view == "sliced")), torch.float32, device=device)
    x = x[:, 1:] if view == "sliced" else offset_rows(x) if view == "offset" else x
    plan = view_plan(*scan_view(x, 1), torch.float32, **options)
    assert (plan[0] == "flat") == flat, plan


@given(length=st.integers(2, 15), rows=st.integers(2, 60), block=st.sampled_from([16, 32, 64]),
       dtype=st.sampled_from(FLOAT_DTYPES), exclusive=st.booleans(), reverse=st.booleans(), zeros=st.booleans())
def test_flat_rows_gradient(length, rows, block, dtype, exclusive, reverse, zeros, device, monkeypatch):
    # Rows straddling tiles of 16-64, zeros included: against torch's gradient in float64.
    monkeypatch.setattr(dispatch, "plan_flat", small_tiles(block))
    calls = []
    launch = autograd.launch_backward_flat
    monkeypatch.setattr(autograd, "launch_backward_flat", lambda *args: calls.append(args) or launch(*args))
    x = near_one((rows, length), device=device, seed=rows * 16 + length).to(dtype)
    if zeros:
        x.view(-1)[::7] = 0
    g = near_one((rows, length), device=device, seed=rows * 16 + length + 1).to(dtype)
    ours = gradient(x, 1, g, exclusive=exclusive, reverse=reverse)
    assert_gradient_close(ours, x, 1, g, label=f"{rows} x {length}", exclusive=exclusive, reverse=reverse)
    assert len(calls) == 1


def test_flat_rows_gradient_repeats_bitwise(device, monkeypatch):
    monkeypatch.setattr(dispatch, "plan_flat", small_tiles(32))
    x = near_one((301, 7), device=device, seed=5)
    g = near_one((301, 7), device=device, seed=6)
    assert_identical(gradient(x, 1, g, reverse=True), gradient(x, 1, g, reverse=True))

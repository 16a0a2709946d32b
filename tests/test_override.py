"""triton_cumprod.enable / disable / enabled: the aten override of torch.cumprod.

Without a GPU the override is registered for the CPU dispatch key (device_types=(device,)), where
TRITON_INTERPRET=1 runs our kernels on CPU tensors; with one, for CUDA. Results are computed inside
the override and checked outside it: the references call torch.cumprod, which inside would be ours.
"""
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import triton_cumprod
from reference import assert_cumprod_matches, assert_identical, call_both, near_one, random_input
from triton_cumprod import api, disable, enable, enabled

OVERLOADS = ("aten::cumprod", "aten::cumprod.out", "aten::cumprod_")


def registrations():
    """The dispatcher's table for the three overloads: which kernel is registered at which key."""
    return {name: torch._C._dispatch_dump(name) for name in OVERLOADS}


def overridden(name, key):
    """Whether the kernel the dispatcher runs for `name` at `key` is ours."""
    if not torch._C._dispatch_has_computed_kernel_for_dispatch_key(name, key):
        return False
    return "triton_cumprod/override.py" in repr(torch.library.get_kernel(name, key))


@pytest.fixture(autouse=True)
def switched_off():
    """Every test starts and ends with torch's own kernels, whatever it did."""
    disable()
    yield
    disable()


def assert_same_outcome(over, plain):
    """`over()` (called with the override on) and `plain()` (off) return identical results or raise
    the same exception with the same message."""
    kind_o, ours = call_both(over)
    kind_t, theirs = call_both(plain)
    assert kind_o == kind_t, f"with the override: {kind_o} {ours!r}; torch: {kind_t} {theirs!r}"
    if kind_t == "raise":
        assert type(ours) is type(theirs) and str(ours) == str(theirs), f"ours: {ours!r}; torch: {theirs!r}"
    else:
        assert_identical(ours, theirs)


def test_exports():
    for name in ("enable", "disable", "enabled"):
        assert name in triton_cumprod.__all__
        assert getattr(triton_cumprod, name) is getattr(triton_cumprod.override, name)


# --- on and off ----------------------------------------------------------------------------------------

def test_enable_routes_torch_cumprod_to_our_kernels(device, launches):
    x = near_one((5, 13), device=device, seed=1)
    with enabled(device_types=(device,)):
        y = torch.cumprod(x, 1)
        assert launches.count >= 1, "torch.cumprod did not reach the Triton kernels"
        launches.reset()
        z = x.cumprod(-2)
        assert launches.count >= 1, "Tensor.cumprod did not reach the Triton kernels"
    assert_cumprod_matches(y, x, 1)
    assert_cumprod_matches(z, x, -2)


def test_enable_registers_at_the_backend_key_only(device):
    key = {"cpu": "CPU", "cuda": "CUDA"}[device]
    before = registrations()
    enable(device_types=(device,))
    for name in OVERLOADS:
        assert overridden(name, key), f"{name} is not overridden at {key}"
        assert not overridden(name, "Meta")
    disable()
    assert registrations() == before


def test_default_is_cuda_only(launches):
    """enable() without arguments overrides the CUDA key; CPU tensors keep torch's kernels."""
    before = registrations()
    # A CPU-only build of torch has CUDA kernels for some overloads only (cumprod.out: none).
    has_cuda_kernel = [n for n in OVERLOADS if torch._C._dispatch_has_computed_kernel_for_dispatch_key(n, "CUDA")]
    assert has_cuda_kernel
    enable()
    try:
        for name in OVERLOADS:
            assert overridden(name, "CUDA") == (name in has_cuda_kernel)
            assert not overridden(name, "CPU")
        x = near_one((3, 7))
        y = torch.cumprod(x, 1)
        assert launches.count == 0
    finally:
        disable()
    assert_identical(y, torch.cumprod(x, 1))
    assert registrations() == before


def test_disable_restores_torch_exactly(device, launches):
    x = near_one((4, 9), device=device, seed=2)
    expected = torch.cumprod(x, 1)
    before = registrations()
    enable(device_types=(device,))
    assert registrations() != before
    disable()
    assert registrations() == before, "disable() left the dispatcher changed"
    y = torch.cumprod(x, 1)
    assert launches.count == 0, "torch.cumprod still reached our kernels after disable()"
    assert_identical(y, expected)


def test_enable_twice_and_disable_twice(device, launches):
    before = registrations()
    enable(device_types=(device,))
    once = registrations()
    enable(device_types=(device,))  # torch.library would raise on a second registration
    enable(device_types=device)
    assert registrations() == once
    disable()
    assert registrations() == before, "one disable() after two enable() calls must restore torch"
    disable()
    assert registrations() == before
    torch.cumprod(near_one((3, 4), device=device), 1)
    assert launches.count == 0


def test_enable_rejects_unknown_device_types():
    before = registrations()
    for bad in (("tpu",), (), ("cuda", "mps")):
        with pytest.raises(ValueError, match="device_types"):
            enable(device_types=bad)
    assert registrations() == before


def test_context_manager_restores_on_exit_and_on_exception(device, launches):
    x = near_one((3, 8), device=device)
    before = registrations()
    with enabled(device_types=(device,)):
        torch.cumprod(x, 1)
    assert launches.count >= 1
    assert registrations() == before
    with pytest.raises(ZeroDivisionError):
        with enabled(device_types=(device,)):
            assert registrations() != before
            1 / 0
    assert registrations() == before, "the override outlived a with block left by an exception"
    launches.reset()
    torch.cumprod(x, 1)
    assert launches.count == 0


def test_context_manager_nested_in_enable_keeps_it_on(device, launches):
    enable(device_types=(device,))
    on = registrations()
    with enabled(device_types=(device,)):
        pass
    assert registrations() == on, "leaving the with block switched off an override enabled before it"
    torch.cumprod(near_one((3, 8), device=device), 1)
    assert launches.count >= 1


def test_enable_does_not_warn_in_a_fresh_process(device):
    """torch warns once per process when a kernel is overridden; enable() silences that warning
    (and only that one: warnings are errors here)."""
    code = (
        "import warnings; warnings.simplefilter('error'); import triton_cumprod; "
        f"triton_cumprod.enable(device_types=({device!r},)); triton_cumprod.disable(); print('ok')"
    )
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=src + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
    assert "Overriding a previously registered kernel" not in done.stderr


# --- entry points: in place, out=, dtype= ----------------------------------------------------------------

def test_inplace(device, launches):
    x = near_one((4, 6), device=device, seed=3)
    w = x.clone()
    ptr = w.data_ptr()
    with enabled(device_types=(device,)):
        r = w.cumprod_(0)
    assert launches.count >= 1
    assert r is w and w.data_ptr() == ptr
    assert_cumprod_matches(w, x, 0)


def test_inplace_strided_and_integer(device, launches):
    x = near_one((6, 5), device=device, seed=4)
    base = x.clone().t()  # not contiguous
    n = torch.tensor([[3, -2, 5, 7], [1, 2, 3, 4]], dtype=torch.int32, device=device)
    ni = n.clone()
    with enabled(device_types=(device,)):
        base.cumprod_(1)
        ni.cumprod_(1, dtype=torch.int32)
    assert launches.count >= 2
    assert_cumprod_matches(base, x.t(), 1)
    assert_identical(ni, n.clone().cumprod_(1))  # in int32, as torch does in place


def test_inplace_errors_are_torchs(device, launches):
    x = near_one((3, 4), device=device)

    def both(fn):
        def over():
            with enabled(device_types=(device,)):
                return fn()
        assert_same_outcome(over, fn)

    both(lambda: x.clone().cumprod_(0, dtype=torch.float64))        # dtype= other than the input's
    both(lambda: near_one((1, 4), device=device).expand(3, 4).cumprod_(0))  # overlapping elements
    both(lambda: torch.tensor([True, False, True], device=device).cumprod_(0))  # bool result
    assert launches.count == 0


def test_out(device, launches):
    x = near_one((4, 9), device=device, seed=5)
    out = torch.empty(4, 9, device=device)
    with enabled(device_types=(device,)):
        y = torch.cumprod(x, 1, out=out)
    assert launches.count >= 1
    assert y is out
    assert_cumprod_matches(out, x, 1)


def test_out_resized_with_torchs_warning_and_non_contiguous(device, launches):
    x = near_one((4, 9), device=device, seed=6)
    with warnings.catch_warnings(record=True) as caught_torch:
        warnings.simplefilter("always")
        torch.cumprod(x, 1, out=torch.empty(5, device=device))
    out = torch.empty(5, device=device)
    strided = torch.empty(9, 4, device=device).t()
    with enabled(device_types=(device,)), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cumprod(x, 1, out=out)
        torch.cumprod(x, 0, out=strided)
    assert launches.count >= 2

    def messages(ws):
        return [str(w.message).split(" (Triggered internally at ")[0] for w in ws if issubclass(w.category, UserWarning)]

    assert messages(caught) == messages(caught_torch)
    assert tuple(out.shape) == (4, 9)
    assert_cumprod_matches(out, x, 1)
    assert_cumprod_matches(strided, x, 0)


@pytest.mark.parametrize("in_dtype, dtype", [(torch.float32, torch.float64), (torch.int32, torch.float32),
                                             (torch.float64, torch.float16), (torch.bool, None)], ids=str)
def test_dtype(in_dtype, dtype, device, launches):
    x = random_input((3, 7), in_dtype, device=device, seed=7)
    with enabled(device_types=(device,)):
        y = torch.cumprod(x, 1, dtype=dtype)
        o = torch.cumprod(x, 0, dtype=dtype, out=torch.empty(0, dtype=dtype or y.dtype, device=device))
    assert launches.count >= 2
    assert_cumprod_matches(y, x, 1, dtype=dtype)
    assert_cumprod_matches(o, x, 0, dtype=dtype)


# --- fallbacks: torch's own kernel, without recursion ------------------------------------------------------

def test_complex_input_falls_back(device, launches):
    x = torch.complex(near_one((3, 5), device=device), near_one((3, 5), device=device, seed=1))
    expected = torch.cumprod(x, 1)
    with enabled(device_types=(device,)):
        y = torch.cumprod(x, 1)
        z = triton_cumprod.cumprod(x, 1)  # api.cumprod's own fallback calls torch.cumprod: no loop
    assert launches.count == 0
    assert_identical(y, expected)
    assert_identical(z, expected)


@pytest.mark.parametrize("case", ["dim out of range", "bool result", "out dtype mismatch", "complex result"])
def test_fallback_cases_match_torch(case, device, launches):
    x = near_one((3, 4), device=device)
    call = {
        "dim out of range": lambda f: f(x, 2),
        "bool result": lambda f: f(x, 1, dtype=torch.bool),
        "out dtype mismatch": lambda f: f(x, 1, dtype=torch.float64, out=torch.empty(3, 4, device=device)),
        "complex result": lambda f: f(x, 0, dtype=torch.complex64),
    }[case]

    def over():
        with enabled(device_types=(device,)):
            return call(torch.cumprod)

    assert_same_outcome(over, lambda: call(torch.cumprod))
    with enabled(device_types=(device,)):
        kind, _ = call_both(lambda: call(triton_cumprod.cumprod))
    assert kind == call_both(lambda: call(torch.cumprod))[0]
    assert launches.count == 0


def test_dim_out_of_range_raises_torchs_index_error(device):
    x = near_one((3, 4), device=device)
    with enabled(device_types=(device,)), pytest.raises(IndexError, match="Dimension out of range"):
        torch.cumprod(x, 5)


def test_reentry_from_our_code_goes_to_torch(device, monkeypatch):
    """The safety net: were api.cumprod to fall back to torch.cumprod where kernel_dtype said we
    compute, the nested call reaches torch's kernel instead of the override again."""
    calls = []

    def falls_back(input, dim, *, dtype=None, out=None):
        calls.append(dim)
        return torch.cumprod(input, dim, dtype=dtype)

    x = near_one((3, 6), device=device)
    expected = torch.cumprod(x, 1)
    monkeypatch.setattr(api, "cumprod", falls_back)
    with enabled(device_types=(device,)):
        y = torch.cumprod(x, 1)
    assert calls == [1], "the override did not call api.cumprod exactly once"
    assert_identical(y, expected)


# --- autograd: torch's derivative formula over our forward --------------------------------------------------

def test_requires_grad_gradient_equals_torchs(device, launches, monkeypatch):
    x = near_one((4, 7), device=device, seed=8)
    g = near_one((4, 7), device=device, seed=9)
    leaf = x.clone().requires_grad_()
    custom_op_calls = []
    real_op = api.cumprod_op
    monkeypatch.setattr(api, "cumprod_op", lambda *args: custom_op_calls.append(args) or real_op(*args))
    with enabled(device_types=(device,)):
        y = torch.cumprod(leaf, 1)
        assert launches.count >= 1
        # Below Autograd the plain launch path runs: the custom op (and its autograd) is not used.
        assert custom_op_calls == []
        assert type(y.grad_fn).__name__ == "CumprodBackward0"  # torch's formula, above the override
        y.backward(g)
    ref = x.clone().requires_grad_()
    torch.cumprod(ref, 1).backward(g)
    assert_cumprod_matches(y.detach(), x, 1)
    torch.testing.assert_close(leaf.grad, ref.grad, rtol=1e-5, atol=1e-6)


def test_requires_grad_inplace_and_autograd_errors(device, launches):
    x = near_one((3, 5), device=device, seed=10)
    leaf = x.clone().requires_grad_()
    with enabled(device_types=(device,)):
        h = leaf * 1
        h.cumprod_(1)
        assert launches.count >= 1
        h.sum().backward()
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            torch.cumprod(leaf, 1, out=torch.empty(3, 5, device=device))
    ref = x.clone().requires_grad_()
    (ref * 1).cumprod(1).sum().backward()
    torch.testing.assert_close(leaf.grad, ref.grad, rtol=1e-5, atol=1e-6)


# --- on a GPU --------------------------------------------------------------------------------------------------

@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: enable()'s default overrides the CUDA key")
def test_enable_default_on_cuda(launches):
    x = near_one((64, 300), device="cuda", seed=11)
    before = registrations()
    enable()
    try:
        y = torch.cumprod(x, 1)
        w = x.clone()
        w.cumprod_(0)
        out = torch.cumprod(x, 1, dtype=torch.float16, out=torch.empty(0, dtype=torch.float16, device="cuda"))
        assert launches.count >= 3
        launches.reset()
        c = torch.complex(x, x)
        zc = torch.cumprod(c, 1)
        with pytest.raises(IndexError):
            torch.cumprod(x, 2)
        assert launches.count == 0
        leaf = x.clone().requires_grad_()
        torch.cumprod(leaf, 1).sum().backward()
    finally:
        disable()
    assert registrations() == before
    assert_cumprod_matches(y, x, 1)
    assert_cumprod_matches(w, x, 0)
    assert_cumprod_matches(out, x, 1, dtype=torch.float16)
    assert_identical(zc, torch.cumprod(c, 1))
    ref = x.clone().requires_grad_()
    torch.cumprod(ref, 1).sum().backward()
    torch.testing.assert_close(leaf.grad, ref.grad, rtol=1e-4, atol=1e-5)

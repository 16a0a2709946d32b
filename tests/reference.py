"""Inputs, reference results and verbose comparisons for the cumprod tests.

The reference for a call is torch.cumprod's semantics computed wide on the CPU: the input is cast to
the result dtype first (as torch does), then multiplied in float64 (integers: int64, whose wrap-around
modulo 2**64 reduces to the narrower dtypes' wrap-around exactly). For float64 results the reference
is taken in numpy's longdouble, so that it is more precise than what it checks where the platform has
an extended long double (x86: 64-bit mantissa).
"""
import os

import numpy as np
import torch

FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
INT_DTYPES = (torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8)
ALL_DTYPES = FLOAT_DTYPES + INT_DTYPES + (torch.bool,)

# CUDA grid limits: x up to 2**31 - 1 blocks, y and z up to 65535.
MAX_GRID_X = 2**31 - 1
MAX_GRID_YZ = 65535

_inf, _nan = float("inf"), float("nan")
# Zeros, -0.0, infinities and NaN at positions that cross the small forced tiles and chunks of
# the kernel tests: five lines of 17.
SPECIAL_ROWS = [
    [1.0, -1.0, 2.0, -0.0, 1.0, 0.5, -1.0, 2.0, 1.0, -2.0, 1.0, 1.0, 0.5, -1.0, 1.0, 3.0, 1.0],
    [2.0, 1.0, _inf, 1.0, -1.0, 1.0, 1.0, 0.5, 0.0, 1.0, 2.0, -1.0, 1.0, 1.0, -0.5, 1.0, 1.0],
    [1.0, 1.0, 1.0, -1.0, 2.0, 1.0, 1.0, -1.0, _nan, 1.0, 1.0, 1.0, 0.0, 1.0, _inf, 1.0, 1.0],
    [-_inf, 1.0, -1.0, 1.0, 1.0, 1.0, -2.0, 1.0, 0.5, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, -1.0, -1.0],
    [1.0, 0.0, 1.0, _inf, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0],
]


def interpreted():
    return os.environ.get("TRITON_INTERPRET") == "1"


def generator(seed):
    return torch.Generator().manual_seed(seed)


def near_one(shape, dtype=torch.float32, device="cpu", seed=0, spread=0.1, signs=True):
    """Values 1 + U(-spread/2, spread/2), with random signs: long products neither underflow nor
    overflow, and every prefix is far from zero, so relative errors are meaningful. Made on the CPU
    with a seeded generator, so every device gets the same input."""
    g = generator(seed)
    x = 1 + (torch.rand(shape, generator=g, dtype=torch.float64) - 0.5) * spread
    if signs:
        x = x * (torch.randint(0, 2, shape, generator=g) * 2 - 1)
    return x.to(dtype).to(device)


def random_input(shape, dtype, device="cpu", seed=0):
    """A test input of any dtype: floats near one (see near_one); signed integers over the dtype's
    whole range, so that products wrap around; uint8 likewise; bool mostly True."""
    g = generator(seed)
    if dtype.is_floating_point:
        return near_one(shape, dtype, device, seed)
    if dtype == torch.bool:
        return (torch.rand(shape, generator=g) < 0.9).to(device)
    info = torch.iinfo(dtype)
    if dtype == torch.int64:
        x = torch.randint(info.min, info.max, shape, generator=g, dtype=torch.int64)
    else:
        x = torch.randint(info.min, info.max + 1, shape, generator=g, dtype=torch.int64).to(dtype)
    return x.to(device)


def torch_cpu(x, dim, dtype=None):
    """torch.cumprod in the call's own dtype on the CPU: the result whose dtype we must match and
    whose error sets our error budget."""
    return torch.cumprod(x.detach().cpu(), dim, dtype=dtype)


def cast_input(x, result_dtype):
    """The input as torch scans it: cast to the result dtype."""
    return x.detach().cpu().to(result_dtype)


def reference(x, dim, result_dtype):
    """The exact-ish cumulative product as a numpy array: float64 (longdouble for float64 results)
    for floating results, int64 for integer ones."""
    cast = cast_input(x, result_dtype)
    if result_dtype.is_floating_point:
        wide = np.longdouble if result_dtype == torch.float64 else np.float64
        values = cast.double().numpy().astype(wide)
        with np.errstate(all="ignore"):
            return np.cumprod(values, axis=dim) if values.ndim else values
    return torch.cumprod(cast.to(torch.int64), dim).numpy()


def same_dtype_sequential(x, dim, result_dtype):
    """A plain left-to-right scan that multiplies in float32, as numpy does for float32 arrays.

    torch.cumprod on the CPU multiplies float32 in double (at::acc_type<float, false> is double) and
    rounds once per element, an accuracy that no float32-accumulating kernel, torch's own CUDA one
    included, can reach on long rows. For float32 results the error budget therefore also admits the
    error of this float32 scan. Half types (float16, bfloat16) accumulate in float32 on the CPU as in
    our kernels, and float64 in float64: for those torch's CPU error alone sets the budget."""
    if result_dtype != torch.float32:
        return None
    values = cast_input(x, result_dtype).numpy()
    with np.errstate(all="ignore"):
        return np.cumprod(values, axis=dim) if values.ndim else values


def eps(dtype):
    """One ulp at 1.0 of `dtype`, the unit the error slack is counted in."""
    return float(torch.finfo(dtype).eps)


def slack_ulps(dtype):
    """Ulps of slack on top of twice torch's error.

    Under TRITON_INTERPRET=1 the interpreter converts float32 to bfloat16 by truncating the mantissa
    instead of rounding to nearest even (triton/runtime/interpreter.py, _convert_float with no rounding
    mode): each bfloat16 store may be off by up to one more bfloat16 ulp than on a GPU, so bfloat16 gets
    one extra ulp there. For the same reason, tests that cast a float32 *input* to bfloat16 (dtype=)
    use inputs that bfloat16 holds exactly."""
    extra = 1 if (dtype == torch.bfloat16 and interpreted()) else 0
    return 4 + extra


def error_factor(dtype):
    """How many times torch's error ours may reach.

    Twice, for the scan's order: ours multiplies in trees and chunks where torch's CPU scan goes
    left to right. For float64 three times: with no float32-style bias (see same_dtype_sequential)
    the error of a long float64 scan is a random walk of its roundings, and two orders of the same
    scan draw two walks. Their maxima came out up to 2.01 times apart on 2 of 12 lines of 10^6
    factors near one (a numpy left-to-right scan against a chunked one of 4096-factor tree products,
    both in float64), and a GPU run of 1-D 1000003 float64 came out 2.07 times torch's."""
    return 3 if dtype == torch.float64 else 2


def relative_error(values, ref):
    """|values - ref| / |ref| elementwise, computed in the reference's precision; where ref is zero
    the absolute error. Non-finite references are left out (NaN in the result)."""
    ref = np.asarray(ref)
    values = np.asarray(values).astype(ref.dtype)
    with np.errstate(all="ignore"):
        err = np.abs(values - ref)
        scale = np.abs(ref)
        err = np.where(scale > 0, err / np.where(scale > 0, scale, 1), err)
        err = np.where(np.isfinite(ref), err, np.nan)
    return err


def max_error(err):
    finite = err[~np.isnan(err)]
    return float(finite.max()) if finite.size else 0.0


def _numpy(t):
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        t = t.float()  # exact
    return t.numpy()


def _first(mask):
    flat = np.flatnonzero(mask)
    if flat.size == 0:
        return None
    index = np.unravel_index(flat[0], mask.shape)
    return tuple(int(i) for i in index)


def _at(a, index):
    return np.asarray(a)[index] if index is not None else None


def assert_cumprod_matches(ours, x, dim, dtype=None, label=""):
    """Check `ours` against torch.cumprod(x, dim, dtype=dtype).

    dtype and shape must equal torch's. Integer results must equal torch's (and the wide reference
    wrapped to the dtype) exactly. Floating results: elementwise relative error against the wide
    reference no larger than error_factor(dtype) * (torch's own max relative error on the same input) + slack
    ulps; for float32 torch's error is taken as the larger of the CPU's (double accumulation) and a float32
    sequential scan's, see same_dtype_sequential; for results on a GPU torch's error there counts too.
    Non-finite reference values must be matched exactly by position and value (NaN with NaN, +-inf
    with +-inf).
    """
    expected = torch_cpu(x, dim, dtype)
    prefix = f"{label}: " if label else ""
    assert ours.dtype == expected.dtype, f"{prefix}dtype {ours.dtype}, torch gives {expected.dtype}"
    assert tuple(ours.shape) == tuple(expected.shape), f"{prefix}shape {tuple(ours.shape)}, torch gives {tuple(expected.shape)}"
    if ours.numel() == 0:
        return
    got = _numpy(ours)
    want = _numpy(expected)
    cast_dim = dim if x.dim() else 0
    ref = reference(x, cast_dim, expected.dtype)
    if not expected.dtype.is_floating_point:
        wrapped = torch.as_tensor(np.array(ref)).to(expected.dtype).numpy()
        assert np.array_equal(want, wrapped), "reference and torch disagree: the test itself is wrong"
        bad = got != want
        if bad.any():
            i = _first(bad)
            raise AssertionError(
                f"{prefix}{int(bad.sum())} of {bad.size} integer elements differ from torch (shape {tuple(ours.shape)}, "
                f"dim {dim}, {expected.dtype}); first at index {i}: ours={_at(got, i)}, torch={_at(want, i)}, "
                f"int64 reference={_at(ref, i)}"
            )
        return
    finite = np.isfinite(ref)
    nonfinite_bad = ~finite & ~((got == ref) | (np.isnan(got) & np.isnan(ref)))
    if nonfinite_bad.any():
        i = _first(nonfinite_bad)
        raise AssertionError(
            f"{prefix}non-finite reference not matched at {int(nonfinite_bad.sum())} elements; first at index {i}: "
            f"ours={_at(got, i)}, reference={_at(ref, i)}, torch={_at(want, i)}"
        )
    err = relative_error(got, ref)
    baseline = max_error(relative_error(want, ref))
    sequential = same_dtype_sequential(x, cast_dim, expected.dtype)
    if sequential is not None:
        baseline = max(baseline, max_error(relative_error(sequential, ref)))
    if ours.device.type != "cpu":
        # torch's own result on the device we ran on. On a GPU every parallel float32 scan (torch's
        # rows, ours) multiplies in a tree, and trees of factors near one round with a bias: their
        # error grows linearly with the length where a sequential scan's grows like its square root.
        on_device = torch.cumprod(x.detach().to(ours.device), dim, dtype=dtype)
        baseline = max(baseline, max_error(relative_error(_numpy(on_device), ref)))
    factor = error_factor(expected.dtype)
    budget = factor * baseline + slack_ulps(expected.dtype) * eps(expected.dtype)
    bad = finite & ~(err <= budget)
    if bad.any():
        i = _first(bad)
        raise AssertionError(
            f"{prefix}{int(bad.sum())} of {bad.size} elements exceed the error budget {budget:.3e} "
            f"(= {factor} * {baseline:.3e} + {slack_ulps(expected.dtype)} ulp of {expected.dtype}); shape {tuple(ours.shape)}, "
            f"dim {dim}; max error {max_error(err):.3e}; first at index {i}: ours={_at(got, i)!r}, "
            f"reference={_at(ref, i)!r}, torch={_at(want, i)!r}, relative error {_at(err, i):.3e}"
        )


def assert_scan_matches(ours, x, dim, exclusive=False, reverse=False, dtype=None, label=""):
    """Check cumprod(x, dim, dtype=dtype, exclusive=..., reverse=...) through torch.cumprod: read
    from the end, a reverse scan is torch.cumprod of the flipped input; an exclusive scan starts
    with exactly 1 and goes on with torch.cumprod of all but the last input."""
    if x.dim() == 0:
        ours, x = ours.reshape(1), x.reshape(1)
    if reverse:
        ours, x = ours.flip(dim), x.flip(dim)
    n = x.shape[dim]
    if exclusive and n > 0:
        first = ours.narrow(dim, 0, 1)
        assert first.dtype == torch_cpu(x, dim, dtype).dtype, f"{label}: dtype {first.dtype}"
        assert bool((first.cpu() == 1).all()), f"{label}: an exclusive scan starts with 1, not {first}"
        ours, x = ours.narrow(dim, 1, n - 1), x.narrow(dim, 0, n - 1)
    assert_cumprod_matches(ours, x, dim, dtype, label)


def assert_identical(ours, expected, label=""):
    """Bitwise equality of two results, as far as it is observable: dtype, shape, the NaN mask, the
    values where not NaN (torch.equal) and, for floats, the sign bits where not NaN (so -0.0 != 0.0).
    A failure names the first differing index."""
    prefix = f"{label}: " if label else ""
    assert ours.dtype == expected.dtype, f"{prefix}dtype {ours.dtype} != {expected.dtype}"
    assert tuple(ours.shape) == tuple(expected.shape), f"{prefix}shape {tuple(ours.shape)} != {tuple(expected.shape)}"
    a = ours.detach().cpu()
    b = expected.detach().cpu()
    if a.dtype.is_floating_point or a.dtype.is_complex:
        nan_a, nan_b = torch.isnan(a), torch.isnan(b)
        both = ~(nan_a | nan_b)
        bad = nan_a != nan_b
        bad |= both & (a != b)
        if not a.dtype.is_complex:
            bad |= both & (torch.signbit(a) != torch.signbit(b))
        masked_equal = torch.equal(a.masked_fill(~both, 0), b.masked_fill(~both, 0))
    else:
        bad = a != b
        masked_equal = torch.equal(a, b)
    if bad.any() or not masked_equal:
        i = _first(bad.numpy()) if bad.any() else None
        detail = f"first at index {i}: ours={a[i].item()!r}, expected={b[i].item()!r}" if i is not None else "torch.equal differs"
        raise AssertionError(f"{prefix}{int(bad.sum())} of {bad.numel()} elements differ ({a.dtype}, shape {tuple(a.shape)}); {detail}")


def call_both(fn, *args, **kwargs):
    """Call `fn` and return ('ok', result) or ('raise', exception)."""
    try:
        return "ok", fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - the point is to compare whatever is raised
        return "raise", exc


def assert_same_exception(ours_fn, torch_fn):
    """Both calls raise; the same exception type and message."""
    kind_t, torch_exc = call_both(torch_fn)
    kind_o, our_exc = call_both(ours_fn)
    assert kind_t == "raise", f"the test expects torch to raise, it returned {torch_exc!r}"
    assert kind_o == "raise", f"torch raised {type(torch_exc).__name__}: {torch_exc}; ours returned {our_exc!r}"
    assert type(our_exc) is type(torch_exc), f"ours raised {type(our_exc).__name__}: {our_exc}; torch {type(torch_exc).__name__}: {torch_exc}"
    assert str(our_exc) == str(torch_exc), f"messages differ:\n  ours:  {our_exc}\n  torch: {torch_exc}"
    return our_exc


def plan_like_forward(n_outer, length, inner, unit_stride, device, out_dtype=torch.float32, x_dtype=None):
    """The plan forward.scan_3d takes for a scan on `device` that reads `x_dtype` (None: out_dtype)
    and writes `out_dtype`."""
    from triton_cumprod.forward import scan_plan

    x_itemsize = x_dtype.itemsize if x_dtype is not None else None
    return scan_plan(n_outer, length, inner, unit_stride, out_dtype, torch.device(device), x_itemsize=x_itemsize)

"""triton_cumprod.cumprod against torch.cumprod: shapes, dims, layouts, dtypes, dtype=, out=,
special values, errors, fallbacks, determinism, and random cases (hypothesis)."""
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from reference import (
    ALL_DTYPES,
    FLOAT_DTYPES,
    INT_DTYPES,
    assert_cumprod_matches,
    assert_identical,
    assert_same_exception,
    call_both,
    near_one,
    plan_like_forward,
    random_input,
)
from triton_cumprod import cumprod


def split_length(device, strided=True, dtype=torch.float32):
    """A row length that the plan splits into chunks when there are few rows (2 * BLOCK_L + 1 of the
    longest step), read from plan_scan."""
    block_l = plan_like_forward(2, 1 << 24, 1, not strided, device, dtype)[4]
    return 2 * block_l + 1


def user_warnings(caught):
    """The UserWarnings' messages, without the " (Triggered internally at <file>:<line>.)" that torch's
    C++ warnings carry (where in torch's sources the warning was raised, not what it says)."""
    return [str(w.message).split(" (Triggered internally at ")[0] for w in caught if issubclass(w.category, UserWarning)]


# --- shapes and dims --------------------------------------------------------------------------------

SHAPES = [(37,), (5, 13), (3, 4, 7), (2, 3, 4, 5), (3, 1, 6), (1, 9, 1, 2)]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_every_dim(shape, device, launches):
    x = near_one(shape, device=device, seed=len(shape))
    for dim in list(range(len(shape))) + list(range(-len(shape), 0)):
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"dim {dim}")
        assert launches.count >= (1 if shape[dim] > 1 else 0), f"dim {dim}: the kernels did not run"


def test_dim_as_keyword(device):
    x = near_one((4, 6), device=device)
    assert_cumprod_matches(cumprod(x, dim=1), x, 1)
    assert_cumprod_matches(cumprod(input=x, dim=-2), x, -2)


LAYOUTS = {
    "transposed": lambda d: near_one((9, 6), device=d).t(),
    "permuted 3-D": lambda d: near_one((4, 5, 6), device=d).permute(2, 0, 1),
    "permuted 4-D": lambda d: near_one((2, 3, 4, 5), device=d).permute(3, 1, 0, 2),
    "sliced step 2": lambda d: near_one((6, 20), device=d)[:, ::2],
    "sliced step 3, offset": lambda d: near_one((12, 15), device=d)[1::3, 2::3],
    "narrowed": lambda d: near_one((5, 9, 4), device=d)[1:4, 2:7, 1:],
    "expanded scan dims": lambda d: near_one((1, 7), device=d).expand(5, 7),
    "expanded rows": lambda d: near_one((5, 1), device=d).expand(5, 7),
    "expanded middle": lambda d: near_one((3, 1, 4), device=d).expand(3, 6, 4),
    "expanded 0-d": lambda d: near_one((), device=d).expand(4, 3),
    "channels_last": lambda d: near_one((2, 3, 4, 5), device=d).contiguous(memory_format=torch.channels_last),
    "transposed then sliced": lambda d: near_one((10, 8), device=d).t()[::2, 1:],
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_layouts(layout, device, launches):
    x = LAYOUTS[layout](device)
    for dim in range(-x.dim(), x.dim()):
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{layout}, dim {dim}")
        assert launches.count >= 1
    # The input is left as it was.
    assert torch.equal(x, LAYOUTS[layout](device))


def test_negative_bit_view(device):
    z = torch.tensor([1 + 2j, 3 - 1j, 0.5 + 0.5j, 2 - 2j], dtype=torch.complex64, device=device).conj()
    x = z.imag  # a float32 view with the negative bit set: values -2, 1, -0.5, 2
    assert x.is_neg()
    assert_identical(cumprod(x, 0), torch.cumprod(x, 0))


def test_negative_bit_view_private_api(device):
    x = torch.tensor([1.0, 2.0, 3.0], device=device)._neg_view()
    assert_identical(cumprod(x, 0), torch.cumprod(x, 0))


@pytest.mark.parametrize(
    "shape, dim",
    [((), 0), ((), -1), ((0,), 0), ((0,), -1), ((0, 5), 0), ((0, 5), 1), ((5, 0), 0), ((5, 0), 1), ((3, 0, 4), 2), ((3, 0, 4), 1), ((2, 3, 0), 0), ((1,), 0), ((1, 1), 1)],
    ids=str,
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.int32, torch.bool], ids=str)
def test_zero_dim_and_empty(shape, dim, dtype, device):
    x = random_input(shape, dtype, device=device, seed=5)
    y = cumprod(x, dim)
    assert_cumprod_matches(y, x, dim)
    assert y.device.type == torch.device(device).type
    assert_identical(y, torch.cumprod(x, dim))


def test_zero_dim_with_dtype(device):
    x = torch.tensor(2.75, device=device)
    for dtype in (torch.float16, torch.float64, torch.int32, torch.int8):
        assert_identical(cumprod(x, 0, dtype=dtype), torch.cumprod(x, 0, dtype=dtype))


# --- dtypes -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=str)
def test_dtypes(dtype, device, launches):
    """Every input dtype, on rows, columns and a split strided-row scan."""
    cases = [
        (random_input((4, 37), dtype, device=device, seed=1), 1),
        (random_input((4, 37), dtype, device=device, seed=2), 0),
        (random_input((split_length(device, dtype=dtype), 3), dtype, device=device, seed=3).t(), 1),
    ]
    for x, dim in cases:
        launches.reset()
        assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"{dtype} shape {tuple(x.shape)} dim {dim}")
        assert launches.count >= 1
    assert launches.count >= 3, "the strided rows were not split"


@pytest.mark.parametrize("dtype", INT_DTYPES, ids=str)
def test_integer_wraparound(dtype, device):
    """Products of random values over the dtype's whole range wrap around exactly as torch's do,
    in int64 by default and in the dtype itself with dtype=."""
    x = random_input((3, 100), dtype, device=device, seed=7)
    for dim in (0, 1):
        got = cumprod(x, dim)
        assert_identical(got, torch.cumprod(x.cpu(), dim))
        got = cumprod(x, dim, dtype=dtype)
        assert_identical(got, torch.cumprod(x.cpu(), dim, dtype=dtype))
    # Odd values never wrap to zero: a long row of them checks every carry.
    odd = (random_input((2, 300), torch.int64, device=device, seed=8) | 1).to(dtype)
    assert_identical(cumprod(odd, 1), torch.cumprod(odd.cpu(), 1))
    assert bool((cumprod(odd, 1) != 0).all())


def exactly_representable(shape, dtype, device, seed):
    """float32 values near one that `dtype` holds exactly, so that a cast to it is exact (the
    interpreter truncates float32 to bfloat16 instead of rounding it)."""
    return near_one(shape, dtype=dtype, seed=seed).float().to(device)


@pytest.mark.parametrize(
    "in_dtype, dtype",
    [
        (torch.float32, torch.float16),
        (torch.float32, torch.bfloat16),
        (torch.float32, torch.float64),
        (torch.float64, torch.float32),
        (torch.float16, torch.float32),
        (torch.bfloat16, torch.float64),
        (torch.float32, torch.int32),
        (torch.float64, torch.int64),
        (torch.float16, torch.int16),
        (torch.int32, torch.float32),
        (torch.int64, torch.float64),
        (torch.int8, torch.float16),
        (torch.uint8, torch.int8),
        (torch.int8, torch.uint8),
        (torch.int64, torch.int16),
        (torch.int16, torch.int64),
        (torch.bool, torch.float32),
        (torch.bool, torch.int8),
        (torch.int32, torch.int32),
        (torch.float32, torch.float32),
    ],
    ids=str,
)
def test_dtype_argument(in_dtype, dtype, device, launches):
    shape = (5, 23)
    if in_dtype.is_floating_point and dtype.is_floating_point:
        narrow = dtype if torch.finfo(dtype).bits < torch.finfo(in_dtype).bits else in_dtype
        x = exactly_representable(shape, narrow, device, 11).to(in_dtype)
    elif in_dtype.is_floating_point:
        # Casting to an integer truncates toward zero; keep values small, with fractions and signs.
        g = torch.Generator().manual_seed(12)
        x = ((torch.rand(shape, generator=g) - 0.5) * 7).to(in_dtype).to(device)
    elif in_dtype == torch.bool:
        x = random_input(shape, in_dtype, device=device, seed=13)
    elif dtype.is_floating_point:
        g = torch.Generator().manual_seed(14)
        x = torch.randint(-2, 3, shape, generator=g).clamp_min(0 if in_dtype == torch.uint8 else -2)
        x = x.masked_fill(x == 0, 1).to(in_dtype).to(device)
    else:
        x = random_input(shape, in_dtype, device=device, seed=15)
    for dim in (0, 1):
        y = cumprod(x, dim, dtype=dtype)
        assert y.dtype == dtype
        assert_cumprod_matches(y, x, dim, dtype=dtype, label=f"{in_dtype} -> {dtype}, dim {dim}")
        if not dtype.is_floating_point:
            assert_identical(y, torch.cumprod(x.cpu(), dim, dtype=dtype))
    assert launches.count >= 2


@pytest.mark.parametrize("dim", [0, 1])
def test_dtype_casts_the_input_before_the_scan(dim, device):
    """torch casts the input to dtype= first and multiplies the cast values: 1 + 2**-12 is 1.0 in
    float16 (and 1 + 2**-10 in bfloat16), so the products are exactly one; 2049 is 2048 in float16,
    so 2049 * 3 gives 6144, where the uncast 6147 would round to 6148."""
    shape = (300, 4) if dim == 0 else (4, 300)
    for value, dtype in ((1 + 2**-12, torch.float16), (1 + 2**-10, torch.bfloat16)):
        x = torch.full(shape, value, device=device)
        assert_identical(cumprod(x, dim, dtype=dtype), torch.ones(shape, dtype=dtype))
    x = torch.full(shape, 1 + 2**-12, dtype=torch.float64, device=device)
    assert_identical(cumprod(x, dim, dtype=torch.float16), torch.ones(shape, dtype=torch.float16))
    x = torch.tensor([2049, 3, 1, -1], device=device)
    x = x.reshape(4, 1).repeat(1, 3) if dim == 0 else x.repeat(3, 1)
    expected = torch.cumprod(x.cpu(), dim, dtype=torch.float16)
    assert expected.select(1 - dim, 0).tolist() == [2048, 6144, 6144, -6144]
    assert_identical(cumprod(x, dim, dtype=torch.float16), expected)


@pytest.mark.parametrize(
    "in_dtype",
    [torch.float16, torch.float32, torch.float64, torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool],
    ids=str,
)
def test_bfloat16_result_from_every_input_dtype(in_dtype, device):
    x = torch.tensor([[1, 2, 3, 1, 2, 1, 1, 3], [1, 1, 2, 0, 5, 1, 3, 1]]).to(in_dtype).to(device)
    for dim in (0, 1):
        assert_identical(cumprod(x, dim, dtype=torch.bfloat16), torch.cumprod(x.cpu(), dim, dtype=torch.bfloat16))
    out = torch.empty(2, 8, dtype=torch.bfloat16, device=device)
    assert_identical(cumprod(x, 1, out=out), torch.cumprod(x.cpu(), 1, dtype=torch.bfloat16))


# --- out= -------------------------------------------------------------------------------------------

def test_out_right_shape(device, launches):
    x = near_one((4, 9), device=device)
    out = torch.empty(4, 9, device=device)
    ptr = out.data_ptr()
    y = cumprod(x, 1, out=out)
    assert y is out
    assert out.data_ptr() == ptr
    assert_cumprod_matches(out, x, 1)
    assert launches.count >= 1


@pytest.mark.parametrize("out_shape", [(5,), (2, 2), (4, 10), (36,), (1, 4, 9)], ids=str)
def test_out_wrong_shape_is_resized_with_torch_warning(out_shape, device):
    x = near_one((4, 9), device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        expected = torch.cumprod(x, 1, out=torch.empty(out_shape, device=device))
    torch_messages = user_warnings(caught)
    assert len(torch_messages) == 1
    out = torch.empty(out_shape, device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = cumprod(x, 1, out=out)
    assert y is out
    assert user_warnings(caught) == torch_messages
    assert tuple(out.shape) == (4, 9)
    assert_cumprod_matches(out, x, 1)
    assert out.stride() == expected.stride()


@pytest.mark.parametrize("out_shape", [(0,), (0, 3), (2, 0, 5)], ids=str)
def test_empty_out_is_resized_silently(out_shape, device):
    x = near_one((4, 9), device=device)
    out = torch.empty(out_shape, device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = cumprod(x, 0, out=out)
    assert user_warnings(caught) == []
    assert y is out and tuple(out.shape) == (4, 9)
    assert_cumprod_matches(out, x, 0)


def test_out_for_empty_input(device):
    x = torch.empty(0, 3, device=device)
    for out_shape in ((0, 3), (5,), (0,)):
        out = torch.full(out_shape, 7.0, device=device)
        expected_out = torch.full(out_shape, 7.0, device=device)
        with warnings.catch_warnings(record=True) as caught_torch:
            warnings.simplefilter("always")
            torch.cumprod(x, 1, out=expected_out)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            y = cumprod(x, 1, out=out)
        assert y is out
        assert user_warnings(caught) == user_warnings(caught_torch)
        assert_identical(out, expected_out)


@pytest.mark.parametrize(
    "in_dtype, out_dtype",
    [(torch.float32, torch.float64), (torch.float32, torch.float16), (torch.float64, torch.float32), (torch.int32, torch.float32),
     (torch.float32, torch.int32), (torch.int8, torch.int8), (torch.bool, torch.int32), (torch.int64, torch.int16), (torch.float16, torch.bfloat16)],
    ids=str,
)
def test_out_of_another_dtype_computes_in_its_dtype(in_dtype, out_dtype, device, launches):
    shape = (6, 17)
    if in_dtype.is_floating_point and out_dtype.is_floating_point:
        x = exactly_representable(shape, torch.bfloat16 if out_dtype == torch.bfloat16 else torch.float16, device, 21).to(in_dtype)
    elif in_dtype.is_floating_point:
        g = torch.Generator().manual_seed(22)
        x = ((torch.rand(shape, generator=g) - 0.5) * 7).to(in_dtype).to(device)
    elif out_dtype.is_floating_point:
        x = torch.tensor([1, -1, 2, 1, -2, 1], dtype=in_dtype).repeat(6, 3)[:, :17].contiguous().to(device)
    else:
        x = random_input(shape, in_dtype, device=device, seed=23)
    out = torch.empty(shape, dtype=out_dtype, device=device)
    expected = torch.empty(shape, dtype=out_dtype)
    torch.cumprod(x.cpu(), 1, out=expected)
    y = cumprod(x, 1, out=out)
    assert y is out and out.dtype == out_dtype
    # torch with out= computes as with dtype=out.dtype.
    assert_identical(expected, torch.cumprod(x.cpu(), 1, dtype=out_dtype))
    assert_cumprod_matches(out, x, 1, dtype=out_dtype)
    assert launches.count >= 1


def test_out_non_contiguous(device):
    x = near_one((3, 4), device=device)
    out = torch.empty(4, 3, device=device).t()
    y = cumprod(x, 1, out=out)
    assert y is out and out.stride() == (1, 3)
    assert_cumprod_matches(out, x, 1)
    # A strided window of a bigger buffer: only the window is written.
    buffer = torch.full((6, 8), -5.0, device=device)
    window = buffer[::2, ::2]
    cumprod(x, 0, out=window)
    assert_cumprod_matches(window, x, 0)
    untouched = torch.ones(6, 8, dtype=torch.bool, device=device)
    untouched[::2, ::2] = False
    assert bool((buffer[untouched] == -5.0).all())


def test_out_non_contiguous_wrong_shape(device):
    x = near_one((3, 4), device=device)
    out = torch.empty(5, 3, device=device).t()
    expected = torch.empty(5, 3, device=device).t()
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        torch.cumprod(x, 1, out=expected)
        y = cumprod(x, 1, out=out)
    assert y is out
    assert out.shape == expected.shape and out.stride() == expected.stride()
    assert_cumprod_matches(out, x, 1)


def test_out_with_mismatched_dtype_argument_raises_like_torch(device):
    x = near_one((3, 4), device=device)
    assert_same_exception(
        lambda: cumprod(x, 0, dtype=torch.float64, out=torch.empty(3, 4, device=device)),
        lambda: torch.cumprod(x, 0, dtype=torch.float64, out=torch.empty(3, 4, device=device)),
    )
    assert_same_exception(
        lambda: cumprod(x, 0, dtype=torch.int32, out=torch.empty(3, 4, dtype=torch.int64, device=device)),
        lambda: torch.cumprod(x, 0, dtype=torch.int32, out=torch.empty(3, 4, dtype=torch.int64, device=device)),
    )


def test_out_with_matching_dtype_argument(device):
    x = near_one((3, 4), device=device)
    out = torch.empty(3, 4, dtype=torch.float64, device=device)
    assert cumprod(x, 0, dtype=torch.float64, out=out) is out
    assert_cumprod_matches(out, x, 0, dtype=torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.int64, torch.float16], ids=str)
def test_out_aliasing_the_input(dtype, device):
    x = random_input((4, 11), dtype, device=device, seed=31)
    original = x.clone()
    y = cumprod(x, 1, out=x)
    assert y is x
    assert_cumprod_matches(x, original, 1, label="out=x")


def test_out_aliasing_the_input_float_exact(device):
    # Values whose products are exact: the in-place result equals torch's bitwise.
    x = torch.tensor([[2.0, -0.5, 4.0, 1.0, -2.0], [0.25, 8.0, -1.0, 0.5, 2.0]], device=device)
    expected = torch.cumprod(x.cpu(), 1)
    assert cumprod(x, 1, out=x) is x
    assert_identical(x, expected)
    xt = torch.tensor([[2.0, -0.5, 4.0], [0.25, 8.0, -1.0]], device=device).t()
    expected = torch.cumprod(xt.cpu(), 0)
    assert cumprod(xt, 0, out=xt) is xt
    assert_identical(xt, expected)


def test_out_partly_overlapping_the_input_behaves_like_torch(device):
    # torch 2.13 refuses this on every device; earlier releases compute it on CUDA. Either way, ours
    # does what the installed torch does.
    def call(fn):
        storage = torch.arange(1.0, 9.0, device=device)
        return fn(storage[:6], 0, out=storage[2:8])

    if call_both(lambda: call(torch.cumprod))[0] == "raise":
        assert_same_exception(lambda: call(cumprod), lambda: call(torch.cumprod))
    else:
        assert_identical(call(cumprod), call(torch.cumprod))


def test_out_with_internal_overlap_raises_like_torch(device):
    x = near_one((2, 3), device=device)
    assert_same_exception(
        lambda: cumprod(x, 0, out=torch.empty(1, 3, device=device).expand(2, 3)),
        lambda: torch.cumprod(x, 0, out=torch.empty(1, 3, device=device).expand(2, 3)),
    )


def test_out_of_zero_dim_input(device):
    x = torch.tensor(1.5, device=device)
    out = torch.empty(3, device=device)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = cumprod(x, 0, out=out)
    assert y is out and out.shape == () and out.item() == 1.5
    assert len(user_warnings(caught)) == 1


# --- special values -----------------------------------------------------------------------------------

INF, NAN = float("inf"), float("nan")
SPECIAL_ROWS = {
    "zero": [2.0, 0.0, 3.0, 4.0],
    "negative zero first": [-0.0, 2.0, -1.0, 3.0],
    "signs through zero": [0.0, -1.0, -1.0, -2.0],
    "minus one then -0": [-1.0, -0.0, -0.5],
    "inf": [INF, 2.0, -1.0, 0.5, -4.0],
    "inf times zero": [INF, 0.0, 5.0, 1.0],
    "zero times inf": [1.0, 0.0, INF, 2.0],
    "-inf": [-INF, -2.0, 1.0],
    "nan first": [NAN, 1.0, 0.0, INF],
    "nan inside": [3.0, NAN, 2.0, -1.0],
    "overflow": [32768.0, 32768.0, 2.0, -1.0],  # overflows float16 only
}


def special_cases(dtype):
    """Rows whose every product is exact (powers of two, signed zeros, infinities, NaN), so that any
    order of multiplication gives the same bits, also where the interpreter truncates to bfloat16."""
    cases = dict(SPECIAL_ROWS)
    # tiny * tiny underflows to zero in the output dtype, big * big overflows to inf.
    tiny = {torch.float16: 2.0**-14, torch.bfloat16: 2.0**-100, torch.float32: 2.0**-100, torch.float64: 2.0**-600}[dtype]
    big = {torch.float16: 2.0**15, torch.bfloat16: 2.0**100, torch.float32: 2.0**100, torch.float64: 2.0**600}[dtype]
    # The product underflows to zero (in the output dtype), then meets NaN, then more values.
    cases["nan after underflow"] = [tiny, tiny, NAN, 2.0]
    cases["overflow to inf, stays inf"] = [big, big, 0.5, -2.0]
    return cases


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_special_values(dtype, device):
    for name, row in sorted(special_cases(dtype).items()):
        x = torch.tensor(row, dtype=dtype)
        expected = torch.cumprod(x, 0)
        assert_identical(cumprod(x.to(device), 0), expected, label=f"{name}, row")
        # As columns (the column kernel), and as strided rows.
        cols = x.reshape(-1, 1).repeat(1, 3)
        assert_identical(cumprod(cols.to(device), 0), torch.cumprod(cols, 0), label=f"{name}, columns")
        strided = x.repeat(3, 1).t().contiguous().t()
        assert_identical(cumprod(strided.to(device), 1), torch.cumprod(strided, 1), label=f"{name}, strided rows")


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_special_values_in_split_scan(dtype, device, launches):
    """Zeros, signed zeros, infinities and NaNs among +-1, +-2, +-0.5 (all products exact) in rows
    that the plan cuts into chunks: the chunk carries must propagate them exactly like torch."""
    length = split_length(device, dtype=dtype)
    g = torch.Generator().manual_seed(41)
    values = torch.tensor([1.0, -1.0, 2.0, 0.5, -2.0, -0.5, 1.0, 1.0, -1.0, 1.0], dtype=torch.float64)
    x = values[torch.randint(0, len(values), (length, 4), generator=g)]
    # Row 0: -0.0 late; row 1: inf then zero near the chunk ends; row 2: NaN late; row 3: plain.
    x[length - 3, 0] = -0.0
    x[length // 2, 1] = INF
    x[length - 2, 1] = 0.0
    x[length - 5, 2] = NAN
    x = x.to(dtype).to(device).t()
    launches.reset()
    assert_identical(cumprod(x, 1), torch.cumprod(x.cpu(), 1))
    assert launches.count >= 3, "the rows were not split"


# Rows whose prefix products overflow (or underflow) and then meet a zero (or an infinity or a value
# that would bring them back): torch scans left to right, so inf * 0 = NaN from there on, and an
# infinite prefix stays infinite. Another order (big * (big * 0) = 0) gives other values. Only dtypes
# whose accumulator is the same in torch on the CPU and in our kernels are compared: bfloat16
# (float32) and float64. (torch on the CPU multiplies float32 in double, where 2**100 * 2**100 is
# finite; float16 accumulates in float32, where 2**15 * 2**15 is.)
ORDER_DEPENDENT_ROWS = {
    "overflow then zero": lambda big, tiny: [big, big, 0.0, 1.0, 1.0],
    "underflow then inf": lambda big, tiny: [tiny, tiny, INF, 1.0, 1.0],
    "overflow then tiny": lambda big, tiny: [big, big, tiny, tiny, 1.0],
}
BIG = {torch.bfloat16: 2.0**100, torch.float64: 2.0**600}


@pytest.mark.xfail(torch.cuda.is_available(), strict=True, reason=(
    "LIMITATION (GPU): tl.associative_scan multiplies a tile in a tree, so a prefix that overflows and then "
    "meets 0 gives big * (big * 0) = 0 where torch (CPU and CUDA) gives NaN, and [big, big, tiny] gives "
    "a finite value after inf; the interpreter scans a tile left to right and agrees with torch"))
@pytest.mark.parametrize("dtype", list(BIG), ids=str)
def test_intermediate_overflow_within_a_tile(dtype, device):
    big = BIG[dtype]
    for name, make in sorted(ORDER_DEPENDENT_ROWS.items()):
        x = torch.tensor(make(big, 1 / big), dtype=dtype)
        assert_identical(cumprod(x.to(device), 0), torch.cumprod(x, 0), label=f"{name}, row")
        cols = x.reshape(-1, 1).repeat(1, 3)
        assert_identical(cumprod(cols.to(device), 0), torch.cumprod(cols, 0), label=f"{name}, columns")


@pytest.mark.xfail(strict=True, reason=(
    "LIMITATION: chunk products are scanned in another order than the elements: with big in chunk 0 and "
    "[big, 0] at the start of chunk 1, chunk 1 itself turns NaN (inf * 0) but chunk 2 starts from the "
    "carry big * (big * 0) = 0, so a NaN turns back into 0.0 while torch gives NaN to the end"))
@pytest.mark.parametrize("dtype", list(BIG), ids=str)
def test_intermediate_overflow_across_chunks(dtype, device):
    big = BIG[dtype]
    length = split_length(device, dtype=dtype)
    x = torch.ones(length, 3, dtype=dtype)
    rows = x.t()
    plan = plan_like_forward(3, length, 1, False, device, dtype)
    chunk = plan[2]
    assert plan[1] >= 3, f"expected three chunks or more: {plan}"
    x[0, 0] = big
    x[chunk, 0] = big
    x[chunk + 1, 0] = 0.0
    assert_identical(cumprod(rows.to(device), 1), torch.cumprod(rows, 1))


@given(data=st.data())
def test_special_values_random(data, device):
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES), label="dtype")
    pool = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, INF, -INF, NAN]
    weights = st.sampled_from(pool[2:8] * 6 + pool)
    rows = data.draw(st.integers(1, 5), label="rows")
    length = data.draw(st.integers(1, 60), label="length")
    values = data.draw(st.lists(weights, min_size=rows * length, max_size=rows * length), label="values")
    dim = data.draw(st.integers(0, 1), label="dim")
    x = torch.tensor(values, dtype=dtype).reshape(rows, length)
    assert_identical(cumprod(x.to(device), dim), torch.cumprod(x, dim))


# --- errors -------------------------------------------------------------------------------------------

ERROR_CASES = {
    "dim too large": lambda f, d: f(torch.ones(3, 4, device=d), 2),
    "dim too small": lambda f, d: f(torch.ones(3, 4, device=d), -3),
    "dim of 0-d": lambda f, d: f(torch.tensor(2.0, device=d), 1),
    "dim of 0-d negative": lambda f, d: f(torch.tensor(2.0, device=d), -2),
    "dim of 1-d": lambda f, d: f(torch.ones(5, device=d), 1),
    "float dim": lambda f, d: f(torch.ones(3, device=d), 0.0),
    "string dim": lambda f, d: f(torch.ones(3, device=d), "x"),
    "None dim": lambda f, d: f(torch.ones(3, device=d), None),
    "bool dim": lambda f, d: f(torch.ones(3, device=d), True),
    "list input": lambda f, d: f([1.0, 2.0], 0),
    "number input": lambda f, d: f(2.0, 0),
    "ndarray input": lambda f, d: f(torch.ones(3).numpy(), 0),
    "dtype=bool": lambda f, d: f(torch.ones(3, device=d), 0, dtype=torch.bool),
    "dtype=uint16": lambda f, d: f(torch.ones(3, device=d), 0, dtype=torch.uint16),
    "dtype=float8": lambda f, d: f(torch.ones(3, device=d), 0, dtype=torch.float8_e4m3fn),
    "dtype as string": lambda f, d: f(torch.ones(3, device=d), 0, dtype="float32"),
    "out bool": lambda f, d: f(torch.ones(3, device=d), 0, out=torch.empty(3, dtype=torch.bool, device=d)),
    "out not a tensor": lambda f, d: f(torch.ones(3, device=d), 0, out=[0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("case", sorted(ERROR_CASES))
def test_errors_match_torch(case, device):
    make = ERROR_CASES[case]
    exc = assert_same_exception(lambda: make(cumprod, device), lambda: make(torch.cumprod, device))
    assert str(exc)


def test_dim_out_of_range_is_index_error(device):
    exc = assert_same_exception(lambda: cumprod(torch.ones(2, 3, device=device), 5), lambda: torch.cumprod(torch.ones(2, 3, device=device), 5))
    assert isinstance(exc, IndexError)
    assert "Dimension out of range" in str(exc)


def test_non_int_dim_and_non_tensor_are_type_errors(device):
    exc = assert_same_exception(lambda: cumprod(torch.ones(3, device=device), 0.5), lambda: torch.cumprod(torch.ones(3, device=device), 0.5))
    assert isinstance(exc, TypeError)
    exc = assert_same_exception(lambda: cumprod((1, 2, 3), 0), lambda: torch.cumprod((1, 2, 3), 0))
    assert isinstance(exc, TypeError)


def test_refused_dtype_same_error_type(device):
    exc = assert_same_exception(lambda: cumprod(torch.ones(3, device=device), 0, dtype=torch.bool),
                                lambda: torch.cumprod(torch.ones(3, device=device), 0, dtype=torch.bool))
    if device == "cpu":
        assert isinstance(exc, NotImplementedError)


# --- fallbacks ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [torch.complex64, torch.complex128], ids=str)
def test_complex_falls_back_to_torch(dtype, device, launches):
    g = torch.Generator().manual_seed(51)
    x = torch.randn(3, 7, dtype=dtype, generator=g).to(device)
    for dim in (0, 1):
        assert_identical(cumprod(x, dim), torch.cumprod(x, dim))
    assert_identical(cumprod(x.real, 1, dtype=dtype), torch.cumprod(x.real, 1, dtype=dtype))
    # A complex input with a real dtype=: torch casts, dropping the imaginary part (its warning is
    # issued once per process, so it is not compared here).
    real = torch.float32 if dtype == torch.complex64 else torch.float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert_identical(cumprod(x, 1, dtype=real), torch.cumprod(x, 1, dtype=real))
    assert launches.count == 0


@pytest.mark.parametrize("dim", [0, 1])
def test_requires_grad_runs_the_kernels_and_gives_torch_gradient(dim, device, launches):
    x = near_one((4, 6), device=device, seed=61, dtype=torch.float64).requires_grad_()
    y = cumprod(x, dim)
    assert y.grad_fn is not None and y.requires_grad
    assert launches.count >= 1
    g = near_one((4, 6), device=device, seed=62, dtype=torch.float64)
    (grad,) = torch.autograd.grad(y, x, g)
    x_ref = x.detach().clone().requires_grad_()
    (grad_ref,) = torch.autograd.grad(torch.cumprod(x_ref, dim), x_ref, g)
    assert torch.allclose(grad, grad_ref, rtol=1e-12, atol=0)
    assert_cumprod_matches(y.detach(), x.detach(), dim)


def test_autograd_refusals_are_torch_own(device):
    x = near_one((3, 4), device=device).requires_grad_()
    assert_same_exception(lambda: cumprod(x, 1, dtype=torch.int64), lambda: torch.cumprod(x, 1, dtype=torch.int64))
    assert_same_exception(lambda: cumprod(x, 1, out=torch.empty(3, 4, device=device)),
                          lambda: torch.cumprod(x, 1, out=torch.empty(3, 4, device=device)))


def test_requires_grad_under_no_grad_runs_the_kernels(device, launches):
    x = near_one((4, 6), device=device).requires_grad_()
    with torch.no_grad():
        y = cumprod(x, 1)
    assert not y.requires_grad and y.grad_fn is None
    assert_cumprod_matches(y, x.detach(), 1)
    assert launches.count >= 1


def test_cpu_without_interpreter_falls_back(monkeypatch, launches):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    x = near_one((3, 5))
    assert_identical(cumprod(x, 1), torch.cumprod(x, 1))
    assert launches.count == 0


def test_meta_tensor_falls_back(launches):
    y = cumprod(torch.empty(3, 4, device="meta"), 1, dtype=torch.float16)
    assert y.device.type == "meta" and y.shape == (3, 4) and y.dtype == torch.float16
    assert launches.count == 0


def test_result_is_a_new_contiguous_tensor(device):
    x = near_one((5, 6), device=device).t()
    y = cumprod(x, 0)
    assert y.is_contiguous() and y.data_ptr() != x.data_ptr()
    assert not y.requires_grad


# --- determinism ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["rows", "cols", "split strided rows", "single-pass rows", "single-pass float64 rows"])
def test_deterministic(case, device, launches):
    if case == "rows":
        x, dim = near_one((6, 300), device=device, seed=71), 1
    elif case == "cols":
        x, dim = near_one((3, 200, 5), device=device, seed=72), 1
    elif case == "split strided rows":
        x, dim = near_one((split_length(device), 3), device=device, seed=73).t(), 1
    elif case == "single-pass float64 rows":
        length = 3 * split_length(device, strided=False, dtype=torch.float64)
        x, dim = near_one((length,), dtype=torch.float64, device=device, seed=74), 0
    else:
        x, dim = near_one((3 * split_length(device, strided=False),), device=device, seed=75), 0
    first = cumprod(x, dim)
    n = launches.count
    second = cumprod(x, dim)
    assert torch.equal(first, second)
    assert_identical(first, second)
    if case.startswith("split"):
        assert n >= 3, "the rows were not split"
    if case.startswith("single-pass"):
        assert launches.plans[0][0] == "lookback" and launches.plans[0][1] > 1


# --- random cases ---------------------------------------------------------------------------------------

PROPERTY_DTYPES = [torch.float32, torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.int32, torch.int64, torch.int8, torch.uint8, torch.bool]


@st.composite
def tensors(draw, max_numel=1200):
    rank = draw(st.integers(1, 4), label="rank")
    shape = []
    budget = max_numel
    for _ in range(rank):
        size = draw(st.integers(0, min(40, max(1, budget))))
        shape.append(size)
        budget = budget // max(size, 1)
    perm = draw(st.permutations(range(rank)), label="permutation")
    dtype = draw(st.sampled_from(PROPERTY_DTYPES), label="dtype")
    seed = draw(st.integers(0, 2**16), label="seed")
    stored = [shape[p] for p in perm]
    x = random_input(tuple(stored), dtype, seed=seed)
    # Laid out in memory in the permuted order, read in the drawn order: arbitrary strides.
    inverse = [perm.index(i) for i in range(rank)]
    x = x.permute(*inverse)
    assert list(x.shape) == shape
    if draw(st.booleans(), label="slice") and shape[0] > 1:
        x = x[::2]
    return x


@given(x=tensors(), data=st.data())
def test_random_tensors(x, data, device):
    dim = data.draw(st.integers(-x.dim(), x.dim() - 1), label="dim")
    x = x.to(device)
    assert_cumprod_matches(cumprod(x, dim), x, dim, label=f"shape {tuple(x.shape)} strides {x.stride()} dim {dim}")


@given(x=tensors(max_numel=600), data=st.data())
def test_random_tensors_with_dtype(x, data, device):
    dim = data.draw(st.integers(-x.dim(), x.dim() - 1), label="dim")
    dtype = data.draw(st.sampled_from([torch.float32, torch.float64, torch.int64, torch.int32, torch.int16]), label="dtype=")
    if x.dtype.is_floating_point and not dtype.is_floating_point:
        x = x * 3  # values of either sign around +-3, truncated toward zero by the cast
    x = x.to(device)
    assert_cumprod_matches(cumprod(x, dim, dtype=dtype), x, dim, dtype=dtype, label=f"shape {tuple(x.shape)} dim {dim} dtype={dtype}")


# --- large shapes, on a GPU only ----------------------------------------------------------------------
#
# Inputs are made on the GPU; the references are computed on slices only (rows are independent of
# each other, and a column's reference needs only that column).

def free_gpu():
    torch.cuda.synchronize()
    torch.cuda.empty_cache()


def gpu_near_one(shape, seed, spread=1e-3):
    """1 + U(-spread/2, spread/2), made on the GPU: over 32768 factors the product drifts by a few
    percent, far from underflow and overflow."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    x = torch.rand(shape, generator=g, device="cuda")
    return x.sub_(0.5).mul_(spread).add_(1)


def gpu_odd_int8(shape, seed):
    """Odd int8 values: their products never wrap to zero, so every carry shows in the result."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    return torch.randint(-64, 64, shape, generator=g, device="cuda", dtype=torch.int8).mul_(2).add_(1)


@pytest.mark.gpu
def test_seed_shape_dim1():
    x = gpu_near_one((32768, 32768), seed=101)
    y = cumprod(x, 1)
    assert y.dtype == torch.float32 and y.shape == x.shape
    for rows in (slice(0, 8), slice(16380, 16388), slice(32760, 32768)):
        assert_cumprod_matches(y[rows], x[rows], 1, label=f"rows {rows}")
    del x, y
    free_gpu()


@pytest.mark.gpu
def test_seed_shape_dim0():
    x = gpu_near_one((32768, 32768), seed=102)
    y = cumprod(x, 0)
    assert y.dtype == torch.float32 and y.shape == x.shape
    for cols in (slice(0, 8), slice(20000, 20005), slice(32760, 32768)):
        assert_cumprod_matches(y[:, cols], x[:, cols], 0, label=f"columns {cols}")
    del x, y
    free_gpu()


@pytest.mark.gpu
def test_over_2_31_elements_rows():
    """8 rows of 2**28 + 3 int8 (2**31 + 24 elements): offsets past 2**31 in a split row scan."""
    x = gpu_odd_int8((8, 2**28 + 3), seed=103)
    y = cumprod(x, 1, dtype=torch.int8)
    assert y.dtype == torch.int8 and y.shape == x.shape
    for row in (0, 7):
        expected = torch.cumprod(x[row], 0, dtype=torch.int8)
        for part in (slice(0, 4096), slice(2**27, 2**27 + 4096), slice(-4096, None)):
            assert_identical(y[row, part], expected[part], label=f"row {row} {part}")
        del expected
    # A reference on the CPU for the last elements of the last row, to be independent of torch's CUDA kernel.
    assert_identical(y[7, -64:], torch.cumprod(x[7].cpu(), 0, dtype=torch.int8)[-64:], label="row 7 tail (CPU)")
    del x, y
    free_gpu()


OVER_2_31_ROWS = """
import sys
sys.path[:0] = {path!r}
import torch
from reference import assert_identical
from triton_cumprod import cumprod
g = torch.Generator(device="cuda").manual_seed(104)
x = torch.randint(-64, 64, (2**31 + 5, 2), generator=g, device="cuda", dtype=torch.int8).mul_(2).add_(1)
y = cumprod(x, 1, dtype=torch.int8)
torch.cuda.synchronize()
assert y.shape == x.shape
for rows in (slice(0, 1024), slice(2**31 - 512, 2**31 + 5)):
    assert_identical(y[rows], torch.cumprod(x[rows].cpu(), 1, dtype=torch.int8), label=str(rows))
print("OK")
"""


@pytest.mark.gpu
def test_over_2_31_rows():
    """2**31 + 5 rows of 2 int8: row indices themselves past 2**31. Run in a child process: an
    illegal memory access would poison this process's CUDA context for the tests after it."""
    code = OVER_2_31_ROWS.format(path=[str(Path(__file__).resolve().parent)] + sys.path)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-4000:]


@pytest.mark.gpu
def test_over_2_31_elements_cols():
    """2**28 + 3 rows of 8 int8 scanned along dim 0 (columns, split): element offsets past 2**31."""
    x = gpu_odd_int8((2**28 + 3, 8), seed=105)
    y = cumprod(x, 0, dtype=torch.int8)
    assert y.shape == x.shape
    expected = torch.cumprod(x, 0, dtype=torch.int8)
    for part in (slice(0, 4096), slice(2**27, 2**27 + 4096), slice(-4096, None)):
        assert_identical(y[part], expected[part], label=f"rows {part}")
    del x, y, expected
    free_gpu()


@pytest.mark.gpu
def test_large_half_rows():
    """bfloat16 and float16 rows of 2**20 on a GPU: the split path with half-precision stores."""
    for dtype in (torch.float16, torch.bfloat16):
        x = gpu_near_one((4, 2**20), seed=106, spread=1e-4).to(dtype)
        y = cumprod(x, 1)
        assert_cumprod_matches(y, x, 1, label=str(dtype))
    free_gpu()

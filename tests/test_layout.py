"""triton_cumprod.layout: reading a tensor of any strides as (n_outer, length, inner)."""
import itertools
import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from triton_cumprod.layout import merged_stride, scan_view, turned_view


def offsets(sizes, strides):
    """Memory offset of every element of a (sizes, strides) view, in logical (row-major) order."""
    if not sizes:
        return [0]
    return [sum(i * s for i, s in zip(index, strides)) for index in itertools.product(*(range(n) for n in sizes))]


@pytest.mark.parametrize(
    "sizes, strides, expected",
    [
        ((), (), 0),  # no dims: one element, any stride reads it
        ((1, 1), (7, 3), 0),  # only size-1 dims
        ((5,), (3,), 3),
        ((2, 3, 4), (12, 4, 1), 1),  # contiguous
        ((2, 3), (6, 2), 2),  # every other element
        ((2, 1, 3), (3, 99, 1), 1),  # a size-1 dim's stride never matters
        ((4, 3), (0, 0), 0),  # fully expanded
        ((4, 3), (1, 4), None),  # transposed: not one evenly spaced dim
        ((4, 3), (3, 0), None),  # expanded inner dim, outer dim moving
        ((4, 3), (0, 1), None),  # expanded outer dim, inner dim moving
        ((2, 3), (4, 1), None),  # rows padded (a slice of a wider tensor)
    ],
)
def test_merged_stride_cases(sizes, strides, expected):
    assert merged_stride(sizes, strides) == expected
    if expected is not None:
        n = 1
        for size in sizes:
            n *= size
        assert offsets(sizes, strides) == [i * expected for i in range(n)]


@given(
    sizes=st.lists(st.integers(1, 4), min_size=0, max_size=4),
    data=st.data(),
)
def test_merged_stride_is_exact(sizes, data):
    """merged_stride(s) == k exactly when the dims' offsets, in logical order, are 0, k, 2k, ...:
    a wrong k would read wrong elements; a needless None only costs a copy, but is still wrong."""
    strides = data.draw(st.lists(st.integers(0, 30), min_size=len(sizes), max_size=len(sizes)))
    got = merged_stride(sizes, strides)
    offs = offsets(sizes, strides)
    evenly = len(offs) == 1 or all(b - a == offs[1] - offs[0] for a, b in zip(offs, offs[1:]))
    if got is None:
        assert not evenly, f"{sizes} {strides} offsets {offs} are evenly spaced but merged_stride says None"
    else:
        assert offs == [i * got for i in range(len(offs))]


def read_3d(view):
    """The elements scan_view says to read, as (n_outer, length, inner), through its strides."""
    x, n_outer, length, inner, strides = view
    return torch.as_strided(x, (n_outer, length, inner), strides, x.storage_offset())


def base(n, dtype=torch.float32):
    return torch.arange(1, n + 1, dtype=dtype)


LAYOUTS = {
    "contiguous 1-D": lambda: base(7),
    "contiguous 3-D": lambda: base(60).reshape(3, 4, 5),
    "transposed 2-D": lambda: base(12).reshape(3, 4).t(),
    "permuted 3-D": lambda: base(60).reshape(3, 4, 5).permute(2, 0, 1),
    "permuted 4-D": lambda: base(120).reshape(2, 3, 4, 5).permute(1, 3, 0, 2),
    "sliced step 2": lambda: base(96).reshape(4, 24)[:, ::2],
    "sliced step 3 both": lambda: base(180).reshape(12, 15)[1::3, 2::3],
    "storage offset": lambda: base(50)[7:37].reshape(5, 6),
    "expanded outer": lambda: base(5).reshape(1, 5).expand(4, 5),
    "expanded inner": lambda: base(4).reshape(4, 1).expand(4, 5),
    "expanded middle": lambda: base(12).reshape(3, 1, 4).expand(3, 6, 4),
    "channels_last": lambda: base(120).reshape(2, 3, 4, 5).contiguous(memory_format=torch.channels_last),
    "size-1 dims": lambda: base(12).reshape(1, 3, 1, 4, 1),
    "narrowed middle": lambda: base(60).reshape(3, 4, 5)[:, 1:3, :],
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_scan_view_reads_the_logical_tensor(name):
    x = LAYOUTS[name]()
    for dim in range(x.dim()):
        view = scan_view(x, dim)
        _, n_outer, length, inner, strides = view
        assert length == x.shape[dim]
        assert n_outer * length * inner == x.numel()
        assert len(strides) == 3
        assert strides[1] == view[0].stride(dim)
        expected = x.contiguous().reshape(n_outer, length, inner)
        assert torch.equal(read_3d(view), expected), f"{name} dim {dim}: scan_view reads other elements"


@pytest.mark.parametrize(
    "name, dim",
    [
        ("transposed 2-D", 0),
        ("transposed 2-D", 1),
        ("sliced step 2", 1),
        ("sliced step 3 both", 0),
        ("storage offset", 1),
        ("expanded outer", 0),
        ("expanded inner", 1),
        ("channels_last", 1),
        ("permuted 3-D", 1),  # (5, 3, 4) from (3, 4, 5): dims after 1 are (4,) with stride 5
    ],
)
def test_scan_view_does_not_copy_when_dims_merge(name, dim):
    x = LAYOUTS[name]()
    view = scan_view(x, dim)
    assert view[0] is x


def test_scan_view_copies_when_outer_dims_do_not_merge():
    # (5, 3, 4) permuted from a contiguous (3, 4, 5): dims 0 and 1 have strides 1 and 20, which do
    # not read as one evenly spaced dim, so the view must come from a contiguous copy.
    x = LAYOUTS["permuted 3-D"]()
    x2, n_outer, length, inner, strides = scan_view(x, 2)
    assert x2 is not x
    assert x2.is_contiguous()
    assert strides == (length * inner, inner, 1)
    assert torch.equal(read_3d((x2, n_outer, length, inner, strides)), x.contiguous().reshape(n_outer, length, inner))


def test_scan_view_of_last_and_first_dims():
    x = base(24).reshape(2, 3, 4)
    _, n_outer, length, inner, strides = scan_view(x, 2)
    assert (n_outer, length, inner) == (6, 4, 1)
    assert strides[:2] == (4, 1)
    _, n_outer, length, inner, strides = scan_view(x, 0)
    assert (n_outer, length, inner) == (1, 2, 12)
    assert strides[1:] == (12, 1)


def read_turned(x, view):
    """The elements a turned_view says to read, and the result offsets it says to write them at, as
    (n_outer, n_mid, length, inner) tensors."""
    sizes, x_strides, y_strides = view
    x_read = torch.as_strided(x, sizes, x_strides, x.storage_offset())
    offsets = torch.arange(x.numel()).reshape(x.shape)
    y_at = torch.as_strided(offsets, sizes, y_strides)
    return x_read, y_at


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_turned_view_reads_each_element_once_to_its_place(name):
    """Where turned_view reads a layout, it reads every element of x once and writes it where the
    contiguous result holds it; it reads only layouts contiguous along the scan or inner."""
    x = LAYOUTS[name]()
    for dim in range(x.dim()):
        view = turned_view(x, dim)
        if view is None:
            continue
        assert view[0][2] == x.shape[dim] and 1 in (view[1][2], view[1][3])
        x_read, y_at = read_turned(x, view)
        y = torch.empty(x.numel())
        y[y_at.reshape(-1)] = x_read.reshape(-1)
        assert sorted(y_at.reshape(-1).tolist()) == list(range(x.numel()))
        assert torch.equal(y.reshape(x.shape), x.contiguous()), f"{name} dim {dim}"


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=5), data=st.data())
def test_turned_view_of_permuted_and_sliced_tensors(shape, data):
    """Permutations of contiguous tensors, sliced or not: the view, where there is one, maps every
    element to its place; up to three dims, every tensor contiguous along the scan has one."""
    order = data.draw(st.permutations(range(len(shape))))
    stored = [shape[d] for d in order]
    if data.draw(st.booleans()):
        x = base(math.prod(stored[:-1]) * (stored[-1] + 1)).reshape(stored[:-1] + [stored[-1] + 1])[..., 1:]
    else:
        x = base(math.prod(stored)).reshape(stored)
    x = x.permute(*[order.index(d) for d in range(len(shape))])
    dim = data.draw(st.integers(0, len(shape) - 1))
    view = turned_view(x, dim)
    if view is not None:
        x_read, y_at = read_turned(x, view)
        y = torch.empty(x.numel())
        y[y_at.reshape(-1)] = x_read.reshape(-1)
        assert torch.equal(y.reshape(x.shape), x.contiguous())
    elif x.stride(dim) == 1 and x.dim() <= 3 and any(s > 1 for d, s in enumerate(x.shape) if d != dim):
        raise AssertionError(f"no view of {tuple(x.shape)} {x.stride()} contiguous along dim {dim}")

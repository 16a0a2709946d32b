def merged_stride(sizes, strides):
    """The stride of the dims `sizes` read as one flattened dim, or None when they are not evenly
    spaced in memory. Dims of size 1 never matter; no dims at all read as stride 0."""
    stride = None
    span = None
    for size, step in zip(reversed(sizes), reversed(strides)):
        if size == 1:
            continue
        if stride is None:
            stride = step
        elif step != span:
            return None
        span = step * size
    return 0 if stride is None else stride

def scan_view(x, dim, copy=True):
    """Read `x` as (n_outer, length, inner) around `dim`: returns the tensor to read (x itself, or a
    contiguous copy when the dims before or after `dim` do not merge; without `copy`, None then),
    the three sizes and its three strides over them."""
    sizes = x.shape
    length = sizes[dim]
    n_outer = 1
    for size in sizes[:dim]:
        n_outer *= size
    inner = 1
    for size in sizes[dim + 1:]:
        inner *= size
    stride_o = merged_stride(sizes[:dim], x.stride()[:dim])
    stride_i = merged_stride(sizes[dim + 1:], x.stride()[dim + 1:])
    if stride_o is None or stride_i is None:
        if not copy:
            return None
        x = x.contiguous()
        stride_o, stride_i = length * inner, 1
    return x, n_outer, length, inner, (stride_o, x.stride(dim), stride_i)


def unit_stride(inner, strides):
    """Whether an (n_outer, length, inner) view of `strides` is contiguous along the axis its tiles
    load along (dispatch.plan_scan): the scan axis where inner == 1, else the inner axis."""
    return strides[2 if inner > 1 else 1] == 1


def turned_view(x, dim):
    """Read `x` (scanned along `dim` into a contiguous result) as (n_outer, n_mid, length, inner)
    for kernels/transposed.py: returns (sizes, x's strides, the result's strides), each over those
    four axes (a tuple, not a named type: the answer file carries only functions), or None where
    x is not contiguous along its scan or its inner axis, or its other dims do not merge into
    two. Inner is the result's last dim after `dim` (the axis the result is contiguous along),
    or, where `dim` is the last, x's own most contiguous other dim; the other dims merge into
    outer and mid."""
    sizes, strides = x.shape, x.stride()
    others = [d for d in range(x.dim()) if d != dim and sizes[d] > 1]
    if not others:
        return None
    after = [d for d in others if d > dim]
    inner = after[-1] if after else min(others, key=lambda d: strides[d])
    if strides[dim] != 1 and strides[inner] != 1:
        return None
    y_strides = [1] * x.dim()
    for d in range(x.dim() - 2, -1, -1):
        y_strides[d] = y_strides[d + 1] * sizes[d + 1]
    merged = []
    for size, x_stride, y_stride in [(sizes[d], strides[d], y_strides[d]) for d in others if d != inner]:
        if merged and merged[-1][1] == x_stride * size and merged[-1][2] == y_stride * size:
            merged[-1] = (merged[-1][0] * size, x_stride, y_stride)
        else:
            merged.append((size, x_stride, y_stride))
    if len(merged) > 2:
        return None
    (n_outer, xo, yo), (n_mid, xm, ym) = [(1, 0, 0)] * (2 - len(merged)) + merged
    return ((n_outer, n_mid, sizes[dim], sizes[inner]), (xo, xm, strides[dim], strides[inner]),
            (yo, ym, y_strides[dim], y_strides[inner]))


def contiguous_view(n_outer, length, inner):
    """turned_view's tuple for a contiguous (n_outer, length, inner) tensor and its result: one mid
    index, the same strides for both."""
    strides = (length * inner, 0, inner, 1)
    return (n_outer, 1, length, inner), strides, strides

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

def scan_view(x, dim):
    """Read `x` as (n_outer, length, inner) around `dim`: returns the tensor to read (x itself, or a
    contiguous copy when the dims before or after `dim` do not merge), the three sizes and its three
    strides over them."""
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
        x = x.contiguous()
        stride_o, stride_i = length * inner, 1
    return x, n_outer, length, inner, (stride_o, x.stride(dim), stride_i)


def unit_stride(inner, strides):
    """Whether an (n_outer, length, inner) view of `strides` is contiguous along the axis its tiles
    load along (dispatch.plan_scan): the scan axis where inner == 1, else the inner axis."""
    return strides[2 if inner > 1 else 1] == 1

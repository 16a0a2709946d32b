import torch

from .dispatch import plan_flat, plan_scan, plan_transposed, takes_flat, turns_well
from .kernels.cols import launch_cols
from .kernels.flat import launch_flat
from .kernels.combine import accumulator_dtype, aggregate_dtype, line_skew, vector_elements
from .kernels.lookback import launch_chain, launch_lookback
from .kernels.rows import launch_rows
from .kernels.transposed import launch_transposed
from .layout import scan_view, turned_view, unit_stride


def device_traits(device):
    """(multiprocessor count, compute capability) of `device`. Tensors on the CPU only reach the
    kernels under TRITON_INTERPRET=1, which runs programs one by one: 4 small SMs keep grids small."""
    if device.type != "cuda":
        return 4, (0, 0)
    props = torch.cuda.get_device_properties(device)
    return props.multi_processor_count, (props.major, props.minor)


def scan_plan(n_outer, length, inner, unit_stride, out_dtype, device, exclusive=False, reverse=False, x_itemsize=None,
              scan_contiguous=False, packed=True):
    """dispatch.plan_scan's plan for writing `out_dtype` on `device` from an input of `x_itemsize`
    bytes an element (None: out_dtype's), of stride 1 along the scan where `scan_contiguous`:
    contiguous row tiles are laid on 16-byte vectors of x, which a row may start inside
    (combine.line_skew); `packed` as plan_scan takes it."""
    floating = accumulator_dtype(out_dtype).is_floating_point
    vec = vector_elements(x_itemsize or out_dtype.itemsize) if unit_stride else 1
    skew = line_skew(length, vec) if inner == 1 else 0
    return plan_scan(n_outer, length, inner, unit_stride, *device_traits(device), out_dtype.itemsize, floating,
                     exclusive, reverse, skew, scan_contiguous, x_itemsize, packed)


def view_plan(x, n_outer, length, inner, strides, out_dtype, exclusive=False, reverse=False):
    """scan_plan for `x` read as (n_outer, length, inner) through `strides` (layout.scan_view's), or
    dispatch.plan_flat's where x's rows lie one after another in memory."""
    if inner == 1 and strides[1] == 1 and strides[0] == length and takes_flat(n_outer, length):
        return plan_flat(n_outer, length, device_traits(x.device)[1], out_dtype.itemsize)
    return scan_plan(n_outer, length, inner, unit_stride(inner, strides), out_dtype, x.device, exclusive, reverse,
                     x.element_size(), strides[1] == 1, strides[1] == inner)


def scan_3d(x, y, n_outer, length, inner, strides, out_dtype, exclusive=False, reverse=False):
    """Write the cumulative product of `x`, read as (n_outer, length, inner) through `strides`, over
    its middle axis into the contiguous `y`: `exclusive`, each output is the product of the elements
    before it (1 for the first); `reverse`, the scan runs from the end. Lines too few to fill the
    GPU are cut into chunks: one pass takes each chunk's product (in float64 where the scan
    multiplies in float32, see kernels/combine.aggregate_dtype), a scan of those products gives each
    chunk its starting carry, and a second pass scans the chunks. Every product is taken in a fixed
    order: results are bitwise reproducible. Rows multiplied in float32 take a single pass instead
    (kernels/lookback.py). Returns the launch where the scan took one launch (see launch_scan),
    else None."""
    plan = view_plan(x, n_outer, length, inner, strides, out_dtype, exclusive, reverse)
    return run_plan(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)


def run_plan(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive=False, reverse=False):
    """scan_3d under `plan`: one launch, or, where the plan cuts lines into chunks, the chunks'
    products, their scan and the chunks' scan. `strides` as launch_scan takes them."""
    n_chunks = plan[1]
    if n_chunks == 1 or plan[0] in ("lookback", "chain"):
        return launch_scan(x, y, None, n_outer, length, inner, strides, out_dtype, plan, False, exclusive, reverse)
    agg = aggregate_dtype(out_dtype)
    totals = torch.empty((n_outer, n_chunks, inner), dtype=agg, device=x.device)
    launch_scan(x, totals, None, n_outer, length, inner, strides, out_dtype, plan, True)
    prefix = torch.empty_like(totals)
    scan_3d(totals, prefix, n_outer, n_chunks, inner, totals.stride(), agg, reverse=reverse)
    launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, False, exclusive, reverse)
    return None


def launch_scan(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive=False, reverse=False):
    """One launch of the kernel `plan` names: the launch as kernels/rows.py, kernels/cols.py,
    kernels/flat.py, kernels/lookback.py and kernels/transposed.py return it (for the last,
    `strides` is the layout.turned_view it reads)."""
    if plan[0] == "flat":
        return launch_flat(x, y, n_outer, length, out_dtype, plan, exclusive, reverse)
    if plan[0] == "lookback":
        return launch_lookback(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)
    if plan[0] == "transposed":
        return launch_transposed(x, y, prefix, strides, out_dtype, plan, reduce, exclusive, reverse)
    if plan[0] == "chain":
        return launch_chain(x, y, n_outer, length, inner, strides, out_dtype, plan, exclusive, reverse)
    if plan[0] == "rows":
        return launch_rows(x, y, prefix, n_outer, length, strides[0], strides[1], out_dtype, plan, reduce, exclusive,
                           reverse)
    return launch_cols(x, y, prefix, n_outer, length, inner, strides, out_dtype, plan, reduce, exclusive, reverse)


def default_dtype(dtype):
    """torch.cumprod's result dtype when no dtype= is given: int64 for integers and bool."""
    if dtype.is_floating_point or dtype.is_complex:
        return dtype
    return torch.int64


def cumprod_forward(x, dim, out_dtype, y=None, exclusive=False, reverse=False):
    """torch.cumprod(x, dim, dtype=out_dtype), for `x` of any shape and strides and `dim` already
    checked, written into `y` (contiguous, of x's shape and out_dtype) or a new tensor; `exclusive`
    and `reverse` as in scan_3d."""
    return run_forward(x, dim, out_dtype, y, exclusive, reverse)[0]


def run_forward(x, dim, out_dtype, y=None, exclusive=False, reverse=False):
    """cumprod_forward's result, and the launch that computed it where that was one launch of a
    kernel reading `x` itself (not a copy of it), else None: replay.py launches it again."""
    source = x
    if x.is_neg():
        x = x.resolve_neg()  # a negative-bit view's memory holds the values negated
    if y is None:
        y = torch.empty(x.shape, dtype=out_dtype, device=x.device)
    if y.numel() == 0:
        return y, None
    if x.dim() == 0 or x.shape[dim] == 1:
        # A scan of one element is the element (an exclusive one, 1), cast as torch casts.
        return (y.fill_(1) if exclusive else y.copy_(x)), None
    dim %= x.dim()
    view = scan_view(x, dim, copy=False)
    if view is None:
        turned = turned_layout(x, dim, out_dtype)
        if turned is not None:
            launch = scan_turned(x, y, turned, out_dtype, exclusive, reverse)
            return y, (launch if x is source else None)
        view = scan_view(x, dim)
    x, n_outer, length, inner, strides = view
    launch = scan_3d(x, y, n_outer, length, inner, strides, out_dtype, exclusive, reverse)
    return y, (launch if x is source else None)


def turned_layout(x, dim, out_dtype):
    """For `x` whose dims do not merge around `dim` (scan_view would copy it first): its
    layout.turned_view where kernels/transposed.py scans it into `out_dtype`, reading x as it lies
    and writing the result through its strides (dispatch.turns_well), else None."""
    view = turned_view(x, dim)
    if view is None or not turns_well(*view, x.element_size(), out_dtype.itemsize):
        return None
    return view


def scan_turned(x, y, view, out_dtype, exclusive=False, reverse=False):
    """scan_3d for a layout.turned_view of `x` (kernels/transposed.py), its outer and mid axes as the
    lines. Returns the launch where the scan took one, else None."""
    n_outer, n_mid, length, inner = view[0]
    plan = plan_transposed(n_outer * n_mid, length, inner, *device_traits(x.device), out_dtype.itemsize)
    return run_plan(x, y, n_outer * n_mid, length, inner, view, out_dtype, plan, exclusive, reverse)

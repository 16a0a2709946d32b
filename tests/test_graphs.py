"""cumprod under CUDA graphs and streams: captured calls (forward and backward, each strategy of the
dispatcher) replay correctly on new input contents, calls make no host synchronisation, kernels
launch on the current stream, and torch.compile(mode="reduce-overhead") runs them as CUDA graphs."""
import contextlib
import gc
import math
from collections import namedtuple

import pytest
import torch

from reference import assert_cumprod_matches, assert_identical, eps, plan_like_forward
from triton_cumprod import CumProd, cumprod
from triton_cumprod.forward import default_dtype

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device: CUDA graphs and streams"),
]

# One case per strategy of dispatch.plan_scan (kind, and whether the lines are cut into chunks), as
# forward.scan_plan chooses on any GPU of fewer than 256 SMs. `spread` keeps the products of each
# line far from underflow and overflow (see reference.near_one).
Case = namedtuple("Case", "shape dim dtype spread kind split")
CASES = {
    "rows, many short (4096 x 64)": Case((4096, 64), 1, torch.float32, 0.1, "rows", False),
    "rows, long (256 x 20000)": Case((256, 20000), 1, torch.float32, 0.01, "rows", False),
    "cols (512 x 64 x 128, dim 1)": Case((512, 64, 128), 1, torch.float32, 0.1, "cols", False),
    "chain (4001 x 8192, dim 0)": Case((4001, 8192), 0, torch.float32, 1e-3, "chain", True),
    "cols split (200000 x 64, dim 0)": Case((200_000, 64), 0, torch.float32, 1e-3, "cols", True),
    "lookback, 1-D 3000001 fp32": Case((3_000_001,), 0, torch.float32, 1e-3, "lookback", True),
    "lookback, 16 x 1000000 fp32": Case((16, 1_000_000), 1, torch.float32, 1e-3, "lookback", True),
    "rows split, 1-D 1000003 int32": Case((1_000_003,), 0, torch.int32, 0, "rows", True),
    "lookback, 1-D 1000003 int64": Case((1_000_003,), 0, torch.int64, 0, "lookback", True),
    "rows, bf16 (2048 x 3000)": Case((2048, 3000), 1, torch.bfloat16, 0.1, "rows", False),
    "lookback, bf16 4 x 500003": Case((4, 500_003), 1, torch.bfloat16, 0.02, "lookback", True),
}

# Gradients: positive factors near one and positive output gradients in [0.5, 1.5), so that every
# term of the gradient's sums is positive and elementwise relative errors are bounded (see
# assert_gradient_matches). The fp64 1-D and column cases take the chunked backward (a map tensor
# allocated per call); the fp32 1-D case takes the single-pass backward (zeroed state per call),
# as its forward does.
BackwardCase = namedtuple("BackwardCase", "shape dim dtype")
BACKWARD_CASES = {
    "rows fp64 (64 x 3000)": BackwardCase((64, 3000), 1, torch.float64),
    "1-D split fp64 (200000)": BackwardCase((200_000,), 0, torch.float64),
    "cols split fp64 (8 x 5000 x 33, dim 1)": BackwardCase((8, 5000, 33), 1, torch.float64),
    "rows fp32 (64 x 3000)": BackwardCase((64, 3000), 1, torch.float32),
    "1-D single pass fp32 (200000)": BackwardCase((200_000,), 0, torch.float32),
}
BACKWARD_SPREAD = 0.01  # of x
GRAD_SPREAD = 1.0  # of the output gradient

# GPU cycles a stream is kept busy before the input is produced on it (tens of ms): a kernel launched
# on any other stream would run first, on memory not yet written.
SLEEP_CYCLES = 50_000_000


@pytest.fixture(autouse=True)
def release_memory():
    yield
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        gc.collect()
        torch.cuda.empty_cache()


def gpu_near_one(shape, dtype, seed, spread, signs=True):
    """1 + U(-spread/2, spread/2), random signs unless `signs` is False, cast to `dtype` (integers:
    1 and -1 alone, so that no product wraps to 0): made by kernels on the current stream (no host
    copy), from a seeded CUDA generator."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    if not dtype.is_floating_point:
        return torch.randint(0, 2, shape, generator=g, device="cuda", dtype=dtype).mul_(2).sub_(1)
    wide = torch.float64 if dtype == torch.float64 else torch.float32
    x = torch.rand(shape, generator=g, device="cuda", dtype=wide).sub_(0.5).mul_(spread).add_(1)
    if signs:
        x = torch.where(torch.rand(shape, generator=g, device="cuda") < 0.5, -x, x)
    return x.to(dtype)


def case_input(case, seed):
    return gpu_near_one(case.shape, case.dtype, seed, case.spread)


def check_plan(name, case):
    """The case covers the strategy it is named for on this GPU."""
    dim = case.dim
    n_outer, length, inner = math.prod(case.shape[:dim]), case.shape[dim], math.prod(case.shape[dim + 1:])
    plan = plan_like_forward(n_outer, length, inner, inner == 1, "cuda", default_dtype(case.dtype), case.dtype)
    assert (plan[0], plan[1] > 1) == (case.kind, case.split), (
        f"{name}: the dispatcher takes {plan[:2]} here, not the {case.kind} (split={case.split}) this case is for")


def capture(fn, warmup=3):
    """Capture fn() in a CUDA graph after the documented warm-up on a side stream (which compiles and
    loads the kernels outside the capture). Returns (graph, fn()'s static outputs)."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


@contextlib.contextmanager
def sync_errors():
    """Any host synchronisation torch makes raises inside the block."""
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(previous)


def max_relative_error(values, exact):
    return ((values.double() - exact) / exact).abs().max().item()


def backward_inputs(case, seed):
    x = gpu_near_one(case.shape, case.dtype, seed, BACKWARD_SPREAD, signs=False)
    g = gpu_near_one(case.shape, case.dtype, seed + 1, GRAD_SPREAD, signs=False)
    return x, g


def eager_gradient(x, dim, g):
    leaf = x.detach().clone().requires_grad_()
    return torch.autograd.grad(cumprod(leaf, dim), leaf, g)[0]


def assert_gradient_matches(ours, x, dim, g, label=""):
    """`ours` is the gradient of cumprod(x, dim) for the output gradient g, x and g positive, against
    torch.cumprod's gradient computed in float64. Each entry is a sum of positive terms, each a
    product of factors, all positive: evaluated in any order, in the dtype, its relative error is at
    most about (length of the scan) * eps (products and sums each add length / 2 ulp at most, the
    final multiply by y one more); the budget is twice that. A stale input or output gradient, or a
    lost carry, moves entries by far more (the last entry of a line is g[-1] * y[-2])."""
    assert ours.dtype == x.dtype and ours.shape == x.shape, f"{label}: gradient {ours.dtype} {tuple(ours.shape)}"
    xd = x.detach().double().requires_grad_()
    exact = torch.autograd.grad(torch.cumprod(xd, dim), xd, g.double())[0]
    assert (exact > 0).all(), "the inputs must be positive for this bound"
    error = max_relative_error(ours, exact)
    budget = 2 * x.shape[dim] * eps(x.dtype)
    assert error <= budget, f"{label}: gradient's max relative error {error:.3e} exceeds {budget:.3e}"


# --- 1. capture and replay ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_captured_forward_replays_on_new_contents(name):
    """The graph reads x's memory at replay: after x.copy_(new), the static output is cumprod(new),
    on every replay (the single pass re-zeros its tile counter and words each time), and bitwise
    what an eager call gives."""
    case = CASES[name]
    check_plan(name, case)
    x = case_input(case, seed=1)
    graph, y = capture(lambda: cumprod(x, case.dim))
    for seed in (2, 3):
        new = case_input(case, seed)
        x.copy_(new)
        graph.replay()
        assert_cumprod_matches(y, new, case.dim, label=f"{name}, replay with input seed {seed}")
        assert_identical(y, cumprod(new, case.dim), label=f"{name}, replay against an eager call")


def test_captured_strided_input_and_out_dtype():
    """Captured calls that allocate or copy on the way: a transposed input (strided rows) and
    dtype= with a static out= tensor."""
    base = gpu_near_one((3000, 64), torch.float32, 30, 0.01)
    out = torch.empty(64, 3000, dtype=torch.float64, device="cuda")

    def step():
        return cumprod(base.t(), 1), cumprod(base.t(), 1, dtype=torch.float64, out=out)

    graph, (y, y64) = capture(step)
    assert y64.data_ptr() == out.data_ptr()
    for seed in (31, 32):
        new = gpu_near_one((3000, 64), torch.float32, seed, 0.01)
        base.copy_(new)
        graph.replay()
        assert_cumprod_matches(y, new.t(), 1, label=f"transposed, seed {seed}")
        assert_cumprod_matches(out, new.t(), 1, dtype=torch.float64, label=f"out= float64, seed {seed}")


@pytest.mark.parametrize("name", BACKWARD_CASES)
def test_captured_backward_replays_on_new_contents(name):
    """y = cumprod(x, dim) and torch.autograd.grad(y, x, g) captured together: after new x and g are
    copied in, the replay gives cumprod(new x) and its gradient for the new g."""
    case = BACKWARD_CASES[name]
    x, g = backward_inputs(case, seed=10)
    x.requires_grad_()

    def step():
        y = cumprod(x, case.dim)
        (gx,) = torch.autograd.grad(y, x, g)
        return y.detach(), gx

    graph, (y, gx) = capture(step)
    for seed in (12, 14):
        new_x, new_g = backward_inputs(case, seed)
        with torch.no_grad():
            x.copy_(new_x)
        g.copy_(new_g)
        graph.replay()
        assert_cumprod_matches(y, new_x, case.dim, label=f"{name}, forward, seed {seed}")
        assert_gradient_matches(gx, new_x, case.dim, new_g, label=f"{name}, seed {seed}")
        assert_identical(gx, eager_gradient(new_x, case.dim, new_g), label=f"{name}, replay against eager")


def test_make_graphed_callables_module():
    """CumProd through torch.cuda.make_graphed_callables: forward and backward run as graphs."""
    case = BACKWARD_CASES["rows fp64 (64 x 3000)"]
    sample = backward_inputs(case, seed=20)[0].requires_grad_()
    graphed = torch.cuda.make_graphed_callables(CumProd(1), (sample,))
    for seed in (21, 23):
        x, g = backward_inputs(case, seed)
        x.requires_grad_()
        y = graphed(x)
        y.backward(g)
        assert_cumprod_matches(y.detach(), x, 1, label=f"graphed forward, seed {seed}")
        assert x.grad is not None, "the graphed backward gave x no gradient"
        assert_gradient_matches(x.grad, x, 1, g, label=f"graphed backward, seed {seed}")
        assert_identical(x.grad, eager_gradient(x, 1, g), label=f"graphed backward against eager, seed {seed}")


# --- 2. no host synchronisation ----------------------------------------------------------------------------


def test_sync_debug_mode_catches_a_sync():
    """The check below means something: a host synchronisation does raise in this mode."""
    t = torch.ones(1, device="cuda")
    previous = torch.cuda.get_sync_debug_mode()
    with pytest.raises(RuntimeError, match="synchroniz"):
        with sync_errors():
            t.item()
    assert torch.cuda.get_sync_debug_mode() == previous, "sync_errors() did not restore the mode"


@pytest.mark.parametrize("name", CASES)
def test_forward_makes_no_host_sync(name):
    case = CASES[name]
    x = case_input(case, seed=5)
    cumprod(x, case.dim)  # compiles and loads the kernels first: the steady-state call is checked
    torch.cuda.synchronize()
    with sync_errors():
        y = cumprod(x, case.dim)
    assert_cumprod_matches(y, x, case.dim, label=name)


def test_out_and_dtype_make_no_host_sync():
    x = gpu_near_one((256, 20000), torch.float32, 6, 0.01)
    out = torch.empty(0, dtype=torch.float16, device="cuda")
    cumprod(x, 1, dtype=torch.float16, out=torch.empty_like(x, dtype=torch.float16))
    torch.cuda.synchronize()
    with sync_errors():
        cumprod(x, 1, dtype=torch.float16, out=out)  # resized from empty: no warning, no sync
    assert_cumprod_matches(out, x, 1, dtype=torch.float16)


@pytest.mark.parametrize("name", BACKWARD_CASES)
def test_backward_makes_no_host_sync(name):
    case = BACKWARD_CASES[name]
    x, g = backward_inputs(case, seed=7)
    x.requires_grad_()
    torch.autograd.grad(cumprod(x, case.dim), x, g)  # warm-up
    torch.cuda.synchronize()
    with sync_errors():
        y = cumprod(x, case.dim)
        (gx,) = torch.autograd.grad(y, x, g)
    assert_cumprod_matches(y.detach(), x, case.dim, label=name)
    assert_gradient_matches(gx, x, case.dim, g, label=name)


# --- 3. the current stream -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CASES)
def test_launches_on_the_current_stream(name):
    """The input is produced on a busy non-default stream and scanned right after on it: a launch on
    the default stream would read the input before it is written."""
    case = CASES[name]
    cumprod(case_input(case, seed=40), case.dim)  # warm-up: no compilation between the launches below
    torch.cuda.synchronize()
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        torch.cuda._sleep(SLEEP_CYCLES)
        x = case_input(case, seed=41)
        y = cumprod(x, case.dim)
    s.synchronize()
    assert_cumprod_matches(y, x, case.dim, label=f"{name}, on a side stream")


@pytest.mark.parametrize("name", CASES)
def test_output_consumed_on_another_stream_after_an_event(name):
    """An event recorded on the producing stream after the call covers our kernels: a consumer stream
    that waits on it reads the finished result."""
    case = CASES[name]
    cumprod(case_input(case, seed=50), case.dim)  # warm-up
    torch.cuda.synchronize()
    producer, consumer = torch.cuda.Stream(), torch.cuda.Stream()
    with torch.cuda.stream(producer):
        torch.cuda._sleep(SLEEP_CYCLES)
        x = case_input(case, seed=51)
        y = cumprod(x, case.dim)
        done = torch.cuda.Event()
        done.record()
    consumer.wait_event(done)
    with torch.cuda.stream(consumer):
        y.record_stream(consumer)
        z = y.clone()
    consumer.synchronize()
    producer.synchronize()
    assert_cumprod_matches(z, x, case.dim, label=f"{name}, read on a consumer stream")


# --- 4. torch.compile with CUDA graphs -------------------------------------------------------------------


def test_compiled_reduce_overhead():
    """torch.compile(mode="reduce-overhead") records the custom op into a CUDA graph (cudagraph
    trees: warm-up, record, then replays); every call, on new inputs, gives cumprod of its inputs."""
    from torch._dynamo.utils import counters

    def scans(a, b, c):
        return cumprod(a, 1), cumprod(b, 0), cumprod(c, 1)

    torch._dynamo.reset()
    counters.clear()
    try:
        compiled = torch.compile(scans, mode="reduce-overhead", fullgraph=True, dynamic=False)
        for seed in range(60, 64):
            torch.compiler.cudagraph_mark_step_begin()
            a = gpu_near_one((16, 1_000_000), torch.float32, seed, 1e-3)  # lookback
            b = gpu_near_one((1_000_003,), torch.float64, seed + 100, 1e-3)  # split rows
            c = gpu_near_one((4096, 64), torch.float32, seed + 200, 0.1)  # short rows
            ya, yb, yc = compiled(a, b, c)
            # Checked before the next call, which may overwrite the graph's outputs.
            assert_cumprod_matches(ya, a, 1, label=f"compiled, 16 x 1000000, seed {seed}")
            assert_cumprod_matches(yb, b, 0, label=f"compiled, 1-D fp64, seed {seed}")
            assert_cumprod_matches(yc, c, 1, label=f"compiled, 4096 x 64, seed {seed}")
            del ya, yb, yc
        skips = counters["inductor"]["cudagraph_skips"]
        assert skips == 0, f"inductor skipped CUDA graphs {skips} times: {dict(counters['inductor'])}"
    finally:
        torch._dynamo.reset()

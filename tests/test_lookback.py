"""kernels/lookback.py, the single-pass scan of rows too few to fill the GPU: when the dispatcher
takes it, and its results on tiles and groups made small through dispatch.tile_settings, so that
every carry (inside a group, from the group before, across rows) is used."""
import pytest
import torch

from reference import assert_cumprod_matches, assert_identical, assert_scan_matches, near_one, random_input
from triton_cumprod import autograd, cumprod, dispatch, forward
from triton_cumprod.dispatch import plan_scan
from triton_cumprod.kernels import lookback

STEP, WINDOW, GROUPS = 16, 4, 2


def use_small_tiles(monkeypatch):
    """Tiles of STEP elements, groups of WINDOW tiles, super-groups of GROUPS groups (the forward),
    and a GPU of 132 SMs to fill, on any device, for the forward and the backward."""
    real = dispatch.tile_settings

    def settings(capability, itemsize):
        return {**real(capability, itemsize), "row_step": STEP, "short_tile": STEP, "lookback_step": STEP,
                "lookback_window": WINDOW, "lookback_cols_step": STEP, "lookback_cols_window": WINDOW,
                "lookback_groups": GROUPS, "backward_step": STEP // 2, "backward_window": WINDOW}

    monkeypatch.setattr(dispatch, "tile_settings", settings)
    for module in (forward, autograd):
        monkeypatch.setattr(module, "device_traits", lambda device, real=forward.device_traits: (132, real(device)[1]))


@pytest.fixture
def small_tiles(monkeypatch):
    use_small_tiles(monkeypatch)


def test_taken_for_few_long_rows():
    h200 = (132, (9, 0))
    plan = plan_scan(1, 1 << 28, 1, True, *h200, 4, floating=True)
    assert plan[0] == "lookback" and plan[1] * plan[4] >= 1 << 28 and plan[1] < 2**31
    assert plan_scan(16, 1 << 24, 1, True, *h200, 2, floating=True)[0] == "lookback"
    assert plan_scan(1, 1 << 27, 1, True, *h200, 8, floating=True)[0] == "lookback"
    # forward.scan_plan: rows of floats, and of integers read from 8-byte inputs (their products
    # publish as two tagged words, lookback.publish); narrower integer inputs stay split.
    gpu = torch.device("cuda")
    for dtype, x_itemsize, kind in ((torch.float64, None, "lookback"), (torch.bfloat16, None, "lookback"),
                                    (torch.int64, None, "lookback"), (torch.int32, 8, "lookback"),
                                    (torch.int64, 4, "rows"), (torch.int32, None, "rows")):
        with pytest.MonkeyPatch.context() as m:
            m.setattr(forward, "device_traits", lambda device: h200)
            assert forward.scan_plan(1, 1 << 28, 1, True, dtype, gpu, x_itemsize=x_itemsize)[0] == kind, dtype
    # Not for strided rows, not for lines that fill the GPU.
    assert plan_scan(1, 1 << 28, 1, True, *h200, 8)[0] == "lookback"
    assert plan_scan(1, 1 << 28, 1, True, *h200, 8, x_itemsize=2)[0] == "rows"
    assert plan_scan(1, 1 << 28, 1, False, *h200, 4, floating=True)[0] == "rows"
    assert plan_scan(1000, 1 << 20, 1, True, *h200, 4, floating=True)[:2] == ("rows", 1)
    assert plan_scan(1, 1 << 28, 32, True, *h200, 4, floating=True)[0] == "cols"
    # A few columns side by side, contiguous: one pass on tiles of all of them.
    for inner in (4, 12, 16):
        plan = plan_scan(1, 1 << 24, inner, True, *h200, 4, floating=True)
        assert plan[0] == "lookback" and plan[1] * plan[4] >= 1 << 24
    assert plan_scan(1, 1 << 24, 4, True, *h200, 8)[0] == "cols"


@pytest.mark.parametrize("shape", [(1, 200), (3, 130), (2, STEP * WINDOW * 3 + 1), (2, STEP * WINDOW), (5, 2 * STEP + 1),
                                   (2, STEP * WINDOW * GROUPS * 3 - 5), (4, 5 * STEP - 1), (4, 5 * STEP - 3)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
def test_matches_torch(shape, dtype, device, small_tiles, launches):
    x = near_one(shape, device=device, seed=shape[1]).to(dtype)
    y = cumprod(x, 1)
    assert [plan[0] for plan in launches.plans] == ["lookback"]
    assert_cumprod_matches(y, x, 1, label=f"plan {launches.plans[0]}")


# (shape, dim): a scan dim followed by a few inner positions, contiguous (widths 2, 4, 8, 16) or
# not (3, 5, 11: masked columns); tiles of STEP // width positions.
COLUMNS = [((150, 4), 0), ((2, 77, 3), 1), ((60, 8), 0), ((3, 41, 2), 1), ((70, 5), 0), ((40, 16), 0), ((2, 37, 11), 1)]


@pytest.mark.parametrize("shape,dim", COLUMNS)
@pytest.mark.parametrize("options", [{}, {"exclusive": True}, {"reverse": True}, {"exclusive": True, "reverse": True}])
def test_columns_match_torch(shape, dim, options, device, small_tiles, launches):
    x = near_one(shape, device=device, seed=shape[dim])
    x.narrow(dim, 3, 1).zero_()  # a zero in every column
    y = cumprod(x, dim, **options)
    assert [plan[0] for plan in launches.plans] == ["lookback"]
    assert_scan_matches(y, x, dim, options.get("exclusive", False), options.get("reverse", False))


def test_columns_half_types_and_special_values(device, small_tiles, launches):
    x = near_one((90, 4), device=device, seed=11)
    x[STEP, 1] = float("inf")
    x[2 * STEP, 2] = float("nan")
    x[5, 3] = -0.0
    for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.float64):
        assert_cumprod_matches(cumprod(x.to(dtype), 0), x.to(dtype), 0)
    assert {plan[0] for plan in launches.plans} == {"lookback"}


# (shape, the result's dtype): int64 inputs, the integers that take the single pass.
INTEGER_ROWS = [((1, 200), None), ((3, STEP * WINDOW * GROUPS * 3 - 5), None), ((2, 5 * STEP - 3), torch.int32),
                ((2, STEP * WINDOW * 3 + 1), torch.int16), ((3, 130), None)]


@pytest.mark.parametrize("shape,out", INTEGER_ROWS)
@pytest.mark.parametrize("options", [{}, {"exclusive": True}, {"reverse": True}])
def test_integer_rows_match_torch(shape, out, options, device, small_tiles, launches):
    # Values over the dtype's whole range: products wrap around and, in the first row, reach zero;
    # the other rows' are odd, never zero, and use both halves of every word a tile publishes.
    x = random_input(shape, torch.int64, device, seed=shape[1])
    x[1:] |= 1
    y = cumprod(x, 1, dtype=out, **options)
    assert [plan[0] for plan in launches.plans] == ["lookback"]
    assert_scan_matches(y, x, 1, options.get("exclusive", False), options.get("reverse", False), dtype=out)


def test_integer_rows_deterministic(device, small_tiles, launches):
    x = random_input((3, 500), torch.int64, device, seed=4) | 1
    assert_identical(cumprod(x, 1), torch.cumprod(x.cpu(), 1))
    assert_identical(cumprod(x, 1), cumprod(x, 1))
    assert {plan[0] for plan in launches.plans} == {"lookback"}


def test_integers_scanned_as_float32(device, small_tiles, launches):
    x = torch.randint(-3, 4, (2, 150), device=device, dtype=torch.int32)
    y = cumprod(x, 1, dtype=torch.float32)
    assert launches.plans[0][0] == "lookback"
    assert_cumprod_matches(y, x, 1, dtype=torch.float32)


def test_special_values_cross_tiles_and_groups(device, small_tiles):
    x = near_one((4, 200), device=device, seed=1)
    x[0, STEP * WINDOW] = 0  # the first element of a group
    x[0, STEP * WINDOW + 40] = float("nan")  # NaN after the product became zero: NaN from there
    x[1, STEP - 1] = float("inf")  # the last element of a tile
    x[1, 2 * STEP] = -0.0
    x[2, 3 * STEP] = float("-inf")
    x[3, STEP * WINDOW - 1] = float("nan")  # the last tile of a group, which publishes the group
    x[2, STEP * WINDOW * GROUPS - 1] = 0.0  # the last tile of a super-group, which publishes the row's product
    x[2, STEP * WINDOW * GROUPS + 3] = float("nan")
    for dtype in (torch.float32, torch.float64):
        assert_cumprod_matches(cumprod(x.to(dtype), 1), x.to(dtype), 1)


def test_state_is_left_ready_for_the_next_call(device, small_tiles):
    # Call k of a state publishes in half k % 2 and zeroes the other, so calls in a row on one state
    # (as replays make them) need no zeroing between them.
    x = near_one((3, 300), device=device, seed=7)
    plan = forward.scan_plan(3, 300, 1, True, torch.float32, x.device)
    _, grid, args = lookback.launch_lookback(x, torch.empty_like(x), 3, 300, 1, (300, 1, 1), torch.float32, plan)
    state = args["state_ptr"]
    half = (state.numel() - 1) // 2
    for call, seed in enumerate((8, 9, 10), start=1):
        assert state[0].item() == call % 2 * grid[0]
        assert not state[1 + call % 2 * half:1 + (call % 2 + 1) * half].any()
        x = near_one((3, 300), device=device, seed=seed)
        y = torch.empty_like(x)
        lookback.scan_lookback_kernel[grid](**{**args, "x_ptr": x, "y_ptr": y}, num_warps=plan[5])
        assert_cumprod_matches(y, x, 1, label=f"call {call + 1} on one state")


def test_deterministic(device, small_tiles):
    for dtype in (torch.float32, torch.float64):
        x = near_one((3, 500), device=device, seed=2).to(dtype)
        assert_identical(cumprod(x, 1), cumprod(x, 1))


def test_register_cap_fits_one_more_program():
    # The hardware allocates registers in units of 8 a thread, out of 65536 a multiprocessor.
    assert dispatch.register_cap(72, 128) == 64  # 7 programs -> 8
    assert dispatch.register_cap(145, 128) == 128  # 152 allocated: 3 programs -> 4
    assert dispatch.register_cap(89, 64) == 88  # 96 allocated: 10 programs -> 11
    assert dispatch.register_cap(152, 64, threads_per_sm=1536) == 144  # sm_89's threads: 6 -> 7
    assert dispatch.register_cap(24, 128) is None  # 16 programs of 128 threads are all 2048 threads
    assert dispatch.register_cap(72, 256, threads_per_sm=1536) == 64  # 3 -> 4 programs; 6 would not fit
    for registers in range(1, 256):
        for threads in (32, 64, 128, 256):
            cap = dispatch.register_cap(registers, threads)
            if cap is not None:
                assert 0 < cap < registers + 8 and cap % 8 == 0
                assert 65536 // (cap * threads) > 65536 // (-(-registers // 8) * 8 * threads)


class FakeCompiled:
    def __init__(self, registers, spills):
        self.n_regs, self.n_spills = registers, spills

    def __getitem__(self, grid):
        return None


class FakeKernel:
    """Stands in for a Triton kernel: compiles to `registers` (or the cap), spilling `spills` bytes
    under a cap; records its warm-ups and launches."""

    def __init__(self, registers, spills):
        self.registers, self.spills = registers, spills
        self.params = [type("Param", (), {"name": "BLOCK", "is_constexpr": True})()]
        self.warmups, self.launches = [], []

    def warmup(self, grid, num_warps, maxnreg=None, **args):
        self.warmups.append(maxnreg)
        return FakeCompiled(maxnreg or self.registers, self.spills if maxnreg else 0)

    def __getitem__(self, grid):
        return lambda **args: self.launches.append(args)


@pytest.mark.parametrize("spills,cap", [(0, 64), (8, 64), (12, None)])
def test_launch_resident_caps_registers_where_it_spills_little(monkeypatch, spills, cap):
    props = type("Props", (), {"regs_per_multiprocessor": 65536, "max_threads_per_multi_processor": 2048})()
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device: props)
    kernel, gpu = FakeKernel(72, spills), torch.device("cuda", 0)  # a kernel of its own: decided afresh
    for _ in range(2):
        lookback.launch_resident(kernel, (10,), {"BLOCK": 16, "n": 3}, 4, gpu)
    assert kernel.warmups == [None, 64]  # decided once for the kernel's constexprs and warps
    expected = {"BLOCK": 16, "n": 3, "num_warps": 4, **({} if cap is None else {"maxnreg": cap})}
    assert kernel.launches == [expected, expected]
    lookback.launch_resident(kernel, (10,), {"BLOCK": 32, "n": 3}, 4, gpu)
    assert kernel.warmups == [None, 64, None, 64]
    # On the CPU (the interpreter) the compiler's own count: nothing is compiled ahead.
    lookback.launch_resident(kernel, (10,), {"BLOCK": 16, "n": 3}, 4, torch.device("cpu"))
    assert kernel.launches[-1] == {"BLOCK": 16, "n": 3, "num_warps": 4} and len(kernel.warmups) == 4


# --- the column chain (scan_chain_cols_kernel, and the gradient's backward_chain_cols_kernel) -----


@pytest.fixture
def chains(monkeypatch):
    """Chain tiles of 8 columns by 4 positions, taken for every column layout: many lines and many
    tiles a line on small tensors."""
    real = dispatch.tile_settings

    def settings(capability, itemsize):
        return {**real(capability, itemsize), "chain_tile": (8, 4), "backward_chain_tile": (8, 4),
                "chain_hop_bytes": 0, "chain_below_warps_per_sm": 1000}

    monkeypatch.setattr(dispatch, "tile_settings", settings)


def test_chain_taken_for_tall_columns():
    h100 = (132, (9, 0))
    plan = plan_scan(1, 131072, 8192, True, *h100, 4, floating=True)
    assert plan[0] == "chain" and plan[1] * plan[2] >= 131072
    # The forward's odd neighbour half as deep (its rows do not start on 16 bytes), the aligned
    # rows of an inner size no multiple of 16 as deep as the even ones.
    assert plan_scan(1, 131071, 8191, True, *h100, 4, floating=True)[:5] == ("chain", 2048, 64, 32, 64)
    assert plan_scan(1, 13375, 6072, True, *h100, 4, floating=True)[:5] == ("chain", 105, 128, 32, 128)
    # The gradient's on 32 x 32 tiles, its odd neighbours too.
    assert dispatch.plan_backward(1, 131072, 8192, *h100, 4)[:5] == ("chain", 4096, 32, 32, 32)
    assert dispatch.plan_backward(1, 131071, 8191, *h100, 4)[:5] == ("chain", 4096, 32, 32, 32)
    assert dispatch.plan_backward(1, 13375, 6072, *h100, 4)[:5] == ("chain", 418, 32, 32, 32)
    # Not where the lines fill the GPU, nor where one depth of tiles moves too few bytes, nor for
    # 8-byte results (the chain passes float32 carries).
    assert plan_scan(1, 32768, 32768, True, *h100, 4, floating=True)[0] == "cols"
    assert plan_scan(1, 1 << 20, 64, True, *h100, 4, floating=True)[0] == "cols"
    assert plan_scan(1, 131072, 8192, True, *h100, 8)[0] == "cols"
    assert plan_scan(1, 131072, 8192, True, *h100, 8, floating=True)[0] == "cols"


@pytest.mark.parametrize("shape,dim", [((37, 19), 0), ((3, 13, 21), 1), ((9, 8), 0), ((6, 33), 0)])
@pytest.mark.parametrize("options", [{}, {"exclusive": True}, {"reverse": True}, {"exclusive": True, "reverse": True}])
def test_chain_matches_torch(shape, dim, options, device, chains, launches):
    x = near_one(shape, device=device, seed=shape[dim])
    x.narrow(dim, 5, 1).select(-1 if dim == 0 else 0, 2).zero_()
    for _ in range(2):  # the state a call leaves serves the next
        y = cumprod(x, dim, **options)
        assert_scan_matches(y, x, dim, options.get("exclusive", False), options.get("reverse", False))
    assert {plan[0] for plan in launches.plans} == {"chain"}


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_chain_half_types_and_views(dtype, device, chains):
    x = near_one((40, 30), device=device, seed=3).to(dtype)
    for view in (x, x[:, 1:], x.t().contiguous().t()):
        assert_cumprod_matches(cumprod(view, 0), view, 0)


@pytest.mark.parametrize("shape", [(37, 19), (21, 8)])
@pytest.mark.parametrize("options", [{}, {"exclusive": True}, {"reverse": True}, {"exclusive": True, "reverse": True}])
def test_chain_gradient_matches_torch(shape, options, device, chains):
    from test_backward_lookback import assert_gradient_close, gradient

    x = near_one(shape, device=device, seed=5)
    g = near_one(shape, device=device, seed=6, spread=1.0)
    x[11, 3] = 0
    for _ in range(2):
        ours = gradient(x, 0, g, **options)
        assert_gradient_close(ours, x, 0, g, label="chain", **options)

"""kernels/lookback.py, the single-pass scan of rows too few to fill the GPU: when the dispatcher
takes it, and its results on tiles and groups made small through dispatch.tile_settings, so that
every carry (inside a group, from the group before, across rows) is used."""
import pytest
import torch

from reference import assert_cumprod_matches, assert_identical, near_one
from triton_cumprod import autograd, cumprod, dispatch, forward
from triton_cumprod.dispatch import plan_scan

STEP, WINDOW, GROUPS = 16, 4, 2


def use_small_tiles(monkeypatch):
    """Tiles of STEP elements, groups of WINDOW tiles, super-groups of GROUPS groups (the forward),
    and a GPU of 132 SMs to fill, on any device, for the forward and the backward."""
    real = dispatch.tile_settings

    def settings(capability, itemsize):
        return {**real(capability, itemsize), "row_step": STEP, "short_tile": STEP, "lookback_step": STEP,
                "lookback_window": WINDOW, "lookback_groups": GROUPS, "backward_window": WINDOW}

    monkeypatch.setattr(dispatch, "tile_settings", settings)
    for module in (forward, autograd):
        monkeypatch.setattr(module, "device_traits", lambda device, real=forward.device_traits: (132, real(device)[1]))


@pytest.fixture
def small_tiles(monkeypatch):
    use_small_tiles(monkeypatch)


def test_taken_for_few_long_rows_multiplied_in_float32():
    h200 = (132, (9, 0))
    plan = plan_scan(1, 1 << 28, 1, True, *h200, 4, single_pass=True)
    assert plan[0] == "lookback" and plan[1] * plan[4] >= 1 << 28 and plan[1] < 2**31
    assert plan_scan(16, 1 << 24, 1, True, *h200, 2, single_pass=True)[0] == "lookback"
    # Not without float32 products, not for strided rows, not for lines that fill the GPU.
    assert plan_scan(1, 1 << 28, 1, True, *h200, 8)[0] == "rows"
    assert plan_scan(1, 1 << 28, 1, False, *h200, 4, single_pass=True)[0] == "rows"
    assert plan_scan(1000, 1 << 20, 1, True, *h200, 4, single_pass=True)[:2] == ("rows", 1)
    assert plan_scan(1, 1 << 28, 4, True, *h200, 4, single_pass=True)[0] == "cols"


@pytest.mark.parametrize("shape", [(1, 200), (3, 130), (2, STEP * WINDOW * 3 + 1), (2, STEP * WINDOW), (5, 2 * STEP + 1),
                                   (2, STEP * WINDOW * GROUPS * 3 - 5)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_matches_torch(shape, dtype, device, small_tiles, launches):
    x = near_one(shape, device=device, seed=shape[1]).to(dtype)
    y = cumprod(x, 1)
    assert [plan[0] for plan in launches.plans] == ["lookback"]
    assert_cumprod_matches(y, x, 1, label=f"plan {launches.plans[0]}")


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
    assert_cumprod_matches(cumprod(x, 1), x, 1)


def test_deterministic(device, small_tiles):
    x = near_one((3, 500), device=device, seed=2)
    assert_identical(cumprod(x, 1), cumprod(x, 1))

"""replay.py, the host path of repeated calls: a second eager call of a layout launches the compiled
kernel of the first directly (no planning, no Triton dispatch), on new data, with the same result
bitwise as the full path; layouts that differ in anything the launch depends on (alignment
included) get launches of their own; calls that took more than one launch, or a copy, are never
replayed."""
import pytest
import torch

from reference import assert_identical, assert_scan_matches, near_one
from triton_cumprod import cumprod, forward, replay

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.fixture
def full_path(monkeypatch):
    """Counts the calls that took the full path (forward.run_forward) instead of a replay."""
    calls = []
    real = forward.run_forward

    def spy(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(replay, "run_forward", spy)
    return calls


def make(shape, dtype, seed, transposed=False):
    x = near_one(shape[::-1] if transposed else shape, device="cuda", seed=seed).to(dtype)
    return x.t() if transposed else x


# (shape, dim, dtype, transposed, dtype=, exclusive, reverse): layouts with lines enough to fill the
# GPU, or few lines in float32 (the single pass), so one launch each (on a GPU of up to 256
# multiprocessors)
CASES = {
    "tiny rows": ((8, 128), 1, torch.float32, False, None, False, False),
    "short rows": ((4096, 64), 1, torch.float32, False, None, False, False),
    "transposed rows": ((4096, 257), 1, torch.float32, True, None, False, False),
    "columns": ((16, 33, 130), 1, torch.float32, False, None, False, False),
    "bf16 rows": ((64, 3000), 1, torch.bfloat16, False, None, False, False),
    "int to float64": ((32, 100), 1, torch.int32, False, torch.float64, False, False),
    "exclusive reverse": ((1024, 1024), 1, torch.float32, False, None, True, True),
    "reverse columns": ((8, 512, 2048), 1, torch.float32, False, None, False, True),
    "flat rows": ((20000, 3), 1, torch.float32, False, None, False, False),
    "flat rows, odd count, both options": ((6001, 7), 1, torch.float16, False, None, True, True),
    "single pass": ((1_000_003,), 0, torch.float32, False, None, False, False),
    "single pass, bf16 rows, both options": ((4, 500_003), 1, torch.bfloat16, False, None, True, True),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_second_call_replays_the_first(case, full_path):
    shape, dim, dtype, transposed, out_dtype, exclusive, reverse = CASES[case]
    options = dict(dtype=out_dtype, exclusive=exclusive, reverse=reverse)
    x = make(shape, dtype, 1, transposed) if dtype.is_floating_point else torch.randint(-2, 3, shape, device="cuda", dtype=dtype)
    first = cumprod(x, dim, **options)
    assert len(full_path) == 1
    again = cumprod(x, dim, **options)
    assert len(full_path) == 1, "the second call did not replay"
    assert_identical(again, first)
    assert_identical(replay._native_replay(x, dim, out_dtype, exclusive, reverse), first)  # in C++
    # New data of the same layout: the replayed launch reads it.
    y = make(shape, dtype, 2, transposed) if dtype.is_floating_point else torch.randint(-2, 3, shape, device="cuda", dtype=dtype)
    result = cumprod(y, dim, **options)
    assert len(full_path) == 1
    assert_scan_matches(result, y, dim, exclusive, reverse, dtype=out_dtype)


def test_alignment_and_options_are_part_of_the_key(full_path):
    buffer = near_one((1 + 64 * 128,), device="cuda", seed=3)
    aligned = buffer[:-1].view(64, 128)
    misaligned = buffer[1:].view(64, 128)  # 4 bytes past a 16-byte boundary: another specialisation
    cumprod(aligned, 1)
    result = cumprod(misaligned, 1)
    assert len(full_path) == 2
    assert_scan_matches(result, misaligned, 1)
    cumprod(aligned, 1, exclusive=True)
    cumprod(aligned, 0)
    cumprod(aligned, 1, dtype=torch.float64)
    assert len(full_path) == 5
    assert_scan_matches(cumprod(misaligned, 1), misaligned, 1)
    assert len(full_path) == 5


@pytest.mark.parametrize("shape,dim,copy", [((1_000_003,), 0, False), ((6, 30, 8, 6, 10), 1, True)])
def test_not_replayed(shape, dim, copy, full_path):
    """One launch of the input itself or nothing: the split scan (several launches) and an input
    read through a contiguous copy take the full path."""
    x = near_one(shape, device="cuda", seed=4, spread=1e-3)
    if copy:
        # The dims after `dim` merge into no one axis and the others into no two (layout.turned_view):
        # read through a copy.
        x = x[:, :, ::2, ::2]
    if shape == (1_000_003,):
        x = torch.where(x > 1, 1, -1).to(torch.int32)  # integer lines split into chunks (no single pass)
    cumprod(x, dim)
    cumprod(x, dim)
    assert len(full_path) == 2
    assert_scan_matches(cumprod(x, dim), x, dim)


def test_single_pass_replays_in_a_row_and_on_other_streams(full_path):
    # Each call leaves the single pass's state ready for the next on its stream; a replay on
    # another stream, where a call may still run on that state, gets fresh zeros instead.
    shape = (3_000_001,)
    cumprod(near_one(shape, device="cuda", seed=1, spread=1e-3), 0)
    for seed in range(2, 6):
        x = near_one(shape, device="cuda", seed=seed, spread=1e-3)
        assert_scan_matches(cumprod(x, 0), x, 0)
    side = torch.cuda.Stream()
    x = near_one(shape, device="cuda", seed=7, spread=1e-3)
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        on_side = cumprod(x, 0)
        here = cumprod(x, 0)
    torch.cuda.current_stream().wait_stream(side)
    assert len(full_path) == 1
    assert_identical(on_side, here)
    assert_scan_matches(on_side, x, 0)


def test_negative_view_is_not_read_as_its_memory(full_path):
    x = near_one((64, 128), device="cuda", seed=6)
    cumprod(x, 1)
    negated = torch._neg_view(x)  # same layout and memory, values negated
    assert_scan_matches(cumprod(negated, 1), negated, 1)
    assert len(full_path) == 2


def test_autograd_and_out_are_not_replayed(full_path):
    x = near_one((8, 128), device="cuda", seed=5)
    cumprod(x, 1)
    out = torch.empty_like(x)
    assert cumprod(x, 1, out=out) is out
    w = x.clone().requires_grad_()
    y = cumprod(w, 1)
    assert y.grad_fn is not None
    (grad,) = torch.autograd.grad(y.sum(), w)
    assert torch.isfinite(grad).all()
    assert len(full_path) == 1  # out= and autograd calls do not go through replay.record at all


def test_replay_calls_launch_hooks(full_path):
    # A profiler listening to Triton's launches (knobs.runtime.launch_enter_hook) still hears replays.
    from triton import knobs

    x = make((8, 128), torch.float32, 1)
    first = cumprod(x, 1)
    heard = []
    hook = lambda metadata: heard.append(metadata)
    knobs.runtime.launch_enter_hook.add(hook)
    try:
        again = cumprod(x, 1)
    finally:
        knobs.runtime.launch_enter_hook.remove(hook)
    assert len(full_path) == 1 and len(heard) == 1
    assert_identical(again, first)


def test_replays_take_the_packed_launch():
    # replay.cpp builds and packs the rows, column and single-pass kernels' parameters (else replays
    # fall back to Triton's launcher, slower by microseconds a call).
    assert replay._native() is not None
    for shape, dim in (((8, 128), 1), ((64, 33, 1024), 1), ((4096, 257), 1), ((1_000_003,), 0)):
        x = torch.rand(shape, device="cuda")
        _, launch = forward.run_forward(x, dim, torch.float32)
        compiled, grid, args = launch
        assert replay.pack(compiled, tuple(grid) + (1,) * (3 - len(grid)), args) is not None, (shape, dim)

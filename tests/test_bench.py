"""The benchmark CLI: its arguments, its JSON and the path a machine without a GPU takes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from triton_cumprod import bench

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_default_is_the_prompt_case():
    args = bench.parse_args([])
    assert bench.selected_cases(args) == [bench.SEED_CASE]
    assert bench.SEED_CASE[1:4] == ((32768, 32768), 1, "float32")


def test_suite_and_custom_case():
    assert len(bench.selected_cases(bench.parse_args(["--suite"]))) == len(bench.SUITE) >= 12
    case = bench.selected_cases(bench.parse_args(["--shape", "16,1024", "--dim", "0", "--dtype", "bfloat16"]))[0]
    assert case[1:4] == ((16, 1024), 0, "bfloat16")


def test_bad_arguments_are_refused():
    with pytest.raises(SystemExit):
        bench.parse_args(["--suite", "--shape", "4,4"])
    with pytest.raises(SystemExit):
        bench.parse_args(["--dtype", "complex64"])


@pytest.mark.parametrize("kind", ["rand", "near1", "transposed"])
def test_inputs(kind):
    x = bench.make_input((6, 10), "float32", kind, "cpu")
    assert x.shape == (6, 10) and x.dtype == torch.float32
    assert (x > 0).all()
    assert (kind == "transposed") == (not x.is_contiguous())


def test_max_rel_error_sees_a_wrong_answer():
    x = bench.make_input((4, 50), "float32", "near1", "cpu")
    y = torch.cumprod(x, 1)
    assert bench.max_rel_error(x, y, 1) < 1e-5
    y[2, 30] *= 1.01
    assert bench.max_rel_error(x, y, 1) > 5e-3
    xi = bench.make_input((4, 50), "int32", "near1", "cpu")
    assert bench.max_rel_error(xi, torch.cumprod(xi, 1), 1) == 0
    assert bench.max_rel_error(xi, torch.cumprod(xi, 1) + 1, 1) == 1


def test_table_lists_every_implementation():
    report = {"device": "test", "cases": [{"case": "c", "shape": [2, 3], "dim": 1, "dtype": "float32", "results": [
        {"impl": "copy", "ms": 1.0, "gbps": 10.0, "ratio": 1.0},
        {"impl": "ours", "ms": 1.1, "gbps": 9.0, "ratio": 0.91, "vs_torch": 2.0, "max_rel_err": 1e-7},
        {"impl": "CuPy", "skipped": "ModuleNotFoundError: No module named 'cupy'"},
    ]}]}
    table = bench.format_table(report)
    assert "ours" in table and "0.910" in table and "skipped: ModuleNotFoundError" in table


@pytest.mark.skipif(torch.cuda.is_available(), reason="the no-GPU path")
def test_cpu_run_writes_json(tmp_path):
    out = tmp_path / "r.json"
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("TRITON_INTERPRET", None)
    run = subprocess.run([sys.executable, "-m", "triton_cumprod.bench", "--json", str(out)],
                         capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "No CUDA device" in run.stdout
    report = json.loads(out.read_text())
    assert report["device"].startswith("cpu")
    assert set(report["versions"]) == {"torch", "triton", "python"}
    (case,) = report["cases"]
    assert {"case", "shape", "dim", "dtype", "input", "results"} <= set(case)
    impls = {row["impl"]: row for row in case["results"]}
    assert set(impls) == {"ours", "torch"}
    assert impls["ours"]["max_rel_err"] < 1e-4 and impls["ours"]["wall_ms"] > 0


def test_backward_options():
    args = bench.parse_args(["--backward"])
    assert bench.selected_cases(args) == bench.BACKWARD_SUITE[:1]
    assert bench.selected_cases(bench.parse_args(["--backward", "--suite"])) == bench.BACKWARD_SUITE
    x = bench.make_input((4, 250), "float32", "zeros100", "cpu")
    assert (x.view(-1)[::100] == 0).all() and (x != 0).sum() == x.numel() - 10


def test_gradient_error_sees_a_wrong_gradient():
    x = bench.make_input((3, 40), "float64", "near1", "cpu")
    run, g = bench.backward_of(torch.cumprod, x, 1)
    grad = run()
    assert bench.gradient_error(x, grad, 1, g) < 1e-12
    grad[1, 5] += 0.1 * grad.abs().max()
    assert bench.gradient_error(x, grad, 1, g) > 0.05


def test_gradient_error_takes_an_overflow_to_infinity_as_exact():
    # fp16 factors of 2: the gradient's first entries, 2^16 - 2^i, pass 65504 and round to inf.
    x = torch.full((2, 16), 2.0, dtype=torch.float16)
    g = torch.ones_like(x)
    xs = x.double().requires_grad_()
    (ref,) = torch.autograd.grad(torch.cumprod(xs, 1), xs, g.double())
    grad = ref.to(torch.float16)
    assert grad.isinf().any() and bench.gradient_error(x, grad, 1, g) < 1e-3
    grad[0, -1] = float("inf")  # its reference, 2^15, is finite: inf counts as 2^16
    assert 0.4 < bench.gradient_error(x, grad, 1, g) < 0.6


def test_gradient_error_takes_an_infinity_next_to_the_largest_finite_value_as_near():
    # A reference of 65519 rounds to 65504 in fp16; a gradient summed in float32 may reach 65520
    # and round to inf: 17 away, not an infinite error.
    x = torch.ones((1, 2), dtype=torch.float16)
    g = torch.tensor([[65024.0, 495.0]], dtype=torch.float16)
    xs = x.double().requires_grad_()
    (ref,) = torch.autograd.grad(torch.cumprod(xs, 1), xs, g.double())
    assert ref[0, 0] == 65519
    grad = ref.to(torch.float16)
    grad[0, 0] = float("inf")
    assert bench.gradient_error(x, grad, 1, g) < 1e-3
    grad[0, 0] = -float("inf")
    assert bench.gradient_error(x, grad, 1, g) > 1


def test_sweep_draws_the_same_layouts_for_a_seed():
    cases = bench.draw_sweep(60, 0)
    assert cases == bench.draw_sweep(60, 0) and cases != bench.draw_sweep(60, 1)
    assert all(1 <= len(c.shape) <= 4 and 0 <= c.dim < len(c.shape) for c in cases)
    assert all(torch.Size(c.shape).numel() <= bench.SWEEP_MAX_NUMEL for c in cases)
    assert {c.view for c in cases} == {"contiguous", "transposed", "sliced"}
    assert any(c.shape[c.dim] % 2 for c in cases) and any(c.shape[c.dim] % 2 == 0 for c in cases)
    assert all(c.dtype != "int32" for c in bench.draw_sweep(60, 0, backward=True))


@pytest.mark.parametrize("view", ["contiguous", "transposed", "sliced"])
def test_sweep_input_has_the_drawn_shape_and_layout(view):
    x = bench.sweep_input(bench.SweepCase((5, 6, 7), 1, "float32", view), "cpu")
    assert x.shape == (5, 6, 7)
    assert x.is_contiguous() == (view == "contiguous")
    if view == "sliced":
        assert x.storage_offset() == 1 and x.stride(1) == 8


def test_sweep_summary_counts_large_shapes_and_lists_every_loss():
    rows = [{"shape": [n], "dim": 0, "dtype": "float32", "view": "contiguous", "copy_ms": ms, "ours": ours,
             "torch": torch_ratio, "max_rel_err": 0.0}
            for n, ms, ours, torch_ratio in [(1, 0.01, 0.2, 0.5), (2, 0.1, 0.9, 0.5), (3, 0.2, 0.95, 0.99), (4, 1.0, 0.8, 0.4)]]
    summary = bench.sweep_summary(rows)
    assert summary["counted"] == 3 and summary["min"] == 0.8 and summary["median"] == 0.9
    assert [r["shape"] for r in summary["slower_than_torch"]] == [[1], [3]]
    assert "slower than torch: 2" in bench.format_sweep(rows, summary)


def test_odd_suite_and_options():
    cases = bench.selected_cases(bench.parse_args(["--suite", "odd"]))
    assert cases == bench.ODD_SUITE and any(len(c) > 5 and c[5].get("reverse") for c in cases)
    assert bench.selected_cases(bench.parse_args(["--suite", "odd", "--backward"])) == bench.BACKWARD_ODD_SUITE
    with pytest.raises(SystemExit):
        bench.parse_args(["--suite", "--sweep", "3"])

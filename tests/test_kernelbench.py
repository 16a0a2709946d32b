"""The answer file: generated from the package, rule-checked, and correct when loaded as KernelBench does."""
import pytest
import torch

from triton_cumprod import kernelbench
from triton_cumprod.kernelbench import ANSWER_FILE, SEED_FILE, check_source, load_model, render


def test_committed_answer_matches_generator():
    assert ANSWER_FILE.read_text() == render(), "run `make kernelbench` to regenerate the answer file"


@pytest.mark.parametrize("path", [ANSWER_FILE, SEED_FILE], ids=["answer", "seed"])
def test_checker_passes_answer_and_seed(path):
    assert check_source(path.read_text()) == []


def test_check_cli_exit_codes(tmp_path, capsys):
    assert kernelbench.main(["--check", str(ANSWER_FILE)]) == 0
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    assert kernelbench.main(["--check", str(bad)]) == 1
    assert "bad.py:1:" in capsys.readouterr().out


GOOD = '''
import torch
import torch.nn as nn
import triton
import triton.language as tl


@triton.jit
def copy_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


def copy(x):
    y = torch.empty_like(x)
    grid = (triton.cdiv(x.numel(), 1024),)
    copy_kernel[grid](x, y, x.numel(), BLOCK=1024)
    return y


class ModelNew(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return copy(x)
'''

AUTOTUNED = '''
@triton.autotune(configs=[triton.Config({"BLOCK": 256}), triton.Config({"BLOCK": 1024})], key=["n"])
@triton.jit
def copy_kernel(x_ptr, y_ptr, n, BLOCK: tl.constexpr):
    offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + offs, tl.load(x_ptr + offs, mask=offs < n), mask=offs < n)


def copy(x):
    y = torch.empty_like(x)
    copy_kernel[lambda META: (triton.cdiv(x.numel(), META["BLOCK"]),)](x, y, x.numel())
    return y
'''

# (rule, a change to GOOD or AUTOTUNED that breaks it, words the report must contain)
PLANTED = [
    ("extra import", lambda s: s.replace("import triton\n", "import triton\nimport math\n", 1), "imports must be exactly"),
    ("import order", lambda s: s.replace("import torch\nimport torch.nn as nn\n", "import torch.nn as nn\nimport torch\n", 1), "imports must be exactly"),
    ("wrapper before kernel", lambda s: s.replace("@triton.jit", "def helper():\n    return 1\n\n\n@triton.jit", 1), "must come before"),
    ("ModelNew before wrapper", lambda s: s + "\n\ndef late(x):\n    return x\n", "must come before"),
    ("test code", lambda s: s + "\n\nif __name__ == '__main__':\n    print(1)\n", "if __name__"),
    ("get_inputs", lambda s: s.replace("class ModelNew", "def get_inputs():\n    return []\n\n\nclass ModelNew"), "get_inputs"),
    ("top-level statement", lambda s: s.replace("@triton.jit", "BLOCK = 1024\n\n\n@triton.jit", 1), "top-level"),
    ("no ModelNew", lambda s: s.replace("class ModelNew(nn.Module)", "class Model(nn.Module)"), "no class ModelNew"),
    ("ModelNew signature", lambda s: s.replace("def __init__(self, dim)", "def __init__(self)"), "__init__(self, dim)"),
    ("grid of 4 dims", lambda s: s.replace("grid = (triton.cdiv(x.numel(), 1024),)", "grid = (1, 1, 1, triton.cdiv(x.numel(), 1024))"), "at most 3"),
    ("program axis past the grid", lambda s: s.replace("tl.program_id(0)", "tl.program_id(1)"), "program axis 1"),
    ("grid of dynamic rank", lambda s: s.replace("grid = (triton.cdiv(x.numel(), 1024),)", "grid = [1] * x.dim()"), "static rank"),
]
PLANTED_TUNED = [
    ("autotune both", lambda s: s.replace('triton.Config({"BLOCK": 256})', 'triton.Config({"BLOCK": 256}, num_warps=8)'), "autotunes both"),
    ("grid on a tuned BLOCK without lambda", lambda s: s.replace('copy_kernel[lambda META: (triton.cdiv(x.numel(), META["BLOCK"]),)]', 'copy_kernel[(triton.cdiv(x.numel(), BLOCK),)]'), "lambda META"),
    ("tuned BLOCK passed at launch", lambda s: s.replace("(x, y, x.numel())", "(x, y, x.numel(), BLOCK=256)"), "passed at launch"),
]


# KernelBench's static rules (kernelbench.STATIC_RULES): (rule, a change to GOOD that breaks it)
PLANTED_STATIC = [
    ("pass", lambda s: s.replace("        super().__init__()", "        super().__init__()\n        pass")),
    ("pass", lambda s: s.replace("def copy(x):", 'def copy(x):\n    """One pass over x."""')),
    ("try/except", lambda s: s.replace("    y = torch.empty_like(x)", "    try:\n        y = torch.empty_like(x)\n    except RuntimeError:\n        raise")),
    ("torch compute op", lambda s: s.replace("return copy(x)", "return torch.cumprod(x, self.dim)")),
    ("torch compute op", lambda s: s.replace("return copy(x)", "return x.cumprod(self.dim)")),
    ("torch compute op", lambda s: s.replace("return copy(x)", "return torch.matmul(x, x)")),
    ("torch.nn layer", lambda s: s.replace("self.dim = dim", "self.dim = nn.Linear(dim, dim)")),
    ("torch.nn layer", lambda s: s.replace("return copy(x)", "return torch.nn.functional.relu(x)")),
    ("stream", lambda s: s.replace("    y = torch.empty_like(x)", "    side = torch.cuda.Stream()\n    y = torch.empty_like(x)")),
    ("stream", lambda s: s.replace("    return y", "    y.record_stream(None)\n    return y")),
    ("thread", lambda s: s.replace("    return y", "    threading.Thread(target=print).start()\n    return y")),
    ("lazy tensor", lambda s: s.replace("    return y", "    return torch.Tensor._make_subclass(torch.Tensor, y)")),
    ("timing patch", lambda s: s.replace("    return y", "    torch.cuda.synchronize = lambda: None\n    return y")),
    ("precision downgrade", lambda s: s.replace("copy_kernel[grid](x, y,", "copy_kernel[grid](x.half(), y,")),
    ("precision downgrade", lambda s: s.replace("tl.load(x_ptr + offs, mask=offs < n)", "tl.load(x_ptr + offs, mask=offs < n).to(tl.float16)")),
]


@pytest.mark.parametrize("rule,plant", PLANTED_STATIC, ids=[f"{p[0]}-{i}" for i, p in enumerate(PLANTED_STATIC)])
def test_checker_catches_planted_static_violation(rule, plant):
    planted = plant(GOOD)
    assert planted != GOOD, "the plant did not change the file"
    assert any(message.startswith(f"{rule}:") for _, message in check_source(planted)), check_source(planted)


def test_static_rules_skip_comments_only():
    # A rule's words in a `#` comment are fine; in a string or a docstring they count, as they do
    # for KernelBench's harness. A '#' inside a string does not start a comment.
    commented = GOOD.replace("    return y", "    # one pass, no try: the kernel computes it (torch.cumprod)\n    return y")
    assert check_source(commented) == []
    in_string = GOOD.replace("    return y", '    name = "# a pass"\n    return y')
    assert any(message.startswith("pass:") for _, message in check_source(in_string))
    assert check_source(GOOD.replace("@triton.jit\n", "")) != []


def test_answer_has_no_docstrings():
    # The generator drops them (KernelBench's harness reads their words as code) and keeps comments.
    import ast

    tree = ast.parse(ANSWER_FILE.read_text())
    nodes = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Module))]
    assert all(ast.get_docstring(n) is None for n in nodes)
    assert "# The associative operator of the scan" in ANSWER_FILE.read_text()


def _with_autotuned_kernel():
    head, rest = GOOD.split("@triton.jit", 1)
    model = rest[rest.index("class ModelNew"):]
    return head + AUTOTUNED.lstrip("\n") + "\n\n" + model


def test_clean_examples_pass():
    assert check_source(GOOD) == []
    assert check_source(_with_autotuned_kernel()) == []


@pytest.mark.parametrize("rule,plant,words", PLANTED, ids=[p[0] for p in PLANTED])
def test_checker_catches_planted_violation(rule, plant, words):
    planted = plant(GOOD)
    assert planted != GOOD, "the plant did not change the file"
    problems = check_source(planted)
    assert any(words in message for _, message in problems), problems
    assert all(line >= 1 for line, _ in problems)


@pytest.mark.parametrize("rule,plant,words", PLANTED_TUNED, ids=[p[0] for p in PLANTED_TUNED])
def test_checker_catches_planted_tuning_violation(rule, plant, words):
    source = _with_autotuned_kernel()
    planted = plant(source)
    assert planted != source, "the plant did not change the file"
    assert any(words in message for _, message in check_source(planted)), check_source(planted)


def test_generator_refuses_a_function_from_a_module_it_does_not_copy(monkeypatch):
    monkeypatch.setattr(kernelbench, "SOURCES", [s for s in kernelbench.SOURCES if s != "kernels/lookback.py"])
    with pytest.raises(ValueError, match="'launch_(lookback|chain)' is imported from a module that SOURCES does not list"):
        render()


def test_generator_refuses_non_function_code(tmp_path, monkeypatch):
    module = tmp_path / "bad.py"
    module.write_text("import torch\n\nTABLE = {}\n")
    monkeypatch.setattr(kernelbench, "PACKAGE_DIR", tmp_path)
    monkeypatch.setattr(kernelbench, "SOURCES", ["bad.py"])
    with pytest.raises(ValueError, match="only imports and functions"):
        render()


# The last two take the single-pass scan (few long rows), on the interpreter and on a GPU alike.
@pytest.mark.parametrize("shape,dim", [((7, 300), 1), ((5, 6, 40), -2), ((3000,), 0), ((33, 17), 0), ((5000,), 0),
                                       ((2, 9000), 1)])
def test_model_new_matches_torch(shape, dim, device):
    x = 1 + (torch.rand(shape, device=device) - 0.5) / 8
    y = load_model(ANSWER_FILE).ModelNew(dim)(x)
    ref = torch.cumprod(x.double(), dim)
    assert y.dtype == x.dtype and y.shape == x.shape
    torch.testing.assert_close(y.double(), ref, rtol=1e-5, atol=0)


def test_answer_carries_only_what_model_new_reaches():
    text = ANSWER_FILE.read_text()
    assert "def cumprod_forward" in text and "def scan_rows_kernel" in text and "def scan_cols_kernel" in text
    assert "def plan_backward" not in text  # the gradient's plan lives beside the forward's, unused here

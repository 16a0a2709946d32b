"""The KernelBench answer file: generate it from the package's kernels, and check any file against
the prompt's output and launch rules and against the static rules of KernelBench's harness.

    python -m triton_cumprod.kernelbench --write          # (re)generate kernelbench/90_cumprod.py
    python -m triton_cumprod.kernelbench --check FILE     # list rule violations; exit 1 on any
    python -m triton_cumprod.kernelbench --ncu            # the prompt's NCU metrics, seed vs ours (GPU)

The answer file is the functions of the modules in SOURCES that ModelNew reaches, copied verbatim
but for their docstrings, so the library and the answer never hold two copies of a kernel. Those
modules may hold nothing but the allowed imports and functions.
"""
import argparse
import ast
import csv
import importlib.util
import io
import json
import re
import subprocess
import sys
import tokenize
from pathlib import Path
from typing import NamedTuple

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parent.parent
ANSWER_FILE = REPO_DIR / "kernelbench" / "90_cumprod.py"
SEED_FILE = REPO_DIR / "benchmarks" / "seed_cumprod.py"
SOURCES = ["kernels/combine.py", "kernels/rows.py", "kernels/cols.py", "kernels/flat.py", "kernels/lookback.py",
           "kernels/transposed.py", "dispatch.py", "layout.py", "forward.py"]
IMPORTS = ["import torch", "import torch.nn as nn", "import triton", "import triton.language as tl"]
TRITON_DECORATORS = {"jit", "autotune", "heuristics"}
MODEL = '''class ModelNew(nn.Module):
    # torch.cumprod(x, dim) computed by the Triton kernels above, for any shape and dim.

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return cumprod_forward(x, self.dim, default_dtype(x.dtype))
'''


def _decorator_name(node):
    """'jit' for @triton.jit, 'autotune' for @triton.autotune(...), else the bare name or None."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "triton":
        return node.attr
    return node.id if isinstance(node, ast.Name) else None


def is_kernel(node):
    return isinstance(node, ast.FunctionDef) and any(
        _decorator_name(d) in TRITON_DECORATORS for d in node.decorator_list)


def _source_of(text, node):
    """A function's source as written, without its docstring: KernelBench's harness reads words like
    'pass' in a docstring as code (see STATIC_RULES); `#` comments stay."""
    lines = text.splitlines()
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    kept = range(start, node.end_lineno + 1)
    if ast.get_docstring(node, clean=False) is not None:
        doc = node.body[0]
        kept = [n for n in kept if not doc.lineno <= n <= doc.end_lineno]
    return "\n".join(lines[n - 1] for n in kept)


def render():
    """The answer file's text: the functions of SOURCES that ModelNew reaches, in source order."""
    functions, imported = {}, {}
    for name in SOURCES:
        text = (PACKAGE_DIR / name).read_text()
        for node in ast.parse(text).body:
            if isinstance(node, ast.Import):
                if ast.unparse(node) not in IMPORTS:
                    raise ValueError(f"{name}:{node.lineno}: the answer file cannot carry '{ast.unparse(node)}'")
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    raise ValueError(f"{name}:{node.lineno}: the answer file cannot carry '{ast.unparse(node)}'")
                imported.update({alias.name: f"{name}:{node.lineno}" for alias in node.names})
            elif isinstance(node, ast.FunctionDef):
                functions[node.name] = (node, _source_of(text, node))
            else:
                raise ValueError(f"{name}:{node.lineno}: only imports and functions can be copied into the answer file")
    needed, todo = set(), [n.id for n in ast.walk(ast.parse(MODEL)) if isinstance(n, ast.Name)]
    while todo:
        name = todo.pop()
        if name in imported and name not in functions:
            raise ValueError(f"{imported[name]}: '{name}' is imported from a module that SOURCES does not list")
        if name in functions and name not in needed:
            needed.add(name)
            todo += [n.id for n in ast.walk(functions[name][0]) if isinstance(n, ast.Name)]
    kept = [(node, source) for name, (node, source) in functions.items() if name in needed]
    header = [
        "# KernelBench level 1, problem 90: torch.cumprod(x, dim). Generated from the triton_cumprod",
        "# package by `python -m triton_cumprod.kernelbench --write`; edit the package, not this file.",
    ]
    parts = ["\n".join(header + IMPORTS)]
    parts += [source for node, source in kept if is_kernel(node)]
    parts += [source for node, source in kept if not is_kernel(node)]
    return "\n\n\n".join(parts + [MODEL.rstrip("\n")]) + "\n"


# ---- checker -------------------------------------------------------------------------------

class Rule(NamedTuple):
    """A static rule of KernelBench's harness (kernelbench.kernel_static_checker, which rejects a
    file before it times it), written here from the rules' descriptions: `pattern` must not occur
    in the file's code with its `#` comments removed, strings and docstrings included."""
    name: str
    pattern: str
    message: str


_TORCH_COMPUTE = ["mm", "bmm", "matmul", "einsum", "conv[a-z0-9_]*", "[a-z_]*pool[0-9a-z_]*", "relu", "hardtanh",
                  "elu", "selu", "leaky_relu", "gelu", "softsign", "softplus", "softmax", "log_softmax", "tanh",
                  "sigmoid", "hardsigmoid", "silu", "mish", "[a-z_]*_norm", "normalize", "linear", "cross_entropy",
                  "kl_div", "mse_loss", "huber_loss", "triplet_margin_loss", "cosine_similarity", "logsumexp", "clamp",
                  "dropout", "cumprod", "cumsum", "prod"]
_NN_CONTAINERS = "Module|Parameter|ParameterList|ParameterDict|ModuleList|ModuleDict|init|parameter"
STATIC_RULES = [
    Rule("pass", r"\bpass\b", "'pass' outside a comment (KernelBench reads it as an inheritance bypass)"),
    Rule("try/except", r"\btry\s*:|\bexcept\b", "try/except outside a comment (KernelBench reads it as a fallback)"),
    Rule("torch compute op", r"\btorch\.(?:%s)\s*\(|(?<!tl)\.(?:cumprod|cumsum)_?\s*\(" % "|".join(_TORCH_COMPUTE),
         "a torch compute op on the forward path: the kernels must compute it"),
    Rule("torch.nn layer", r"\b(?:torch\.)?nn\.(?!(?:%s)\b)\w+|\bF\.\w+\s*\(" % _NN_CONTAINERS,
         "a torch.nn compute layer or functional op (only containers, Parameter and init)"),
    Rule("stream", r"\bStream\s*\(|\bstream\s*\(|\.wait_stream\s*\(|\.record_stream\s*\(",
         "a CUDA stream: work moved off the timed stream"),
    Rule("thread", r"\bthreading\b|\bmultiprocessing\b|\bconcurrent\.futures\b|PoolExecutor",
         "threads or processes: work moved off the timed path"),
    Rule("lazy tensor", r"_make_subclass|\bclass\s+\w+\s*\((?:torch\.)?Tensor\)|Tensor\.__new__",
         "a tensor subclass or hand-made tensor (lazy evaluation)"),
    Rule("timing patch", r"\b(?:torch\.cuda\.(?:Event(?:\.\w+)?|synchronize)|time\.(?:perf_counter|time))\s*=(?!=)",
         "a timing function replaced"),
    Rule("precision downgrade",
         r"\.(?:half|float16|bfloat16)\s*\(|\.to\s*\(\s*(?:dtype\s*=\s*)?(?:torch|tl)\.(?:float16|half|bfloat16)\b"
         r"|astype\s*\([^,]+,\s*tl\.(?:float16|bfloat16)\s*\)|__float2half",
         "a cast to a 16-bit float: fp32 computed in lower precision"),
]


def _code_lines(text):
    """`text`'s lines with every `#` comment blanked (by the tokenizer, so a '#' in a string stays)."""
    lines = text.splitlines()
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return lines
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


def static_problems(text):
    """Every (line, message) where `text` breaks a rule of STATIC_RULES, and a missing Triton kernel."""
    problems = []
    lines = _code_lines(text)
    for rule in STATIC_RULES:
        for number, line in enumerate(lines, 1):
            if re.search(rule.pattern, line):
                problems.append((number, f"{rule.name}: {rule.message}"))
    code = "\n".join(lines)
    if not re.search(r"@triton\.(?:jit|autotune)", code) or not re.search(r"\btl\.\w+", code):
        problems.append((1, "no Triton kernel: KernelBench's triton backend needs @triton.jit and tl.* operations"))
    return problems


def _int_constant(node):
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, int) else None


def _program_axes(kernel):
    """(line, axis) for every tl.program_id(k) / tl.num_programs(k) in a kernel."""
    axes = []
    for node in ast.walk(kernel):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("program_id", "num_programs")):
            arg = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "axis"), None)
            axes.append((node.lineno, _int_constant(arg)))
    return axes


def _tuned_names(kernel):
    """Meta-parameters a kernel's @triton.autotune or @triton.heuristics sets, and what its
    autotune configs vary: ('block', 'launch') for BLOCK_* dicts and num_warps/num_stages."""
    names, varies = set(), set()
    for dec in kernel.decorator_list:
        if not isinstance(dec, ast.Call):
            continue
        kind = _decorator_name(dec)
        if kind == "heuristics" and dec.args and isinstance(dec.args[0], ast.Dict):
            names |= {k.value for k in dec.args[0].keys if isinstance(k, ast.Constant)}
        if kind == "autotune":
            for config in ast.walk(dec):
                if isinstance(config, ast.Call) and _decorator_name(config.func) == "Config":
                    if config.args and isinstance(config.args[0], ast.Dict) and config.args[0].keys:
                        names |= {k.value for k in config.args[0].keys if isinstance(k, ast.Constant)}
                        varies.add("block")
                    if any(k.arg in ("num_warps", "num_stages") for k in config.keywords):
                        varies.add("launch")
    return names, varies


def _grid_of(func, launch):
    """The grid expression of `kernel[grid](...)`, following one assignment to a local name."""
    grid = launch.func.slice
    if isinstance(grid, ast.Name):
        name = grid.id
        for node in ast.walk(func):
            if (isinstance(node, ast.Assign) and node.lineno < launch.lineno
                    and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)):
                grid = node.value
    return grid


def _grid_rank(grid):
    body = grid.body if isinstance(grid, ast.Lambda) else grid
    if isinstance(body, ast.Tuple):
        return len(body.elts)
    return None


def check_source(text):
    """Every violation of the prompt's output and launch rules and of STATIC_RULES in `text`, as
    (line, message)."""
    try:
        tree = ast.parse(text)
    except SyntaxError as err:
        return [(err.lineno or 0, f"not valid Python: {err.msg}")]
    problems = static_problems(text)
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    imports = [node for node in body if isinstance(node, (ast.Import, ast.ImportFrom))]
    seen = [ast.unparse(node) for node in imports]
    if seen != IMPORTS:
        line = imports[0].lineno if imports else 1
        problems.append((line, f"imports must be exactly {IMPORTS} in that order, found {seen}"))
    stage_names = ["imports", "@triton.jit kernels", "wrapper functions", "class ModelNew"]
    stage = 0
    kernels = {}
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            now = 0
        elif isinstance(node, ast.FunctionDef) and is_kernel(node):
            now = 1
            kernels[node.name] = node
        elif isinstance(node, ast.FunctionDef):
            now = 2
            if node.name in ("get_inputs", "get_init_inputs"):
                problems.append((node.lineno, f"'{node.name}' is not allowed in the answer"))
        elif isinstance(node, ast.ClassDef) and node.name == "ModelNew":
            now = 3
        elif isinstance(node, ast.If) and "__name__" in ast.unparse(node.test):
            problems.append((node.lineno, "'if __name__' blocks are not allowed in the answer"))
            continue
        else:
            problems.append((node.lineno, f"top-level '{ast.unparse(node).splitlines()[0][:60]}' is not one of {stage_names}"))
            continue
        if now < stage:
            problems.append((node.lineno, f"{stage_names[now]} must come before {stage_names[stage]}"))
        stage = max(stage, now)
    model = next((n for n in body if isinstance(n, ast.ClassDef) and n.name == "ModelNew"), None)
    if model is None:
        problems.append((len(text.splitlines()), "no class ModelNew(nn.Module)"))
    else:
        if not any(ast.unparse(b) == "nn.Module" for b in model.bases):
            problems.append((model.lineno, "ModelNew must subclass nn.Module"))
        methods = {f.name: [a.arg for a in f.args.args] for f in model.body if isinstance(f, ast.FunctionDef)}
        if methods.get("__init__") != ["self", "dim"]:
            problems.append((model.lineno, "ModelNew needs __init__(self, dim)"))
        if methods.get("forward") != ["self", "x"]:
            problems.append((model.lineno, "ModelNew needs forward(self, x)"))
    for name, kernel in kernels.items():
        tuned, varies = _tuned_names(kernel)
        if varies == {"block", "launch"}:
            problems.append((kernel.lineno, f"{name} autotunes both BLOCK_* and (num_warps, num_stages)"))
        kernels[name] = (kernel, tuned)
    for func in ast.walk(tree):
        if not isinstance(func, ast.FunctionDef) or func.name in kernels:
            continue
        for launch in ast.walk(func):
            if not (isinstance(launch, ast.Call) and isinstance(launch.func, ast.Subscript)
                    and isinstance(launch.func.value, ast.Name) and launch.func.value.id in kernels):
                continue
            kernel, tuned = kernels[launch.func.value.id]
            grid = _grid_of(func, launch)
            rank = _grid_rank(grid)
            if rank is None:
                problems.append((launch.lineno, "grid must be a tuple (or a lambda META returning one) of static rank"))
                continue
            if rank > 3:
                problems.append((launch.lineno, f"grid has {rank} dims; at most 3"))
            for line, axis in _program_axes(kernel):
                if axis is None or axis >= rank:
                    problems.append((line, f"{kernel.name} reads program axis {axis} but its grid at line {launch.lineno} has {rank} dims"))
            grid_names = {n.id for n in ast.walk(grid) if isinstance(n, ast.Name)}
            grid_names |= {n.value.value for n in ast.walk(grid) if isinstance(n, ast.Subscript)
                           and isinstance(n.value, ast.Constant)}
            grid_names |= {n.slice.value for n in ast.walk(grid) if isinstance(n, ast.Subscript)
                           and isinstance(n.slice, ast.Constant) and isinstance(n.slice.value, str)}
            if tuned & grid_names and not isinstance(grid, ast.Lambda):
                problems.append((launch.lineno, f"grid depends on tuned {sorted(tuned & grid_names)}: use grid=lambda META: (...)"))
            passed = {k.arg for k in launch.keywords} & tuned
            if passed:
                problems.append((launch.lineno, f"{sorted(passed)} are tuned by the kernel's decorator and passed at launch"))
    return sorted(problems)


# ---- NCU -----------------------------------------------------------------------------------

NCU_METRICS = [
    "sm__throughput.avg.pct_of_peak_sustained_elapsed",
    "launch__grid_size",
    "sm__warps_active.avg.pct_of_peak_sustained_active",
    "dram__throughput.avg.pct_of_peak_sustained_elapsed",
    "lts__t_sector_hit_rate.pct",
]


def load_model(path):
    """Import a KernelBench-style file as a module, as KernelBench does."""
    spec = importlib.util.spec_from_file_location(Path(path).stem.replace("-", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _profiled_run(path, rows, cols):
    """The command ncu profiles: one forward of the file's ModelNew(1) on torch.rand(rows, cols)."""
    import torch

    model = load_model(path).ModelNew(1).cuda()
    x = torch.rand(rows, cols, device="cuda")
    model(x)
    torch.cuda.synchronize()


def ncu_metrics(path, rows, cols):
    """{kernel name: {metric: value}} for the kernels one forward of `path` launches, read by ncu."""
    command = [
        "ncu", "--clock-control", "none", "--csv", "--metrics", ",".join(NCU_METRICS),
        sys.executable, "-m", "triton_cumprod.kernelbench", "--profiled-run", str(path),
        "--shape", str(rows), str(cols),
    ]
    run = subprocess.run(command, capture_output=True, text=True)
    lines = [line for line in run.stdout.splitlines() if line.startswith('"')]
    if run.returncode != 0 or not lines:
        raise RuntimeError(f"ncu failed ({run.returncode}): {(run.stderr or run.stdout)[-2000:]}")
    report = {}
    for row in csv.DictReader(lines):
        name = row["Kernel Name"].split("(")[0]
        value = row["Metric Value"].replace(",", "")
        try:
            value = float(value)
        except ValueError:
            pass
        report.setdefault(name, {})[row["Metric Name"]] = value
    # torch's own kernels (torch.rand's) start with "void at::"; the file's Triton kernels are plain names.
    return {name: {m: metrics.get(m) for m in NCU_METRICS} for name, metrics in report.items()
            if not name.startswith("void ")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write {ANSWER_FILE.relative_to(REPO_DIR)}")
    parser.add_argument("--check", metavar="FILE", help="report the prompt's rule violations in FILE")
    parser.add_argument("--ncu", action="store_true", help="NCU metrics of the seed and the answer, side by side")
    parser.add_argument("--shape", nargs=2, type=int, default=[32768, 32768], metavar=("ROWS", "COLS"))
    parser.add_argument("--profiled-run", metavar="FILE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profiled_run:
        _profiled_run(args.profiled_run, *args.shape)
        return 0
    if args.write:
        ANSWER_FILE.parent.mkdir(exist_ok=True)
        ANSWER_FILE.write_text(render())
        print(f"wrote {ANSWER_FILE}")
    if args.check:
        problems = check_source(Path(args.check).read_text())
        for line, message in problems:
            print(f"{args.check}:{line}: {message}")
        print(f"{args.check}: {len(problems)} violation(s)")
        if problems:
            return 1
    if args.ncu:
        report = {"seed": ncu_metrics(SEED_FILE, *args.shape), "ours": ncu_metrics(ANSWER_FILE, *args.shape)}
        print(json.dumps(report, indent=2))
    if not (args.write or args.check or args.ncu):
        parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The layouts of a random sweep (`bench --sweep N --json FILE`) that two versions of src plan
differently, on the CPU: which figures of a sweep still hold for a later commit.

    python3 benchmarks/plan_diff.py FILE OTHER_SRC [--sms 132 --capability 9.0]

Prints, for each layout whose forward plan under this src differs from that under OTHER_SRC (an
earlier commit's src, made as gpu_check.sh makes .base), both plans and the sweep's ratio.
Layouts read through a turned or copied view are compared as "turned/copied".
"""
import argparse
import json
import os
import subprocess
import sys

SCRIPT = """
import json, sys, torch
from triton_cumprod import bench, forward
from plan_diff import plan_of
sms, major, minor = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
forward.device_traits = lambda device: (sms, (major, minor))
bench.make_input = lambda shape, dtype, kind, device: torch.empty(shape, dtype=getattr(torch, dtype), device="meta")
cases = [bench.SweepCase(tuple(c["shape"]), c["dim"], c["dtype"], c["view"]) for c in json.load(open(sys.argv[1]))["sweep"]]
print(json.dumps([plan_of(bench.sweep_input(case, "meta"), case.dim) for case in cases]))
"""


def plan_of(x, dim):
    """The forward plan cumprod(x, dim) takes, as a list, or ["turned/copied"] where x's dims do not
    merge around `dim` (forward.run_forward)."""
    from triton_cumprod.forward import default_dtype, view_plan
    from triton_cumprod.layout import scan_view

    view = scan_view(x, dim, copy=False)
    return ["turned/copied"] if view is None else list(view_plan(*view, default_dtype(x.dtype)))


def plans_of(src, args):
    here = os.path.dirname(os.path.abspath(__file__))
    run = subprocess.run([sys.executable, "-c", SCRIPT, args.file, str(args.sms), *args.capability.split(".")],
                         capture_output=True, text=True, env={"PYTHONPATH": f"{src}:{here}", "PATH": ""}, check=True)
    return json.loads(run.stdout)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file")
    parser.add_argument("other_src")
    parser.add_argument("--sms", type=int, default=132)
    parser.add_argument("--capability", default="9.0")
    args = parser.parse_args()
    cases = json.load(open(args.file))["sweep"]
    differ = 0
    for case, ours, other in zip(cases, plans_of("src", args), plans_of(args.other_src, args)):
        if ours != other:
            differ += 1
            counted = "counted" if case["copy_ms"] >= 0.05 else "small"
            shape = "x".join(map(str, case["shape"]))
            print(f"{shape} dim {case['dim']} {case['dtype']} {case['view']} ({counted}, ratio {case['ours']:.3f}): "
                  f"{other} -> {ours}")
    print(f"{differ} of {len(cases)} layouts planned differently")


if __name__ == "__main__":
    main()

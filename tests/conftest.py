"""Shared fixtures for the triton_cumprod tests.

Without a GPU the kernels run in Triton's interpreter, which has to be switched on through
TRITON_INTERPRET=1 *before* triton is first imported: this module is imported by pytest before any
test module (and so before triton_cumprod and triton), and decides that with torch alone.
"""
import os

import torch

CUDA = torch.cuda.is_available()
if not CUDA:
    os.environ.setdefault("TRITON_INTERPRET", "1")

import pytest  # noqa: E402
from hypothesis import HealthCheck, settings  # noqa: E402

# One reproducible profile for every property test: the same examples on every run and every
# machine (derandomize, no example database), no per-example deadline (the interpreter is slow and
# its speed varies), and few enough examples to keep the suite within minutes on two cores.
settings.register_profile(
    "triton_cumprod",
    deadline=None,
    derandomize=True,
    database=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("triton_cumprod")


def pytest_configure(config):
    # Triton's interpreter calls .item() on 1-element numpy arrays inside tl.associative_scan with a
    # custom combine function, which numpy >= 2.x flags; that is the interpreter's noise, not ours.
    config.addinivalue_line("filterwarnings", "ignore:Conversion of an array with ndim > 0 to a scalar:DeprecationWarning")
    # The interpreter multiplies with numpy, which warns on inf * 0 and overflow: IEEE results the
    # special-value tests ask for on purpose.
    config.addinivalue_line("filterwarnings", "ignore::RuntimeWarning:triton.runtime.interpreter")


def pytest_collection_modifyitems(config, items):
    """Tests marked `gpu` (large shapes) run only where CUDA is available."""
    if CUDA:
        return
    skip = pytest.mark.skip(reason="gpu test: needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def device():
    """The device the kernels run on: the GPU when there is one, else the CPU under the interpreter."""
    if CUDA:
        return "cuda"
    assert os.environ.get("TRITON_INTERPRET") == "1", (
        "no CUDA device and TRITON_INTERPRET is not '1': the kernels cannot run, every call would fall back to torch"
    )
    return "cpu"


class LaunchCounter:
    """Counts the kernel launches that triton_cumprod.forward makes (each pass of each scan)."""

    def __init__(self):
        self.calls = []

    @property
    def count(self):
        return len(self.calls)

    @property
    def plans(self):
        return [call[8] for call in self.calls]

    def reset(self):
        self.calls.clear()


@pytest.fixture(autouse=True)
def fresh_replays():
    """Each test starts with no remembered launches (replay.py): a launch recorded by one test must
    not stand in for the plan another test forces on the same layout."""
    from triton_cumprod import replay

    replay.forget()


@pytest.fixture
def launches(monkeypatch):
    """Spy on triton_cumprod.forward.launch_scan: tells whether a call reached the Triton kernels or
    went to torch.cumprod, and with which plans. The wrapped launch still runs the kernel."""
    from triton_cumprod import api, forward

    counter = LaunchCounter()
    real = forward.launch_scan

    def spy(*args):
        counter.calls.append(args)
        return real(*args)

    monkeypatch.setattr(forward, "launch_scan", spy)
    # Every call through the launch path, none replayed, so that each call's launches are counted.
    monkeypatch.setattr(api, "replay", lambda *args: None)
    return counter

"""torch.cumprod itself, run by our kernels: an aten override, switched on and off at run time.

    triton_cumprod.enable()        # torch.cumprod, Tensor.cumprod(_), out= on CUDA tensors: ours
    triton_cumprod.disable()       # torch's own kernels again
    with triton_cumprod.enabled(): ...

The override is a torch.library.Library("aten", "IMPL") that registers kernels for aten::cumprod,
aten::cumprod.out and aten::cumprod_ (every cumprod overload torch 2.13 has: the Dimname ones went
with named tensors) at the backend dispatch key (CUDA). It sits below Autograd, so torch's own
derivative formula differentiates overridden calls, and autograd's checks (out= under autograd,
in-place on a leaf) run before it. disable() destroys the Library, which restores the kernels that
were registered before, exactly.
"""
import contextlib
import threading
import warnings

import torch

from . import api

_OVERLOADS = ("cumprod", "cumprod.out", "cumprod_")
_DISPATCH_KEYS = {"cuda": "CUDA", "cpu": "CPU"}

_lock = threading.Lock()
_library = None        # the Library holding the override while enabled, else None
_device_types = None   # the device types it covers while enabled, else None


class _Reentry(threading.local):
    depth = 0


_reentry = _Reentry()


def _normalize(device_types):
    if isinstance(device_types, str):
        device_types = (device_types,)
    types = tuple(sorted({str(t).lower() for t in device_types}))
    unknown = [t for t in types if t not in _DISPATCH_KEYS]
    if not types or unknown:
        raise ValueError(f"device_types must name some of {sorted(_DISPATCH_KEYS)}, got {device_types!r}")
    return types


# How the fallback works. api.cumprod hands every call its kernels do not compute (complex inputs,
# bool and float8 results, every call torch rejects) to torch.cumprod, which under the override
# would come straight back here. So the kernels below ask api.kernel_dtype first, and where it says
# None they call the kernel that was registered at this dispatch key before the override, taken
# with torch.library.get_kernel at enable() time: torch's own kernel (its result, its error) without
# passing through the dispatcher again, so without re-entering the override. That needs no global
# state and so is thread-safe (unlike switching the override off around the call). As a safety net,
# a cumprod reaching the override from inside our own code in the same thread (were api.cumprod
# ever to fall back where kernel_dtype said it would not) goes to torch's kernel too.
#
# The override runs below Autograd, where grad mode is still on and input.requires_grad may be True,
# which would send api.cumprod down its autograd path (the custom op). Autograd is already handled
# above us, so our kernels run under no_grad: kernel_dtype and api.cumprod then take the plain launch
# path, and api.cumprod's out= handling (torch's resize warning, non-contiguous out) is reused as is.

def _ours(keyset, original, args, kwargs, handled, compute):
    if _reentry.depth or not handled():
        return original.call_boxed(keyset, *args, **kwargs)
    _reentry.depth += 1
    try:
        with torch.no_grad():
            return compute()
    finally:
        _reentry.depth -= 1


def _kernels(dispatch_key):
    """The override's kernels for `dispatch_key`, each falling back to the kernel registered there now;
    none for an overload torch has no kernel for there (CUDA in a CPU-only build of torch)."""
    original = {}
    for name in _OVERLOADS:
        if torch._C._dispatch_has_computed_kernel_for_dispatch_key(f"aten::{name}", dispatch_key):
            original[name] = torch.library.get_kernel(f"aten::{name}", dispatch_key)

    def handles(input, dim, dtype, out):
        with torch.no_grad():
            return api.kernel_dtype(input, dim, dtype, out) is not None

    def cumprod(keyset, input, dim, dtype=None):
        return _ours(keyset, original["cumprod"], (input, dim), {"dtype": dtype},
                     lambda: handles(input, dim, dtype, None),
                     lambda: api.cumprod(input, dim, dtype=dtype))

    def cumprod_out(keyset, input, dim, dtype=None, out=None):
        return _ours(keyset, original["cumprod.out"], (input, dim), {"dtype": dtype, "out": out},
                     lambda: handles(input, dim, dtype, out),
                     lambda: api.cumprod(input, dim, dtype=dtype, out=out))

    def cumprod_(keyset, input, dim, dtype=None):
        # In place, torch computes in input's dtype and rejects any other dtype= and an input whose
        # elements share memory: those, and what kernel_dtype declines, go to torch's kernel.
        def handled():
            return ((dtype is None or dtype == input.dtype)
                    and torch._debug_has_internal_overlap(input) != 1
                    and handles(input, dim, input.dtype, None))

        return _ours(keyset, original["cumprod_"], (input, dim), {"dtype": dtype}, handled,
                     lambda: input.copy_(api.cumprod(input, dim, dtype=input.dtype)))

    kernels = {"cumprod": cumprod, "cumprod.out": cumprod_out, "cumprod_": cumprod_}
    return {name: kernels[name] for name in original}


def enable(*, device_types=("cuda",)):
    """Run torch.cumprod, Tensor.cumprod, Tensor.cumprod_ and torch.cumprod(..., out=) on tensors of
    `device_types` by triton_cumprod.cumprod, until disable(). Calls our kernels do not compute go to
    torch's own kernel. Idempotent; a different `device_types` replaces the previous set.
    device_types="cpu" is for tests: CPU tensors reach the kernels only under TRITON_INTERPRET=1."""
    global _library, _device_types
    types = _normalize(device_types)
    if not hasattr(torch.library, "get_kernel"):
        raise RuntimeError(f"triton_cumprod.enable() needs torch.library.get_kernel, which torch {torch.__version__} lacks")
    with _lock:
        if _device_types == types:
            return
        _disable_locked()
        library = torch.library.Library("aten", "IMPL")
        try:
            for device_type in types:
                key = _DISPATCH_KEYS[device_type]
                kernels = _kernels(key)
                # torch warns that a registered kernel is being overridden; here that is the point
                # of the call, so that warning is silenced. (torch gives it once per process, for
                # all operators: after this, a later override elsewhere does not warn either.)
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message=r"(?s).*Overriding a previously registered kernel")
                    for name, kernel in kernels.items():
                        library.impl(name, kernel, key, with_keyset=True)
        except BaseException:
            library._destroy()
            raise
        _library, _device_types = library, types


def _disable_locked():
    global _library, _device_types
    if _library is not None:
        _library._destroy()
    _library, _device_types = None, None


def disable():
    """Give torch.cumprod its own kernels back. Idempotent."""
    with _lock:
        _disable_locked()


@contextlib.contextmanager
def enabled(*, device_types=("cuda",)):
    """enable(device_types=...) for the body of a with statement; on exit, even by an exception, the
    override is as it was before (off, or on for the device types it covered)."""
    with _lock:
        before = _device_types
    enable(device_types=device_types)
    try:
        yield
    finally:
        if before is None:
            disable()
        else:
            enable(device_types=before)

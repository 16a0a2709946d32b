/* Replayed calls in C++ (replay.py). A call whose layout was launched before finds that launch by
 * the same key replay.py builds, allocates its output and launches the compiled kernel again,
 * with no Python in between: on tiny tensors the host's work is the whole cost of a call. The
 * kernel's parameters are packed once, when replay.py remembers a launch; a call writes the input
 * and output pointers into them. Built at first use by torch.utils.cpp_extension (replay.py). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda.h>
#include <torch/csrc/Dtype.h>
#include <torch/csrc/autograd/python_variable.h>

#include <cstdint>
#include <cstring>
#include <unordered_map>
#include <vector>

namespace {

constexpr size_t kMaxLaunches = 4096;  // layouts remembered; past that the memory starts over

// Everything a launch was specialised on (replay.py's _key): the input's device, dtype, shape,
// strides and 16-byte alignment, whether it is a negative view (read through a copy, never
// replayed), and the call's dim, dtype= and options.
struct Key {
  std::vector<int64_t> layout;
  PyObject *dtype;  // dtype= as given: None or a torch.dtype, each a singleton

  bool operator==(const Key &other) const { return dtype == other.dtype && layout == other.layout; }
};

struct KeyHash {
  size_t operator()(const Key &key) const {
    size_t hash = std::hash<const void *>()(key.dtype);
    for (int64_t value : key.layout)
      hash = hash * 1000003u ^ std::hash<int64_t>()(value);
    return hash;
  }
};

struct Launch {
  CUfunction function;
  CUdevice device;
  unsigned grid[3], block, shared;
  int x_slot, y_slots[2];       // the slots the input and output pointers go to
  std::vector<uint64_t> slots;  // every kernel parameter, each in 8 bytes (an int32 in the low 4)
  std::vector<void *> params;
  at::ScalarType out_dtype;
  // The single pass's state, which a call leaves ready for the next one on `home`: other streams
  // and graph captures take replay.py's path, which launches on fresh zeros.
  c10::optional<at::Tensor> state;
  CUstream home;
};

std::unordered_map<Key, Launch, KeyHash> launches;
PyObject *runtime = nullptr;  // triton.knobs.runtime: its launch hooks, which only Triton's path calls

Key key_of(const at::Tensor &x, int64_t dim, PyObject *dtype, bool exclusive, bool reverse) {
  Key key{{x.get_device(), static_cast<int64_t>(x.scalar_type()), dim, exclusive, reverse,
           reinterpret_cast<uintptr_t>(x.data_ptr()) % 16 == 0, x.is_neg(), x.dim()},
          dtype};
  for (int64_t size : x.sizes())
    key.layout.push_back(size);
  for (int64_t stride : x.strides())
    key.layout.push_back(stride);
  return key;
}

PyObject *cuda_error(CUresult code) {
  const char *message = nullptr;
  cuGetErrorString(code, &message);
  PyErr_Format(PyExc_RuntimeError, "CUDA error in a replayed cumprod launch: %s", message ? message : "unknown");
  return nullptr;
}

// Whether a profiler listens to Triton's launches: -1 with an exception set where that cannot be told.
int hooked() {
  for (const char *name : {"launch_enter_hook", "launch_exit_hook"}) {
    PyObject *hook = PyObject_GetAttrString(runtime, name);
    if (!hook)
      return -1;
    PyObject *calls = PyObject_GetAttrString(hook, "calls");
    Py_DECREF(hook);
    if (!calls)
      return -1;
    int listening = PyObject_IsTrue(calls);
    Py_DECREF(calls);
    if (listening != 0)
      return listening;
  }
  return 0;
}

/* replay(input, dim, dtype, exclusive, reverse) -> the output, or None where no launch is
 * remembered for this call or replay.py's path must take it. */
PyObject *replay(PyObject *, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 5 || !THPVariable_Check(args[0]) || !PyLong_Check(args[1])) {
    PyErr_SetString(PyExc_TypeError, "replay(input: Tensor, dim: int, dtype, exclusive: bool, reverse: bool)");
    return nullptr;
  }
  if (launches.empty())
    Py_RETURN_NONE;
  const at::Tensor &x = THPVariable_Unpack(args[0]);
  int64_t dim = PyLong_AsLongLong(args[1]);
  if (dim == -1 && PyErr_Occurred())
    return nullptr;
  auto found = launches.find(key_of(x, dim, args[2], args[3] == Py_True, args[4] == Py_True));
  if (found == launches.end())
    Py_RETURN_NONE;
  Launch &launch = found->second;
  int listening = hooked();
  if (listening != 0)
    return listening < 0 ? nullptr : Py_NewRef(Py_None);
  CUstream stream = c10::cuda::getCurrentCUDAStream(x.get_device()).stream();
  if (launch.state) {
    CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
    CUresult status = cuStreamIsCapturing(stream, &capture);
    if (status != CUDA_SUCCESS)
      return cuda_error(status);
    if (stream != launch.home || capture != CU_STREAM_CAPTURE_STATUS_NONE)
      Py_RETURN_NONE;
  }
  CUcontext context = nullptr;
  cuCtxGetCurrent(&context);
  if (!context) {
    // A thread that has not used CUDA yet: the device's primary context, as Triton's launcher does.
    CUresult status = cuDevicePrimaryCtxRetain(&context, launch.device);
    if (status == CUDA_SUCCESS)
      status = cuCtxSetCurrent(context);
    if (status != CUDA_SUCCESS)
      return cuda_error(status);
  }
  at::Tensor y;
  try {
    y = at::empty(x.sizes(), x.options().dtype(launch.out_dtype));
  } catch (const std::exception &error) {
    PyErr_SetString(PyExc_RuntimeError, error.what());
    return nullptr;
  }
  launch.slots[launch.x_slot] = reinterpret_cast<uintptr_t>(x.data_ptr());
  launch.slots[launch.y_slots[0]] = launch.slots[launch.y_slots[1]] = reinterpret_cast<uintptr_t>(y.data_ptr());
  CUresult status = cuLaunchKernel(launch.function, launch.grid[0], launch.grid[1], launch.grid[2], launch.block, 1, 1,
                                   launch.shared, stream, launch.params.data(), nullptr);
  if (status != CUDA_SUCCESS)
    return cuda_error(status);
  return THPVariable_Wrap(std::move(y));
}

/* remember(input, dim, dtype, exclusive, reverse, function, grid_x, grid_y, grid_z, block, shared,
 *          slots: bytes, x_slot, y_slot, third_slot, out_dtype, state: Tensor | None, home_stream,
 *          runtime): the launch replay(input, dim, dtype, exclusive, reverse) makes from now on.
 * The output goes to y_slot and third_slot (the output's own slot again where a state is packed). */
PyObject *remember(PyObject *, PyObject *args) {
  PyObject *input, *dtype, *out_dtype, *state, *knobs_runtime;
  long long dim;
  int exclusive, reverse, x_slot, y_slot, third_slot;
  unsigned long long function, home;
  unsigned grid[3], block, shared;
  const char *bytes;
  Py_ssize_t size;
  if (!PyArg_ParseTuple(args, "OLOppKIIIIIy#iiiOOKO", &input, &dim, &dtype, &exclusive, &reverse, &function, &grid[0],
                        &grid[1], &grid[2], &block, &shared, &bytes, &size, &x_slot, &y_slot, &third_slot, &out_dtype,
                        &state, &home, &knobs_runtime))
    return nullptr;
  int n = static_cast<int>(size / 8);
  if (!THPVariable_Check(input) || !THPDtype_Check(out_dtype) || (state != Py_None && !THPVariable_Check(state)) || size % 8 != 0 ||
      x_slot < 0 || x_slot >= n || y_slot < 0 || y_slot >= n || third_slot < 0 || third_slot >= n) {
    PyErr_SetString(PyExc_ValueError, "remember: bad arguments or parameter slots out of range");
    return nullptr;
  }
  Launch launch;
  CUresult status = cuCtxGetDevice(&launch.device);
  if (status != CUDA_SUCCESS)
    return cuda_error(status);
  launch.function = reinterpret_cast<CUfunction>(static_cast<uintptr_t>(function));
  std::memcpy(launch.grid, grid, sizeof(grid));
  launch.block = block;
  launch.shared = shared;
  launch.x_slot = x_slot;
  launch.y_slots[0] = y_slot;
  launch.y_slots[1] = third_slot;
  launch.slots.resize(n);
  std::memcpy(launch.slots.data(), bytes, size);
  for (uint64_t &slot : launch.slots)
    launch.params.push_back(&slot);
  launch.out_dtype = reinterpret_cast<THPDtype *>(out_dtype)->scalar_type;
  if (state != Py_None)
    launch.state = THPVariable_Unpack(state);
  launch.home = reinterpret_cast<CUstream>(static_cast<uintptr_t>(home));
  if (launches.size() >= kMaxLaunches)
    launches.clear();
  Key key = key_of(THPVariable_Unpack(input), dim, dtype, exclusive, reverse);
  launches.insert_or_assign(std::move(key), std::move(launch));  // params point into slots, whose buffer moves along
  Py_XSETREF(runtime, Py_NewRef(knobs_runtime));
  Py_RETURN_NONE;
}

/* forget(): every remembered launch dropped. */
PyObject *forget(PyObject *, PyObject *) {
  launches.clear();
  Py_RETURN_NONE;
}

PyMethodDef methods[] = {
    {"replay", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(replay)), METH_FASTCALL,
     "The output of a call by the launch remembered for its key, or None."},
    {"remember", remember, METH_VARARGS, "Remember a packed launch for a call's key."},
    {"forget", forget, METH_NOARGS, "Drop every remembered launch."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module = {PyModuleDef_HEAD_INIT, "triton_cumprod_replay", nullptr, -1, methods};

}  // namespace

PyMODINIT_FUNC PyInit_triton_cumprod_replay(void) { return PyModule_Create(&module); }

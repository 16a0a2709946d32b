/* The replayed launch of a compiled kernel (replay.py). Triton's own launcher parses every argument
 * of the kernel on each call; here the parameter block is packed once, when a launch is
 * remembered, and a call writes the input and output pointers into it and launches. Built by
 * Triton's module builder, against the cuda.h Triton ships. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <cuda.h>
#include <stdint.h>
#include <string.h>

#define MAX_PARAMS 64

typedef struct {
  CUfunction function;
  CUdevice device;
  unsigned grid[3], block, shared;
  int x_slot, y_slots[2];     /* the slots the input and output pointers go to */
  uint64_t slots[MAX_PARAMS]; /* every kernel parameter, each in 8 bytes (an int32 in the low 4) */
  void *params[MAX_PARAMS];
} Launch;

static void destroy(PyObject *capsule) { PyMem_Free(PyCapsule_GetPointer(capsule, "launch")); }

static PyObject *cuda_error(CUresult code) {
  const char *message = NULL;
  cuGetErrorString(code, &message);
  PyErr_Format(PyExc_RuntimeError, "CUDA error in a replayed cumprod launch: %s", message ? message : "unknown");
  return NULL;
}

/* make(function, grid_x, grid_y, grid_z, block, shared, slots: bytes, x_slot, y_slot, prefix_slot)
 * -> a capsule holding the launch. */
static PyObject *make(PyObject *self, PyObject *args) {
  unsigned long long function;
  unsigned grid[3], block, shared;
  const char *bytes;
  Py_ssize_t size;
  int x_slot, y_slot, prefix_slot;
  if (!PyArg_ParseTuple(args, "KIIIIIy#iii", &function, &grid[0], &grid[1], &grid[2], &block, &shared, &bytes, &size,
                        &x_slot, &y_slot, &prefix_slot))
    return NULL;
  int n = (int)(size / 8);
  if (size % 8 != 0 || n > MAX_PARAMS || x_slot < 0 || x_slot >= n || y_slot < 0 || y_slot >= n || prefix_slot < 0 ||
      prefix_slot >= n) {
    PyErr_SetString(PyExc_ValueError, "parameter slots out of range");
    return NULL;
  }
  Launch *launch = PyMem_Calloc(1, sizeof(Launch));
  if (!launch)
    return PyErr_NoMemory();
  CUresult status = cuCtxGetDevice(&launch->device);
  if (status != CUDA_SUCCESS) {
    PyMem_Free(launch);
    return cuda_error(status);
  }
  launch->function = (CUfunction)(uintptr_t)function;
  memcpy(launch->grid, grid, sizeof(grid));
  launch->block = block;
  launch->shared = shared;
  launch->x_slot = x_slot;
  launch->y_slots[0] = y_slot;
  launch->y_slots[1] = prefix_slot;
  memcpy(launch->slots, bytes, size);
  for (int i = 0; i < n; ++i)
    launch->params[i] = &launch->slots[i];
  PyObject *capsule = PyCapsule_New(launch, "launch", destroy);
  if (!capsule)
    PyMem_Free(launch);
  return capsule;
}

/* launch(capsule, stream, x, y): the kernel on x and y (device addresses) on `stream`. */
static PyObject *launch(PyObject *self, PyObject *args) {
  PyObject *capsule;
  unsigned long long stream, x, y;
  if (!PyArg_ParseTuple(args, "OKKK", &capsule, &stream, &x, &y))
    return NULL;
  Launch *packed = PyCapsule_GetPointer(capsule, "launch");
  if (!packed)
    return NULL;
  CUcontext context = NULL;
  cuCtxGetCurrent(&context);
  if (!context) {
    /* A thread that has not used CUDA yet: the device's primary context, as Triton's launcher does. */
    CUresult status = cuDevicePrimaryCtxRetain(&context, packed->device);
    if (status == CUDA_SUCCESS)
      status = cuCtxSetCurrent(context);
    if (status != CUDA_SUCCESS)
      return cuda_error(status);
  }
  packed->slots[packed->x_slot] = x;
  packed->slots[packed->y_slots[0]] = y;
  packed->slots[packed->y_slots[1]] = y;
  CUresult status = cuLaunchKernel(packed->function, packed->grid[0], packed->grid[1], packed->grid[2], packed->block,
                                   1, 1, packed->shared, (CUstream)(uintptr_t)stream, packed->params, NULL);
  if (status != CUDA_SUCCESS)
    return cuda_error(status);
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"make", make, METH_VARARGS, "Pack a kernel's launch: function, grid, block, shared bytes, parameter slots."},
    {"launch", launch, METH_VARARGS, "Launch a packed kernel on a stream with the input and output pointers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "cumprod_launch", NULL, -1, methods};

PyMODINIT_FUNC PyInit_cumprod_launch(void) { return PyModule_Create(&module); }

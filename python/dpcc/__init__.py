"""dpcc for Python: compile ONNX models for the simulated analog optical accelerator and run
them, through ctypes over libdpcc.so and libdprt.so (the C API of docs/api.md), with NumPy
arrays in and out.

    import dpcc
    res = dpcc.compile("model.onnx", "model.dp", calib=x_calib, schedule="fixed:8")
    print(res.layers, res.report["total_energy_j"])
    y, = dpcc.Model("model.dp").run([x], ideal=True)

The libraries are looked for in $DPCC_LIB_DIR, then in a build tree beside this package
(build*/ of the source tree), then in lib/ of an installed prefix above it, then on the
system's library path. Needs NumPy (Debian's python3-numpy: run with /usr/bin/python3).
"""
import ctypes
import ctypes.util
import glob
import json
import os
import tempfile
import warnings

import numpy as np

__all__ = ["DpccError", "DpccWarning", "CompileResult", "Model", "compile", "version"]

# ONNX element type numbers (dpcc_dtype) and NumPy's; bfloat16 has no NumPy type.
_DTYPES = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32,
           7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64, 12: np.uint32,
           13: np.uint64}
_CODES = {np.dtype(t): k for k, t in _DTYPES.items()}
_MAX_RANK = 8
_STATUS = {1: "usage", 2: "bad input", 3: "unsupported", 4: "budget", 5: "mismatch",
           6: "out of memory", 7: "I/O", 8: "internal"}


class DpccError(RuntimeError):
    """A failed call: status is the dpcc_status (the tools' exit status), message the text."""

    def __init__(self, status, message):
        super().__init__("%s (%s error, status %d)" % (message, _STATUS.get(status, "?"), status))
        self.status = status
        self.message = message


class _Tensor(ctypes.Structure):
    _fields_ = [("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * _MAX_RANK), ("data", ctypes.c_void_p)]


class _IoInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int), ("rank", ctypes.c_int),
                ("dims", ctypes.c_int64 * _MAX_RANK)]


class _LayerInfo(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char_p), ("op", ctypes.c_char_p),
                ("repetitions", ctypes.c_int32), ("effective_bits", ctypes.c_double),
                ("macs", ctypes.c_int64), ("energy_j", ctypes.c_double)]


class _RunOptions(ctypes.Structure):
    _fields_ = [("ideal", ctypes.c_int), ("seed", ctypes.c_uint32)]


class _SessionOptions(ctypes.Structure):
    _fields_ = [("threads", ctypes.c_int), ("max_memory", ctypes.c_size_t)]


def _lib_dirs():
    env = os.environ.get("DPCC_LIB_DIR")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))  # the source tree, or the install prefix
    builds = sorted(glob.glob(os.path.join(root, "build*")),
                    key=lambda d: os.path.getmtime(os.path.join(d, "libdpcc.so"))
                    if os.path.exists(os.path.join(d, "libdpcc.so")) else 0, reverse=True)
    prefix_libs = glob.glob(os.path.join(root, "lib*")) + glob.glob(os.path.join(root, "lib", "*"))
    # python/dpcc installed as PREFIX/lib/pythonX/site-packages/dpcc: the prefix is higher up,
    # its libraries in lib/ or lib/ARCH
    prefix = os.path.join(here, "..", "..", "..", "..")
    prefix_libs += glob.glob(os.path.join(prefix, "lib*")) + glob.glob(os.path.join(prefix, "lib", "*"))
    return builds + prefix_libs


def _load():
    for d in _lib_dirs():
        dpcc_so, dprt_so = os.path.join(d, "libdpcc.so"), os.path.join(d, "libdprt.so")
        if os.path.exists(dpcc_so) and os.path.exists(dprt_so):
            return ctypes.CDLL(dpcc_so), ctypes.CDLL(dprt_so)
    names = ctypes.util.find_library("dpcc"), ctypes.util.find_library("dprt")
    if all(names):
        return ctypes.CDLL(names[0]), ctypes.CDLL(names[1])
    raise ImportError("dpcc: libdpcc.so and libdprt.so not found: set DPCC_LIB_DIR to the "
                      "build folder or an installed lib/ folder")


def _declare(lib, name, restype, *argtypes):
    f = getattr(lib, name)
    f.restype = restype
    f.argtypes = list(argtypes)


_c, _rt = _load()
_P, _I, _S = ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p
_PROGRESS = ctypes.CFUNCTYPE(None, _P, _S, ctypes.c_double)
for _n, _r, _a in [
        ("dpcc_version", _S, []), ("dpcc_compiler_new", _I, [ctypes.POINTER(_P)]),
        ("dpcc_compiler_free", None, [_P]), ("dpcc_compiler_error", _S, [_P]),
        ("dpcc_set_device", _I, [_P, _S]), ("dpcc_set_analog", _I, [_P, _I]),
        ("dpcc_set_calibration_path", _I, [_P, _S]),
        ("dpcc_set_calibration", _I, [_P, ctypes.POINTER(_Tensor), _I]),
        ("dpcc_set_labels_path", _I, [_P, _S]),
        ("dpcc_set_budget", _I, [_P, _S, ctypes.c_double]), ("dpcc_set_schedule", _I, [_P, _S]),
        ("dpcc_set_seed", _I, [_P, ctypes.c_uint32]), ("dpcc_set_seeds", _I, [_P, _I]),
        ("dpcc_set_threads", _I, [_P, _I]), ("dpcc_set_progress", _I, [_P, _PROGRESS, _P]),
        ("dpcc_set_input_shape", _I, [_P, _S, _I, ctypes.POINTER(ctypes.c_int64)]),
        ("dpcc_compile_file", _I, [_P, _S]),
        ("dpcc_compile_buffer", _I, [_P, ctypes.c_char_p, ctypes.c_size_t, _S]),
        ("dpcc_num_layers", _I, [_P]), ("dpcc_layer", _I, [_P, _I, ctypes.POINTER(_LayerInfo)]),
        ("dpcc_report_json", _S, [_P]),
        ("dpcc_program", _I, [_P, ctypes.POINTER(_P), ctypes.POINTER(ctypes.c_size_t)]),
        ("dpcc_write_dp", _I, [_P, _S]), ("dpcc_write_c", _I, [_P, _S, _S])]:
    _declare(_c, _n, _r, *_a)
for _n, _r, _a in [
        ("dprt_version", _S, []), ("dprt_model_new", _I, [ctypes.POINTER(_P)]),
        ("dprt_model_free", None, [_P]), ("dprt_model_error", _S, [_P]),
        ("dprt_model_load_file", _I, [_P, _S]),
        ("dprt_model_load_buffer", _I, [_P, ctypes.c_char_p, ctypes.c_size_t]),
        ("dprt_model_num_inputs", _I, [_P]), ("dprt_model_num_outputs", _I, [_P]),
        ("dprt_model_input", _I, [_P, _I, ctypes.POINTER(_IoInfo)]),
        ("dprt_model_output", _I, [_P, _I, ctypes.POINTER(_IoInfo)]),
        ("dprt_model_num_analog_layers", _I, [_P]),
        ("dprt_session_new", _I, [_P, ctypes.POINTER(_SessionOptions), ctypes.POINTER(_P)]),
        ("dprt_session_free", None, [_P]), ("dprt_session_error", _S, [_P]),
        ("dprt_session_run", _I, [_P, ctypes.POINTER(_Tensor), _I, ctypes.POINTER(_RunOptions)]),
        ("dprt_session_output", _I, [_P, _I, ctypes.POINTER(_Tensor)])]:
    _declare(_rt, _n, _r, *_a)


def version():
    """The libraries' version, e.g. '0.1.0'."""
    return _c.dpcc_version().decode()


def _check(status, error_fn, handle):
    if status != 0:
        raise DpccError(status, error_fn(handle).decode(errors="replace"))


def _path(p):
    return os.fsencode(p) if p is not None else None


def _as_tensor(a):
    """A contiguous array and the _Tensor viewing it (keep the array alive while in use)."""
    a = np.ascontiguousarray(a)
    if a.dtype not in _CODES:
        raise TypeError("dpcc: dtype %s is not supported" % a.dtype)
    if a.ndim > _MAX_RANK:
        raise ValueError("dpcc: rank %d is above %d" % (a.ndim, _MAX_RANK))
    t = _Tensor(_CODES[a.dtype], a.ndim)
    for i, d in enumerate(a.shape):
        t.dims[i] = d
    t.data = a.ctypes.data
    return a, t


def _to_array(t):
    if t.dtype not in _DTYPES:
        raise DpccError(3, "output dtype %d has no NumPy type" % t.dtype)
    shape = tuple(t.dims[i] for i in range(t.rank))
    dtype = np.dtype(_DTYPES[t.dtype])
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if n == 0 or not t.data:
        return np.zeros(shape, dtype)
    buf = (ctypes.c_char * (n * dtype.itemsize)).from_address(t.data)
    return np.frombuffer(buf, dtype=dtype).reshape(shape).copy()


class CompileResult:
    """What a compilation produced: layers (the schedule, one dict per analog layer), report
    (docs/report.md as a dict, or None without the analog stage) and program (the .dp bytes)."""

    def __init__(self, layers, report, program):
        self.layers = layers
        self.report = report
        self.program = program

    def __repr__(self):
        return "CompileResult(%d analog layers, %d program bytes, report %s)" % (
            len(self.layers), len(self.program), "yes" if self.report else "no")


def compile(model, out=None, *, device=None, calib=None, labels=None, budget=None,
            schedule=None, seed=None, seeds=None, threads=None, analog=True,
            input_shapes=None, base_dir=None, emit=None, prefix=None, progress=None):
    """Compiles an ONNX model, as dpcc does.

    model: a path, an onnx.ModelProto, or the model's bytes (external data then resolves in
    base_dir, or is refused). out: where to write the program (None: only in memory); a .c
    suffix, or emit="c", writes C (prefix: its entry points' prefix). device: a shipped
    profile's name ("paper_shot") or a profile's path. calib: a path (file or folder), an
    array, or a list of arrays (one batch per graph input); float64 arrays are cast to
    float32, as NumPy makes them by default. labels: a path or an array of class indices.
    budget: "top1=0.01" or ("top1", 0.01). schedule: "dynamic", "uniform" or "fixed:N".
    analog=False is --no-analog. input_shapes: {name: shape}. progress: called as
    progress(stage, done) while the analog stage runs (done from 0 to 1). Returns a
    CompileResult; raises
    DpccError. What the dpcc tool prints as warnings (a budget out of reach, too little or
    synthetic calibration data) is raised as Python warnings (DpccWarning).
    """
    h = _P()
    if _c.dpcc_compiler_new(ctypes.byref(h)) != 0:
        raise MemoryError("dpcc: out of memory")
    keep = []
    scratch = tempfile.TemporaryDirectory(prefix="dpcc-")
    try:
        def ok(status):
            _check(status, _c.dpcc_compiler_error, h)

        if device is not None:
            ok(_c.dpcc_set_device(h, _path(device)))
        ok(_c.dpcc_set_analog(h, 1 if analog else 0))
        if isinstance(calib, (str, bytes, os.PathLike)):
            ok(_c.dpcc_set_calibration_path(h, _path(calib)))
        elif calib is not None:
            batches = list(calib) if isinstance(calib, (list, tuple)) else [calib]
            tensors = (_Tensor * len(batches))()
            for i, b in enumerate(batches):
                b = np.asarray(b)
                a, tensors[i] = _as_tensor(b.astype(np.float32) if b.dtype == np.float64 else b)
                keep.append(a)
            ok(_c.dpcc_set_calibration(h, tensors, len(batches)))
        if isinstance(labels, (str, bytes, os.PathLike)):
            ok(_c.dpcc_set_labels_path(h, _path(labels)))
        elif labels is not None:
            # the C API reads labels from a file: the array goes through one
            path = os.path.join(scratch.name, "labels.npy")
            np.save(path, np.asarray(labels, dtype=np.int64))
            ok(_c.dpcc_set_labels_path(h, _path(path)))
        if budget is not None:
            metric, value = budget.split("=", 1) if isinstance(budget, str) else budget
            ok(_c.dpcc_set_budget(h, metric.encode(), float(value)))
        if schedule is not None:
            ok(_c.dpcc_set_schedule(h, schedule.encode()))
        if seed is not None:
            ok(_c.dpcc_set_seed(h, seed))
        if seeds is not None:
            ok(_c.dpcc_set_seeds(h, seeds))
        if threads is not None:
            ok(_c.dpcc_set_threads(h, threads))
        if progress is not None:
            callback = _PROGRESS(lambda _ctx, stage, done: progress(stage.decode(), done))
            keep.append(callback)
            ok(_c.dpcc_set_progress(h, callback, None))
        for name, shape in (input_shapes or {}).items():
            dims = (ctypes.c_int64 * max(len(shape), 1))(*shape)
            ok(_c.dpcc_set_input_shape(h, name.encode(), len(shape), dims))
        if hasattr(model, "SerializeToString"):  # an onnx.ModelProto
            model = model.SerializeToString()
        if isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
            ok(_c.dpcc_compile_buffer(h, data, len(data), _path(base_dir)))
        else:
            ok(_c.dpcc_compile_file(h, _path(model)))

        layers = []
        for i in range(_c.dpcc_num_layers(h)):
            L = _LayerInfo()
            ok(_c.dpcc_layer(h, i, ctypes.byref(L)))
            layers.append({"name": L.name.decode(), "op": L.op.decode(),
                           "repetitions": L.repetitions, "effective_bits": L.effective_bits,
                           "macs": L.macs, "energy_j": L.energy_j})
        text = _c.dpcc_report_json(h)
        report = json.loads(text.decode()) if text else None
        ptr, n = _P(), ctypes.c_size_t()
        ok(_c.dpcc_program(h, ctypes.byref(ptr), ctypes.byref(n)))
        program = ctypes.string_at(ptr, n.value)
        if out is not None:
            as_c = emit == "c" or (emit is None and os.fspath(out).endswith(".c"))
            if as_c:
                ok(_c.dpcc_write_c(h, _path(out), prefix.encode() if prefix else None))
            else:
                ok(_c.dpcc_write_dp(h, _path(out)))
        _warn_from(report)
        return CompileResult(layers, report, program)
    finally:
        _c.dpcc_compiler_free(h)
        scratch.cleanup()


class DpccWarning(UserWarning):
    """What the dpcc tool prints as a warning: the schedule or its calibration data fall short."""


def _warn_from(report):
    """The report's warnings as Python warnings, where a library call cannot print them."""
    if not report:
        return
    deg, cal = report.get("degradation", {}), report.get("calibration", {})
    if deg.get("met") is False:
        warnings.warn("dpcc: %s: %s = %.4g measured against a budget of %g"
                      % (deg.get("warning"), deg.get("metric"), deg.get("measured"),
                         deg.get("budget")), DpccWarning, stacklevel=3)
    if deg.get("sampling_margin") is False:
        warnings.warn("dpcc: the schedule meets the budget on the calibration data, but not "
                      "with a margin for their sampling error: give more calibration data",
                      DpccWarning, stacklevel=3)
    if cal.get("warning"):
        warnings.warn("dpcc: " + cal["warning"], DpccWarning, stacklevel=3)


class Model:
    """A loaded device program: Model(path) or Model(data=program_bytes). inputs and outputs
    list (name, dtype, shape) with None in shape for a dimension known only at run time."""

    def __init__(self, path=None, *, data=None, threads=0):
        self._h = _P()
        self._session = None
        self._threads = threads
        if (path is None) == (data is None):
            raise ValueError("dpcc.Model: give a path or data, not both")
        if _rt.dprt_model_new(ctypes.byref(self._h)) != 0:
            raise MemoryError("dpcc: out of memory")
        if path is not None:
            st = _rt.dprt_model_load_file(self._h, _path(path))
        else:
            data = bytes(data)
            st = _rt.dprt_model_load_buffer(self._h, data, len(data))
        if st != 0:
            msg = _rt.dprt_model_error(self._h).decode(errors="replace")
            self.close()
            raise DpccError(st, msg)
        self.inputs = [self._io(i, False) for i in range(_rt.dprt_model_num_inputs(self._h))]
        self.outputs = [self._io(i, True) for i in range(_rt.dprt_model_num_outputs(self._h))]
        self.analog_layers = _rt.dprt_model_num_analog_layers(self._h)

    def _io(self, i, output):
        info = _IoInfo()
        f = _rt.dprt_model_output if output else _rt.dprt_model_input
        _check(f(self._h, i, ctypes.byref(info)), _rt.dprt_model_error, self._h)
        dtype = np.dtype(_DTYPES[info.dtype]) if info.dtype in _DTYPES else None
        shape = tuple(info.dims[d] for d in range(info.rank)) if info.rank >= 0 else None
        return info.name.decode(), dtype, shape

    def run(self, inputs, seed=None, ideal=False):
        """Runs the program: inputs as a list in graph input order, a {name: array} dict, or
        one array. Noisy (one device instance per seed; None: seed 0) unless ideal. A leading
        dimension k times the compiled one runs k inferences. Returns the outputs as a list of
        arrays (copies)."""
        if self._session is None:
            s = _P()
            opts = _SessionOptions(self._threads, 0)
            st = _rt.dprt_session_new(self._h, ctypes.byref(opts), ctypes.byref(s))
            _check(st, _rt.dprt_model_error, self._h)
            self._session = s
        if isinstance(inputs, dict):
            missing = [n for n, _, _ in self.inputs if n not in inputs]
            if missing:
                raise ValueError("dpcc: no value for input(s) %s" % ", ".join(missing))
            inputs = [inputs[n] for n, _, _ in self.inputs]
        elif isinstance(inputs, np.ndarray):
            inputs = [inputs]
        arrays, tensors = [], (_Tensor * max(len(inputs), 1))()
        for i, x in enumerate(inputs):
            want = self.inputs[i][1] if i < len(self.inputs) else None
            a, tensors[i] = _as_tensor(np.asarray(x, dtype=want))
            arrays.append(a)
        opts = _RunOptions(1 if ideal else 0, seed or 0)
        st = _rt.dprt_session_run(self._session, tensors, len(inputs), ctypes.byref(opts))
        _check(st, _rt.dprt_session_error, self._session)
        outs = []
        for i in range(len(self.outputs)):
            t = _Tensor()
            _check(_rt.dprt_session_output(self._session, i, ctypes.byref(t)),
                   _rt.dprt_session_error, self._session)
            outs.append(_to_array(t))
        return outs

    def close(self):
        if _rt is None:  # interpreter shutdown: the library is gone already
            return
        if self._session:
            _rt.dprt_session_free(self._session)
            self._session = None
        if self._h:
            _rt.dprt_model_free(self._h)
            self._h = _P()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


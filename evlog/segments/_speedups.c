/* evlog's write path, compiled: the writer's append hot path (`LogWriter.model_appender`)
 * and the block encoder's per-record columns (`block._mono_column`, `block._lengths_column`,
 * `block._lay_chunks`).
 *
 * Optional: when this extension is not built (no C compiler), the Python code of the same
 * names and logic runs instead (evlog/segments/writer.py, block.py). The two are kept equal:
 * tests/segments/test_seg_speedups.py runs the same inputs through both.
 *
 * The appender:
 * What it does, for a call `append(name, model, source)` (two or three positional
 * arguments) where the model's class is in `models` and the name and source have writer
 * ids: the model's own `__pydantic_serializer__.to_json`, then, under the writer's lock,
 * one read of CLOCK_MONOTONIC (the clock of Python's time.monotonic_ns), seven fields added
 * to the block buffer and the offset counters updated in the writer's instance dict (the
 * same attributes the Python code of the writer reads and writes, under the same lock).
 * Every other call goes to `slow` (the Python closure) or `append_encoded`, unchanged.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <time.h>

typedef struct {
    PyObject_HEAD
    PyObject *writer;        /* the LogWriter */
    PyObject *wdict;         /* its instance __dict__: _accepting, _rows, _rows_bytes, ... */
    PyObject *slow;          /* the Python closure: every call this path does not take */
    PyObject *ids;           /* dict: checked name or source -> writer id */
    PyObject *models;        /* set of pydantic model classes seen before */
    PyObject *acquire;       /* the writer lock's bound acquire / release */
    PyObject *release;
    PyObject *flag_model;    /* int FLAG_MODEL */
    PyObject *empty;         /* b"" */
    long long mono_base;
    Py_ssize_t max_bytes;
    Py_ssize_t flat_max;
    Py_ssize_t fast_max;
    Py_ssize_t overhead;     /* _ROW_OVERHEAD */
    PyObject *dict;          /* __dict__ of this object (for __doc__, __name__) */
    vectorcallfunc vectorcall;
} Appender;

static PyObject *s_accepting, *s_rows, *s_rows_bytes, *s_next_offset, *s_last_mono;
static PyObject *s_serializer, *s_to_json, *s_start, *s_seal, *s_wait, *s_append_encoded;

static int
get_ll(PyObject *d, PyObject *key, long long *out)
{
    PyObject *v = PyDict_GetItemWithError(d, key);   /* borrowed */
    if (v == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_AttributeError, key);
        return -1;
    }
    *out = PyLong_AsLongLong(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
set_ll(PyObject *d, PyObject *key, long long value)
{
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return rc;
}

static int
call_method0(PyObject *obj, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(obj, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

/* Under the lock: add the row and update the counters. Returns the offset (new ref),
 * Py_None (new ref) when the writer is not accepting or the name or source has no id yet,
 * NULL on error. */
static PyObject *
append_locked(Appender *self, PyObject *name, PyObject *source, PyObject *raw)
{
    PyObject *d = self->wdict;
    PyObject *accepting = PyDict_GetItemWithError(d, s_accepting);
    if (accepting == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetObject(PyExc_AttributeError, s_accepting);
        return NULL;
    }
    int ok = PyObject_IsTrue(accepting);
    if (ok < 0)
        return NULL;
    if (!ok)
        Py_RETURN_NONE;
    PyObject *name_id = PyDict_GetItemWithError(self->ids, name);   /* borrowed */
    if (name_id == NULL) {
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return NULL;
            PyErr_Clear();   /* not hashable: append_encoded reports it */
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(name_id);   /* a str subclass's __eq__ could change the dict below */
    PyObject *source_id = PyDict_GetItemWithError(self->ids, source);
    if (source_id == NULL) {
        Py_DECREF(name_id);
        if (PyErr_Occurred()) {
            if (!PyErr_ExceptionMatches(PyExc_TypeError))
                return NULL;
            PyErr_Clear();
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(source_id);

    PyObject *result = NULL, *mono_obj = NULL;
    struct timespec ts;
    long long last_mono, rows_bytes, offset;
    if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        goto done;
    }
    long long mono = (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec - self->mono_base;
    if (get_ll(d, s_last_mono, &last_mono) < 0)
        goto done;
    if (mono < last_mono)
        mono = last_mono;
    mono_obj = PyLong_FromLongLong(mono);
    if (mono_obj == NULL || PyDict_SetItem(d, s_last_mono, mono_obj) < 0)
        goto done;
    PyObject *rows = PyDict_GetItemWithError(d, s_rows);
    if (rows == NULL || !PyList_CheckExact(rows)) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "the writer's block buffer is not a list");
        goto done;
    }
    Py_INCREF(rows);
    if (PyList_GET_SIZE(rows) == 0 && call_method0(self->writer, s_start) < 0) {
        Py_DECREF(rows);
        goto done;
    }
    if (PyList_Append(rows, name_id) < 0 || PyList_Append(rows, source_id) < 0
            || PyList_Append(rows, self->flag_model) < 0 || PyList_Append(rows, Py_None) < 0
            || PyList_Append(rows, mono_obj) < 0 || PyList_Append(rows, raw) < 0
            || PyList_Append(rows, self->empty) < 0) {
        /* only a failed allocation gets here: drop the partial row so the buffer stays whole */
        Py_ssize_t n = PyList_GET_SIZE(rows);
        PyList_SetSlice(rows, n - n % 7, n, NULL);
        Py_DECREF(rows);
        goto done;
    }
    Py_ssize_t n_fields = PyList_GET_SIZE(rows);
    Py_DECREF(rows);
    if (get_ll(d, s_rows_bytes, &rows_bytes) < 0)
        goto done;
    rows_bytes += PyBytes_GET_SIZE(raw) + self->overhead;
    if (set_ll(d, s_rows_bytes, rows_bytes) < 0)
        goto done;
    if (get_ll(d, s_next_offset, &offset) < 0 || set_ll(d, s_next_offset, offset + 1) < 0)
        goto done;
    if (rows_bytes >= self->max_bytes || n_fields >= self->flat_max) {
        if (call_method0(self->writer, s_seal) < 0 || call_method0(self->writer, s_wait) < 0)
            goto done;
    }
    result = PyLong_FromLongLong(offset);
done:
    Py_XDECREF(mono_obj);
    Py_DECREF(name_id);
    Py_DECREF(source_id);
    return result;
}

static PyObject *
appender_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Appender *self = (Appender *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL || nargs < 2 || nargs > 3)
        return PyObject_Vectorcall(self->slow, args, nargsf, kwnames);
    PyObject *name = args[0], *data = args[1];
    PyObject *source = nargs == 3 ? args[2] : NULL;
    int known = PySet_Contains(self->models, (PyObject *)Py_TYPE(data));
    if (known < 0)
        return NULL;
    if (!known)
        return PyObject_Vectorcall(self->slow, args, nargsf, NULL);
    /* the class attribute, looked up on the class: pydantic's BaseModel has a __getattr__
     * hook that makes the same lookup on the instance cost about twice as much */
    PyObject *serializer = PyObject_GetAttr((PyObject *)Py_TYPE(data), s_serializer);
    if (serializer == NULL) {
        PyErr_Clear();
        return PyObject_Vectorcall(self->slow, args, nargsf, NULL);
    }
    PyObject *call_args[2] = {serializer, data};
    PyObject *raw = PyObject_VectorcallMethod(s_to_json, call_args, 2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(serializer);
    if (raw == NULL) {   /* not JSON as is: the general path encodes it (or reports why not) */
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
        return PyObject_Vectorcall(self->slow, args, nargsf, NULL);
    }
    if (!PyBytes_CheckExact(raw)) {
        Py_DECREF(raw);
        return PyObject_Vectorcall(self->slow, args, nargsf, NULL);
    }
    PyObject *source_obj = source;
    if (source_obj == NULL)
        source_obj = PyUnicode_New(0, 0);   /* "" (a cached singleton) */
    else
        Py_INCREF(source_obj);
    PyObject *result = NULL;
    if (PyBytes_GET_SIZE(raw) <= self->fast_max) {
        PyObject *r = PyObject_CallNoArgs(self->acquire);
        if (r == NULL)
            goto out;
        Py_DECREF(r);
        result = append_locked(self, name, source_obj, raw);
        /* release whatever happened (keeping a pending exception) */
        PyObject *et, *ev, *tb;
        PyErr_Fetch(&et, &ev, &tb);
        r = PyObject_CallNoArgs(self->release);
        if (r == NULL) {
            Py_XDECREF(et); Py_XDECREF(ev); Py_XDECREF(tb);
            Py_CLEAR(result);
            goto out;
        }
        Py_DECREF(r);
        PyErr_Restore(et, ev, tb);
        if (result != Py_None)
            goto out;   /* the offset, or NULL with the error */
        Py_CLEAR(result);
    }
    /* not accepting, a name or source without an id, or a big event: the checked path */
    {
        PyObject *enc_args[8] = {self->writer, name, source_obj, self->flag_model, Py_None, Py_None, raw,
                                 self->empty};
        result = PyObject_VectorcallMethod(s_append_encoded, enc_args, 8 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                           NULL);
    }
out:
    Py_DECREF(source_obj);
    Py_DECREF(raw);
    return result;
}

static int
appender_init(Appender *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"writer", "slow", "ids", "models", "lock", "flag_model", "mono_base",
                             "max_bytes", "flat_max", "fast_max", "overhead", NULL};
    PyObject *writer, *slow, *ids, *models, *lock, *flag_model;
    long long mono_base;
    Py_ssize_t max_bytes, flat_max, fast_max, overhead;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOO!O!OOLnnnn", kwlist, &writer, &slow, &PyDict_Type, &ids,
                                     &PySet_Type, &models, &lock, &flag_model, &mono_base, &max_bytes,
                                     &flat_max, &fast_max, &overhead))
        return -1;
    PyObject *wdict = PyObject_GetAttrString(writer, "__dict__");
    if (wdict == NULL)
        return -1;
    if (!PyDict_Check(wdict)) {
        Py_DECREF(wdict);
        PyErr_SetString(PyExc_TypeError, "the writer has no instance dict");
        return -1;
    }
    PyObject *acquire = PyObject_GetAttrString(lock, "acquire");
    PyObject *release = PyObject_GetAttrString(lock, "release");
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    if (acquire == NULL || release == NULL || empty == NULL) {
        Py_DECREF(wdict);
        Py_XDECREF(acquire);
        Py_XDECREF(release);
        Py_XDECREF(empty);
        return -1;
    }
    Py_INCREF(writer);
    Py_INCREF(slow);
    Py_INCREF(ids);
    Py_INCREF(models);
    Py_INCREF(flag_model);
    Py_XSETREF(self->writer, writer);
    Py_XSETREF(self->wdict, wdict);
    Py_XSETREF(self->slow, slow);
    Py_XSETREF(self->ids, ids);
    Py_XSETREF(self->models, models);
    Py_XSETREF(self->acquire, acquire);
    Py_XSETREF(self->release, release);
    Py_XSETREF(self->flag_model, flag_model);
    Py_XSETREF(self->empty, empty);
    self->mono_base = mono_base;
    self->max_bytes = max_bytes;
    self->flat_max = flat_max;
    self->fast_max = fast_max;
    self->overhead = overhead;
    self->vectorcall = appender_vectorcall;
    return 0;
}

static int
appender_traverse(Appender *self, visitproc visit, void *arg)
{
    Py_VISIT(self->writer);
    Py_VISIT(self->wdict);
    Py_VISIT(self->slow);
    Py_VISIT(self->ids);
    Py_VISIT(self->models);
    Py_VISIT(self->acquire);
    Py_VISIT(self->release);
    Py_VISIT(self->flag_model);
    Py_VISIT(self->dict);
    return 0;
}

static int
appender_clear(Appender *self)
{
    Py_CLEAR(self->writer);
    Py_CLEAR(self->wdict);
    Py_CLEAR(self->slow);
    Py_CLEAR(self->ids);
    Py_CLEAR(self->models);
    Py_CLEAR(self->acquire);
    Py_CLEAR(self->release);
    Py_CLEAR(self->flag_model);
    Py_CLEAR(self->empty);
    Py_CLEAR(self->dict);
    return 0;
}

static void
appender_dealloc(Appender *self)
{
    PyObject_GC_UnTrack(self);
    appender_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
appender_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Appender *self = (Appender *)type->tp_alloc(type, 0);
    if (self != NULL)
        self->vectorcall = appender_vectorcall;
    return (PyObject *)self;
}

static PyObject *
appender_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call(self, args, kwargs);
}

static PyMemberDef appender_members[] = {
    {"slow", T_OBJECT, offsetof(Appender, slow), READONLY, "the Python closure behind this path"},
    {NULL}
};

static PyTypeObject AppenderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "evlog.segments._speedups.ModelAppender",
    .tp_doc = "LogWriter.model_appender compiled (see evlog/segments/writer.py).",
    .tp_basicsize = sizeof(Appender),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = appender_new,
    .tp_init = (initproc)appender_init,
    .tp_dealloc = (destructor)appender_dealloc,
    .tp_traverse = (traverseproc)appender_traverse,
    .tp_clear = (inquiry)appender_clear,
    .tp_call = appender_call,
    .tp_vectorcall_offset = offsetof(Appender, vectorcall),
    .tp_dictoffset = offsetof(Appender, dict),
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_setattro = PyObject_GenericSetAttr,
    .tp_members = appender_members,
};


/* ---- the block encoder's columns -------------------------------------------------------- */

/* Byte-shuffled little-endian column: byte k of value i goes to out[k * n + i]. */
static void
shuffle_into(unsigned char *out, Py_ssize_t n, Py_ssize_t i, unsigned long long value, int width)
{
    for (int k = 0; k < width; k++) {
        out[k * n + i] = (unsigned char)(value & 0xff);
        value >>= 8;
    }
}

/* The sequence behind a column and its output: `*seq` (a new reference, list or tuple)
 * and a bytes object of `width` bytes per item, or NULL with an error set. */
static PyObject *
new_column(PyObject *values, int width, const char *what, PyObject **seq)
{
    *seq = PySequence_Fast(values, what);
    if (*seq == NULL)
        return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, width * PySequence_Fast_GET_SIZE(*seq));
    if (out == NULL)
        Py_CLEAR(*seq);
    return out;
}

/* mono_column(mono: list[int]) -> bytes: the int64 deltas of `mono` (the first one 0),
 * byte-shuffled; `_shuffled("q", deltas)` in block.py. */
static PyObject *
mono_column(PyObject *module, PyObject *mono)
{
    PyObject *seq;
    PyObject *out = new_column(mono, 8, "mono_column takes a sequence of ints", &seq);
    if (out == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    unsigned char *buf = (unsigned char *)PyBytes_AS_STRING(out);
    long long prev = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        long long v = PyLong_AsLongLong(items[i]);
        if (v == -1 && PyErr_Occurred())
            goto fail;
        long long delta = 0;
        if (i > 0 && __builtin_sub_overflow(v, prev, &delta)) {
            PyErr_SetString(PyExc_OverflowError, "monotonic delta does not fit an int64");
            goto fail;
        }
        shuffle_into(buf, n, i, (unsigned long long)delta, 8);
        prev = v;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* lengths_column(datas: list[bytes]) -> bytes: the u32 lengths, byte-shuffled;
 * `_shuffled("I", map(len, datas))` in block.py. */
static PyObject *
lengths_column(PyObject *module, PyObject *datas)
{
    PyObject *seq;
    PyObject *out = new_column(datas, 4, "lengths_column takes a sequence of bytes", &seq);
    if (out == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    unsigned char *buf = (unsigned char *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            PyErr_SetString(PyExc_TypeError, "lengths_column takes a sequence of bytes");
            goto fail;
        }
        Py_ssize_t len = PyBytes_GET_SIZE(items[i]);
        if ((unsigned long long)len > 0xffffffffULL) {
            PyErr_SetString(PyExc_OverflowError, "a length does not fit a u32");
            goto fail;
        }
        shuffle_into(buf, n, i, (unsigned long long)len, 4);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

/* lay_chunks(scratch: bytearray, pos: int, datas: list[bytes], chunk: int) -> int: writes
 * the data section, "[" d0 "," d1 ... "]" per `chunk` records, into `scratch` from `pos`
 * (growing it when needed); returns the position after it. The data section of block.py's
 * payload, without a joined bytes object per chunk. */
static PyObject *
lay_chunks(PyObject *module, PyObject *args)
{
    PyObject *scratch, *datas;
    Py_ssize_t pos, chunk;
    if (!PyArg_ParseTuple(args, "O!nOn", &PyByteArray_Type, &scratch, &pos, &datas, &chunk))
        return NULL;
    if (chunk <= 0 || pos < 0 || pos > PyByteArray_GET_SIZE(scratch)) {
        PyErr_SetString(PyExc_ValueError, "lay_chunks: bad chunk size or position");
        return NULL;
    }
    PyObject *seq = PySequence_Fast(datas, "lay_chunks takes a sequence of bytes");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_ssize_t need = pos + (n + chunk - 1) / chunk;   /* one "[" per chunk */
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_Check(items[i])) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "lay_chunks takes a sequence of bytes");
            return NULL;
        }
        need += PyBytes_GET_SIZE(items[i]) + 1;   /* the item and the comma or bracket after it */
    }
    if (need > PyByteArray_GET_SIZE(scratch) && PyByteArray_Resize(scratch, need) < 0) {
        Py_DECREF(seq);
        return NULL;
    }
    char *buf = PyByteArray_AS_STRING(scratch);
    for (Py_ssize_t i = 0; i < n; i++) {
        if (i % chunk == 0)
            buf[pos++] = '[';
        Py_ssize_t len = PyBytes_GET_SIZE(items[i]);
        memcpy(buf + pos, PyBytes_AS_STRING(items[i]), len);
        pos += len;
        buf[pos++] = (i % chunk == chunk - 1 || i == n - 1) ? ']' : ',';
    }
    Py_DECREF(seq);
    return PyLong_FromSsize_t(pos);
}

static PyMethodDef speedups_methods[] = {
    {"mono_column", mono_column, METH_O, "The shuffled int64 deltas of a list of monotonic times."},
    {"lengths_column", lengths_column, METH_O, "The shuffled u32 lengths of a list of bytes."},
    {"lay_chunks", lay_chunks, METH_VARARGS, "Write the data section's JSON arrays into a bytearray."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef hotpath_module = {
    PyModuleDef_HEAD_INIT, "_speedups", "evlog's write path, compiled (optional).", -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL
    INTERN(s_accepting, "_accepting");
    INTERN(s_rows, "_rows");
    INTERN(s_rows_bytes, "_rows_bytes");
    INTERN(s_next_offset, "_next_offset");
    INTERN(s_last_mono, "_last_mono");
    INTERN(s_serializer, "__pydantic_serializer__");
    INTERN(s_to_json, "to_json");
    INTERN(s_start, "_start_buffer_locked");
    INTERN(s_seal, "_seal_locked");
    INTERN(s_wait, "_wait_for_room_locked");
    INTERN(s_append_encoded, "append_encoded");
#undef INTERN
    if (PyType_Ready(&AppenderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&hotpath_module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&AppenderType);
    if (PyModule_AddObject(m, "ModelAppender", (PyObject *)&AppenderType) < 0) {
        Py_DECREF(&AppenderType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

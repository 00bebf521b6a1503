/* evlog's block encoder, compiled: three pure functions that build a block's per-record
 * columns (`block._mono_column`, `block._lengths_column`, `block._lay_chunks`).
 *
 * Optional: when this extension is not built (no C compiler), the Python functions of the
 * same names in evlog/segments/block.py run instead; they are the reference, and
 * tests/segments/test_seg_speedups.py runs the same inputs through both. They hold no state
 * and touch no object but their arguments (the bytearray `lay_chunks` writes into).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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
    PyModuleDef_HEAD_INIT, "_speedups", "evlog's block encoder columns, compiled (optional).", -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&hotpath_module);
}

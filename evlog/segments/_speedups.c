/* evlog's block encoder, compiled: three pure functions that build a block's per-record
 * columns (`block._mono_column`, `block._lengths_column`, `block._lay_chunks`), two that
 * check the columns of appended rows in one pass each (`rows._row_sizes`,
 * `rows._monotonic_order`), one the decoder reads a block's name and source tables with
 * (`block._read_table`), and one that reads a decoded block's columns in place
 * (`block._column_sums`: a block's chunk bases and the times and data positions of the few
 * records a sparse read wants, without unshuffling a column).
 *
 * Optional: when this extension is not built (no C compiler), the Python functions of the
 * same names in evlog/segments/block.py and rows.py run instead; they are the reference, and
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

/* ---- the decoder's columns -------------------------------------------------------------- */

/* A Python int of a 128-bit sum (the sums of up to 65,535 int64 values need 80 bits). */
static PyObject *
long_from_int128(__int128 v)
{
    if (v >= (__int128)LLONG_MIN && v <= (__int128)LLONG_MAX)
        return PyLong_FromLongLong((long long)v);
    PyObject *hi = PyLong_FromLongLong((long long)(v >> 64));
    PyObject *lo = PyLong_FromUnsignedLongLong((unsigned long long)v);
    PyObject *sixty_four = PyLong_FromLong(64);
    PyObject *shifted = NULL, *out = NULL;
    if (hi != NULL && lo != NULL && sixty_four != NULL)
        shifted = PyNumber_Lshift(hi, sixty_four);
    if (shifted != NULL)
        out = PyNumber_Add(shifted, lo);
    Py_XDECREF(hi);
    Py_XDECREF(lo);
    Py_XDECREF(sixty_four);
    Py_XDECREF(shifted);
    return out;
}

/* The sum of len bytes, and the number of them >= 0x80: 16 bytes an instruction with SSE2
 * (the x86-64 baseline), else a plain loop. */
#if defined(__SSE2__) && defined(__x86_64__)
#include <emmintrin.h>
static unsigned long long
byte_sum(const unsigned char *b, Py_ssize_t len)
{
    const __m128i zero = _mm_setzero_si128();
    __m128i acc = zero;
    Py_ssize_t x = 0;
    for (; x + 16 <= len; x += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(b + x)), zero));
    unsigned long long s = (unsigned long long)_mm_cvtsi128_si64(acc)
                         + (unsigned long long)_mm_cvtsi128_si64(_mm_unpackhi_epi64(acc, acc));
    for (; x < len; x++)
        s += b[x];
    return s;
}

static unsigned long long
high_bytes(const unsigned char *b, Py_ssize_t len)
{
    unsigned long long s = 0;
    Py_ssize_t x = 0;
    for (; x + 16 <= len; x += 16)
        s += (unsigned long long)__builtin_popcount(_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(b + x))));
    for (; x < len; x++)
        s += b[x] >> 7;
    return s;
}
#else
static unsigned long long
byte_sum(const unsigned char *b, Py_ssize_t len)
{
    unsigned long long s = 0;
    for (Py_ssize_t x = 0; x < len; x++)
        s += b[x];
    return s;
}

static unsigned long long
high_bytes(const unsigned char *b, Py_ssize_t len)
{
    unsigned long long s = 0;
    for (Py_ssize_t x = 0; x < len; x++)
        s += b[x] >> 7;
    return s;
}
#endif

/* column_sums(buf, n, width, signed, positions) -> list[int]: for each p of `positions`
 * (non-decreasing, 0 <= p <= n) the sum of the first p values of the byte-shuffled
 * little-endian column of n values of `width` bytes (1, 2, 4 or 8; two's complement when
 * `signed`) at the start of `buf`; `block._column_sums_py`. One pass up to the last
 * position. */
static PyObject *
column_sums(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t n, width;
    int is_signed;
    PyObject *positions;
    if (!PyArg_ParseTuple(args, "y*nnpO", &view, &n, &width, &is_signed, &positions))
        return NULL;
    PyObject *seq = NULL, *out = NULL;
    if ((width != 1 && width != 2 && width != 4 && width != 8) || n < 0 || view.len / width < n) {
        PyErr_SetString(PyExc_ValueError, "column_sums: bad column");
        goto done;
    }
    seq = PySequence_Fast(positions, "column_sums takes a sequence of positions");
    if (seq == NULL)
        goto done;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    out = PyList_New(count);
    if (out == NULL)
        goto done;
    /* lane by lane: the sum of the values is the sum over lanes k of (the sum of their
     * k-th bytes) << 8k, less 2**(8 * width) for each negative value (its top byte >= 0x80);
     * each lane's bytes are contiguous, so they are summed as plain byte arrays */
    const unsigned char *buf = (const unsigned char *)view.buf;
    unsigned long long lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    unsigned long long negative = 0;
    Py_ssize_t i = 0;
    for (Py_ssize_t j = 0; j < count; j++) {
        Py_ssize_t p = PyLong_AsSsize_t(items[j]);
        if (p == -1 && PyErr_Occurred())
            goto fail;
        if (p < i || p > n) {
            PyErr_SetString(PyExc_ValueError, "column_sums: positions must ascend within the column");
            goto fail;
        }
        for (Py_ssize_t k = 0; k < width; k++)
            lane[k] += byte_sum(buf + k * n + i, p - i);
        if (is_signed)
            negative += high_bytes(buf + (width - 1) * n + i, p - i);
        i = p;
        __int128 acc = 0;
        for (Py_ssize_t k = 0; k < width; k++)
            acc += (__int128)lane[k] << (8 * k);
        if (negative)
            acc -= (__int128)negative << (8 * width);
        PyObject *v = long_from_int128(acc);
        if (v == NULL)
            goto fail;
        PyList_SET_ITEM(out, j, v);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_XDECREF(seq);
    PyBuffer_Release(&view);
    return out;
}

/* ---- the checks of appended rows ------------------------------------------------------ */

/* The length of every item of `seq` (a list or tuple) into sizes[i] (added to it when `add`),
 * the largest into *biggest; 0 when every item is exactly bytes, else 1 (no error set). */
static int
add_lengths(PyObject *seq, Py_ssize_t *sizes, Py_ssize_t n, int add, Py_ssize_t *biggest)
{
    PyObject **items = PySequence_Fast_ITEMS(seq);
    Py_ssize_t top = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (!PyBytes_CheckExact(items[i]))
            return 1;
        Py_ssize_t len = PyBytes_GET_SIZE(items[i]);
        if (len > top)
            top = len;
        sizes[i] = add ? sizes[i] + len : len;
    }
    *biggest = top;
    return 0;
}

/* row_sizes(datas, types, headers | None) -> (sizes, largest data + types, largest headers)
 * or None when an item is not exactly bytes or the columns differ in length: each row's
 * payload bytes (data + type map + headers), `rows._row_sizes_py`. */
static PyObject *
row_sizes(PyObject *module, PyObject *args)
{
    PyObject *datas, *types, *headers;
    if (!PyArg_ParseTuple(args, "OOO", &datas, &types, &headers))
        return NULL;
    PyObject *cols[3] = {NULL, NULL, NULL};
    PyObject *given[3] = {datas, types, headers};
    PyObject *result = NULL;
    Py_ssize_t *sizes = NULL;
    int ncols = headers == Py_None ? 2 : 3;
    for (int c = 0; c < ncols; c++) {
        cols[c] = PySequence_Fast(given[c], "row_sizes takes sequences of bytes");
        if (cols[c] == NULL)
            goto done;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(cols[0]);
    for (int c = 1; c < ncols; c++) {
        if (PySequence_Fast_GET_SIZE(cols[c]) != n) {
            result = Py_NewRef(Py_None);
            goto done;
        }
    }
    sizes = PyMem_Malloc((n ? n : 1) * sizeof(Py_ssize_t));
    if (sizes == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t top_data = 0, top_types = 0, top_head = 0, top_sum = 0;
    if (add_lengths(cols[0], sizes, n, 0, &top_data) || add_lengths(cols[1], sizes, n, 1, &top_types)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (sizes[i] > top_sum)
            top_sum = sizes[i];
    if (ncols == 3 && add_lengths(cols[2], sizes, n, 1, &top_head)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *list = PyList_New(n);
    if (list == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyLong_FromSsize_t(sizes[i]);
        if (v == NULL) {
            Py_DECREF(list);
            goto done;
        }
        PyList_SET_ITEM(list, i, v);
    }
    result = Py_BuildValue("(Nnn)", list, top_sum, top_head);
done:
    PyMem_Free(sizes);
    for (int c = 0; c < 3; c++)
        Py_XDECREF(cols[c]);
    return result;
}

/* monotonic_order(values) -> 0 when an item is not exactly an int in [-2**62, 2**62), else 2
 * when they never decrease, 1 otherwise: `rows._monotonic_order_py`. */
static PyObject *
monotonic_order(PyObject *module, PyObject *values)
{
    PyObject *seq = PySequence_Fast(values, "monotonic_order takes a sequence of ints");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    const long long limit = 1LL << 62;
    long long last = 0;
    long order = 2;
    for (Py_ssize_t i = 0; i < n; i++) {
        int overflow = 0;
        if (!PyLong_CheckExact(items[i])) {
            order = 0;
            break;
        }
        long long v = PyLong_AsLongLongAndOverflow(items[i], &overflow);
        if (overflow || v < -limit || v >= limit) {
            order = 0;
            break;
        }
        if (i && v < last)
            order = 1;
        last = v;
    }
    Py_DECREF(seq);
    return PyLong_FromLong(order);
}


/* ---- the block decoder's tables --------------------------------------------------------- */

/* read_table(buf, pos, total, max_len) -> (values, counts, end): a block meta's name or
 * source table at `pos` (u16 n, then n times u16 length, UTF-8 bytes, u32 count), checked
 * as `block._read_table_py` checks it (ValueError with the same messages, UnicodeDecodeError). */
static PyObject *
read_table(PyObject *module, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, total, max_len;
    if (!PyArg_ParseTuple(args, "y*nnn", &view, &pos, &total, &max_len))
        return NULL;
    const unsigned char *buf = (const unsigned char *)view.buf;
    Py_ssize_t size = view.len;
    PyObject *values = NULL, *counts = NULL, *result = NULL;
    if (pos < 0 || pos + 2 > size) {
        PyErr_SetString(PyExc_ValueError, "truncated table");
        goto done;
    }
    Py_ssize_t n = buf[pos] | (buf[pos + 1] << 8);
    pos += 2;
    values = PyList_New(n);
    counts = PyList_New(n);
    if (values == NULL || counts == NULL)
        goto done;
    unsigned long long sum = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (pos + 2 > size) {
            PyErr_SetString(PyExc_ValueError, "truncated table entry");
            goto done;
        }
        Py_ssize_t length = buf[pos] | (buf[pos + 1] << 8);
        pos += 2;
        if (length > max_len || pos + length + 4 > size) {
            PyErr_SetString(PyExc_ValueError, "table entry out of range");
            goto done;
        }
        PyObject *value = PyUnicode_DecodeUTF8((const char *)buf + pos, length, NULL);
        if (value == NULL)
            goto done;
        PyList_SET_ITEM(values, i, value);
        pos += length;
        unsigned long count = (unsigned long)buf[pos] | ((unsigned long)buf[pos + 1] << 8) |
                              ((unsigned long)buf[pos + 2] << 16) | ((unsigned long)buf[pos + 3] << 24);
        pos += 4;
        sum += count;
        PyObject *c = PyLong_FromUnsignedLong(count);
        if (c == NULL)
            goto done;
        PyList_SET_ITEM(counts, i, c);
    }
    if (sum != (unsigned long long)total || (total && n == 0)) {
        PyErr_SetString(PyExc_ValueError, "table counts do not add up to the record count");
        goto done;
    }
    result = Py_BuildValue("(OOn)", values, counts, pos);
done:
    Py_XDECREF(values);
    Py_XDECREF(counts);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef speedups_methods[] = {
    {"mono_column", mono_column, METH_O, "The shuffled int64 deltas of a list of monotonic times."},
    {"lengths_column", lengths_column, METH_O, "The shuffled u32 lengths of a list of bytes."},
    {"lay_chunks", lay_chunks, METH_VARARGS, "Write the data section's JSON arrays into a bytearray."},
    {"row_sizes", row_sizes, METH_VARARGS, "Each row's payload bytes, the largest data and headers (or None)."},
    {"read_table", read_table, METH_VARARGS, "A block meta's name or source table: (values, counts, end)."},
    {"monotonic_order", monotonic_order, METH_O, "0: not ints within 2**62; 1: ints; 2: ints in order."},
    {"column_sums", column_sums, METH_VARARGS, "Prefix sums of a byte-shuffled column at given positions."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef hotpath_module = {
    PyModuleDef_HEAD_INIT, "_speedups", "evlog's block columns and row checks, compiled (optional).", -1, speedups_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&hotpath_module);
}

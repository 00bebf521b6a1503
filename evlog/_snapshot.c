/* The recorder's snapshot at publish, compiled: one function, `snapshot_model`, the common
 * case of `evlog.snapshot.snapshot_model_py` (its Python twin and reference; the tests in
 * tests/recorder/test_snapshot_twins.py run the same inputs through both).
 *
 * On the publishing thread, for an event whose class the codec's plan cache already knows
 * as a pydantic model, published with a `str` name and a `str` source: stamp it on the
 * monotonic clock (CLOCK_MONOTONIC, the clock of `time.monotonic_ns`), serialize it with its
 * class's pydantic-core serializer (`to_json`), and append the queued row's seven fields
 * (name, source, flags, data, types, headers, monotonic) at the end of the queue in one
 * step: no other thread runs in between (the GIL is not released), and a failed append
 * leaves the queue as it was. Anything else (another kind of event, a serializer error, an
 * unexpected type) appends nothing and returns -1: the caller takes the general path,
 * which handles it. The function holds no state and touches no object but its arguments.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <time.h>

static PyObject *str_serializer;   /* "__pydantic_serializer__" */
static PyObject *str_to_json;      /* "to_json" */

/* snapshot_model(queue, plans, model_plan, flags, base, name, event, source) -> int:
 * len(queue) after appending the row, or -1 (nothing appended). */
static PyObject *
snapshot_model(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "snapshot_model takes 8 arguments");
        return NULL;
    }
    PyObject *queue = args[0], *plans = args[1], *model_plan = args[2], *flags = args[3];
    PyObject *name = args[5], *event = args[6], *source = args[7];
    if (!PyList_CheckExact(queue) || !PyDict_CheckExact(plans)) {
        PyErr_SetString(PyExc_TypeError, "snapshot_model takes a list and a dict");
        return NULL;
    }
    long long base = PyLong_AsLongLong(args[4]);
    if (base == -1 && PyErr_Occurred())
        return NULL;
    if (!PyUnicode_CheckExact(name) || !PyUnicode_CheckExact(source))
        return PyLong_FromLong(-1);
    PyObject *plan = PyDict_GetItemWithError(plans, (PyObject *)Py_TYPE(event));
    if (plan != model_plan) {
        if (plan == NULL && PyErr_Occurred())
            return NULL;
        return PyLong_FromLong(-1);
    }
    struct timespec now;
    if (clock_gettime(CLOCK_MONOTONIC, &now) != 0)
        return PyLong_FromLong(-1);
    long long mono = (long long)now.tv_sec * 1000000000LL + (long long)now.tv_nsec - base;

    PyObject *serializer = PyObject_GetAttr(event, str_serializer);
    PyObject *data = NULL;
    if (serializer != NULL) {
        PyObject *call[2] = {serializer, event};
        data = PyObject_VectorcallMethod(str_to_json, call, 2, NULL);
        Py_DECREF(serializer);
    }
    if (data == NULL) {
        /* the general path retries and falls back (or stores a marker); an exception that
         * is not an Exception (KeyboardInterrupt...) goes on up */
        if (!PyErr_ExceptionMatches(PyExc_Exception))
            return NULL;
        PyErr_Clear();
        return PyLong_FromLong(-1);
    }
    if (!PyBytes_CheckExact(data)) {
        Py_DECREF(data);
        return PyLong_FromLong(-1);
    }
    PyObject *stamp = PyLong_FromLongLong(mono);
    PyObject *empty = PyBytes_FromStringAndSize(NULL, 0);
    if (stamp == NULL || empty == NULL) {
        Py_XDECREF(stamp);
        Py_XDECREF(empty);
        Py_DECREF(data);
        return NULL;
    }
    PyObject *row[7] = {name, source, flags, data, empty, empty, stamp};
    Py_ssize_t start = PyList_GET_SIZE(queue);
    int failed = 0;
    for (int i = 0; i < 7 && !failed; i++)
        failed = PyList_Append(queue, row[i]) < 0;
    Py_DECREF(data);
    Py_DECREF(stamp);
    Py_DECREF(empty);
    if (failed) {   /* memory: take back the row's first fields, so rows stay aligned */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        PyList_SetSlice(queue, start, PyList_GET_SIZE(queue), NULL);
        PyErr_Restore(type, value, tb);
        return NULL;
    }
    return PyLong_FromSsize_t(PyList_GET_SIZE(queue));
}

static PyMethodDef snapshot_methods[] = {
    {"snapshot_model", (PyCFunction)(void (*)(void))snapshot_model, METH_FASTCALL,
     "Queue the encoded row of a pydantic event published by name and source; -1: not this case."},
    {NULL, NULL, 0, NULL}
};

static struct PyModuleDef snapshot_module = {
    PyModuleDef_HEAD_INIT, "_snapshot", "The recorder's snapshot at publish, compiled (optional).", -1,
    snapshot_methods,
};

PyMODINIT_FUNC
PyInit__snapshot(void)
{
    str_serializer = PyUnicode_InternFromString("__pydantic_serializer__");
    str_to_json = PyUnicode_InternFromString("to_json");
    if (str_serializer == NULL || str_to_json == NULL)
        return NULL;
    return PyModule_Create(&snapshot_module);
}

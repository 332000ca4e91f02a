/* The extension module _goloop: type registration, the fork guard and the
 * Python helpers the C layer calls back into. */
#include "goloop.h"
#include <pthread.h>

volatile int goloop_forked;
PyObject *goloop_helper_handle_repr;
PyObject *goloop_empty_tuple;

/* The Go runtime's threads do not exist in a forked child; any call into
 * Go there would hang. The child handler only sets a flag. */
static void
after_fork_child(void)
{
    goloop_forked = 1;
}

int
goloop_check_fork(void)
{
    if (goloop_forked) {
        PyErr_SetString(PyExc_RuntimeError,
                        "goloop cannot be used in a process forked after its Go "
                        "runtime started (the Go runtime does not survive fork()); "
                        "use the 'spawn' or 'forkserver' start method, or create "
                        "goloop loops only after forking");
        return -1;
    }
    return 0;
}

int
goloop_is_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

static PyObject *
set_helpers(PyObject *m, PyObject *args)
{
    PyObject *handle_repr;
    if (!PyArg_ParseTuple(args, "O:_set_helpers", &handle_repr))
        return NULL;
    Py_INCREF(handle_repr);
    Py_XSETREF(goloop_helper_handle_repr, handle_repr);
    Py_RETURN_NONE;
}

static PyObject *
forked(PyObject *m, PyObject *unused)
{
    return PyBool_FromLong(goloop_forked);
}

static PyObject *
selftest_panic(PyObject *m, PyObject *unused)
{
    if (goloop_check_fork() < 0)
        return NULL;
    if (goloop_selftest_panic() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *
selftest_fault(PyObject *m, PyObject *unused)
{
    if (goloop_check_fork() < 0)
        return NULL;
    if (goloop_selftest_fault() < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"_selftest_fault", selftest_fault, METH_NOARGS,
     "Dereference nil in Go: must raise RuntimeError (Go keeps its faults)."},
    {"_selftest_panic", selftest_panic, METH_NOARGS,
     "Run Go code that panics: must raise RuntimeError (tests the guard)."},
    {"_set_helpers", set_helpers, METH_VARARGS, NULL},
    {"_forked", forked, METH_NOARGS, "True in a child forked after load."},
    {"_set_sock_future", goloop_set_sock_future, METH_O, NULL},
    {"_set_sock_methods", goloop_set_sock_methods, METH_VARARGS, NULL},
    {NULL}
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_goloop",
    "goloop's engine: a Go event loop core behind CPython types.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__goloop(void)
{
    static int atfork_done;
    if (!atfork_done) {
        if (pthread_atfork(NULL, NULL, after_fork_child) != 0) {
            PyErr_SetString(PyExc_RuntimeError, "goloop: pthread_atfork failed");
            return NULL;
        }
        atfork_done = 1;
    }
    goloop_fatal_signals_init();
    if (goloop_empty_tuple == NULL && (goloop_empty_tuple = PyTuple_New(0)) == NULL)
        return NULL;
    if (goloop_core_type_init() < 0 || goloop_looptime_init() < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    if (goloop_handle_types_init(m) < 0 || goloop_sockfd_init() < 0 ||
        goloop_stream_type_init(m) < 0 ||
        goloop_sockops_init(m) < 0 || goloop_tasks_init() < 0 ||
        goloop_streamreader_init() < 0 || goloop_sockcall_init(m) < 0 ||
        goloop_fsops_init(m) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    Py_INCREF(&GoloopCore_Type);
    if (PyModule_AddObject(m, "LoopCore", (PyObject *)&GoloopCore_Type) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}

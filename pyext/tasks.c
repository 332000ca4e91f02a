/* loop.create_task in C. Every asyncio.gather, ensure_future and
 * TaskGroup.create_task goes through it, and asyncio's version is a Python
 * method: ~250 ns of frame and keyword handling per task on top of the
 * Task constructor. The common case (no task factory, not debug, loop
 * open, only name=/context=) builds asyncio.tasks.Task directly; anything
 * else goes to the Python method _create_task_slow, which owns the exact
 * asyncio semantics (factories, source tracebacks, errors). */
#include "goloop.h"

static PyObject *tasks_dict;        /* asyncio.tasks.__dict__ */
static PyObject *str_Task, *str_slow, *str_name, *str_context;
static PyObject *kw_loop, *kw_loop_name, *kw_loop_context, *kw_loop_name_context;

int
goloop_tasks_init(void)
{
    PyObject *mod = PyImport_ImportModule("asyncio.tasks");
    if (mod == NULL)
        return -1;
    tasks_dict = PyModule_GetDict(mod);   /* borrowed; the module is kept */
    Py_INCREF(tasks_dict);
    Py_DECREF(mod);
    if ((str_Task = PyUnicode_InternFromString("Task")) == NULL ||
        (str_slow = PyUnicode_InternFromString("_create_task_slow")) == NULL ||
        (str_name = PyUnicode_InternFromString("name")) == NULL ||
        (str_context = PyUnicode_InternFromString("context")) == NULL ||
        (kw_loop = Py_BuildValue("(s)", "loop")) == NULL ||
        (kw_loop_name = Py_BuildValue("(ss)", "loop", "name")) == NULL ||
        (kw_loop_context = Py_BuildValue("(ss)", "loop", "context")) == NULL ||
        (kw_loop_name_context = Py_BuildValue("(sss)", "loop", "name", "context")) == NULL)
        return -1;
    return 0;
}

/* The keyword names the fast path accepts: name (all versions) and
 * context (3.11+, as asyncio). Interned names compare by identity; others
 * (rare) by value. */
static int
kw_is(PyObject *kw, PyObject *interned)
{
    return kw == interned || PyUnicode_Compare(kw, interned) == 0;
}

static PyObject *
slow(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *meth = PyObject_GetAttr((PyObject *)core, str_slow);
    if (meth == NULL)
        return NULL;
    PyObject *r = PyObject_Vectorcall(meth, args, nargs, kwnames);
    Py_DECREF(meth);
    return r;
}

PyObject *
goloop_core_create_task(GoloopCore *core, PyObject *const *args, Py_ssize_t nargs,
                        PyObject *kwnames)
{
    PyObject *name = NULL, *context = NULL;
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    if (goloop_check_fork() < 0)
        return NULL;
    if (nargs != 1 || core->closed || core->debug)
        return slow(core, args, nargs, kwnames);
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        if (kw_is(kw, str_name))
            name = args[nargs + i];
        else if (PY_VERSION_HEX >= 0x030B0000 && kw_is(kw, str_context))
            context = args[nargs + i];
        else
            return slow(core, args, nargs, kwnames);
    }
    if (core->task_factory != NULL && core->task_factory != Py_None)
        return slow(core, args, nargs, kwnames);
    /* Looked up per call, like asyncio's `tasks.Task`, so a patched
     * asyncio.tasks.Task is honoured. */
    PyObject *task_cls = PyDict_GetItemWithError(tasks_dict, str_Task);
    if (task_cls == NULL) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_AttributeError, "asyncio.tasks has no Task");
        return NULL;
    }
    if (name == Py_None)
        name = NULL;
    if (context == Py_None)
        context = NULL;
    PyObject *stack[4] = {args[0], (PyObject *)core};
    PyObject *kw = kw_loop;
    Py_ssize_t n = 2;
    if (name != NULL && context != NULL) {
        stack[n++] = name;
        stack[n++] = context;
        kw = kw_loop_name_context;
    } else if (name != NULL) {
        stack[n++] = name;
        kw = kw_loop_name;
    } else if (context != NULL) {
        stack[n++] = context;
        kw = kw_loop_context;
    }
    Py_INCREF(task_cls);
    PyObject *task = PyObject_Vectorcall(task_cls, stack, 1, kw);
    Py_DECREF(task_cls);
    return task;
}

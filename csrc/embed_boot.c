/* Python-side half of the start-up, compiled into libpkcs11_kmip_python.so as the
 * preamble of the cffi embedding module (csrc/build_embed.py). cffi's generated
 * code has already included Python.h and its embedding support (cffi_start_python)
 * above this point. Everything here runs under the shim's start-up lock. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "boot.h"
#include "cryptoki.h"

#define P11K_EXPORT __attribute__((visibility("default")))

static volatile int p11k_ready; /* set by the embedding init code as its last step */
static int p11k_started;        /* this library initialized the interpreter */
static PyGILState_STATE p11k_fork_gil;

/* Called from the init code (declared in the cffi cdef). */
static void pkcs11_kmip_embed_set_ready(void)
{
    p11k_ready = 1;
}

static int p11k_fail(struct p11k_boot *boot, const char *fmt, const char *a, const char *b)
{
    snprintf(boot->error, boot->error_size, fmt, a ? a : "", b ? b : "");
    return -1;
}

static int p11k_status_fail(struct p11k_boot *boot, PyStatus status)
{
    if (PyStatus_IsExit(status)) {
        char code[32];
        snprintf(code, sizeof code, "%d", status.exitcode);
        return p11k_fail(boot, "Python initialization asked to exit with status %s%s", code, "");
    }
    return p11k_fail(boot, "Python initialization failed: %s: %s", status.func,
                     status.err_msg);
}

static int p11k_finalizing(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing();
#else
    return _Py_IsFinalizing();
#endif
}

/* Hosts load PKCS#11 modules with RTLD_LOCAL, which leaves libpython out of the
 * global scope: extension modules (not linked to libpython) would then fail with
 * "undefined symbol: Py...". Re-open our libpython with RTLD_GLOBAL.
 * Only in the base namespace: glibc (2.36) crashes on RTLD_GLOBAL inside a
 * dlmopen namespace, and does not need it there, because the global scope of a
 * namespace is the search list of its first object, this library, which
 * includes libpython. */
static int p11k_promote_libpython(struct p11k_boot *boot)
{
    Dl_info info;
    if (!dladdr((void *)&Py_InitializeFromConfig, &info) || info.dli_fname == NULL)
        return p11k_fail(boot, "cannot locate libpython%s%s", "", "");
    if (dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL) == NULL)
        return p11k_fail(boot, "cannot make %s global: %s", info.dli_fname, dlerror());
    return 0;
}

/* An interpreter isolated from the host: no PYTHON* variables, no signal
 * handlers, no user site, UTF-8 regardless of the host's locale; program_name
 * makes it use the environment (venv) the package is installed in. */
static int p11k_start_python(struct p11k_boot *boot)
{
    PyStatus status;
    PyPreConfig preconfig;
    PyConfig config;

    PyPreConfig_InitIsolatedConfig(&preconfig);
    preconfig.utf8_mode = 1;
    status = Py_PreInitialize(&preconfig);
    if (PyStatus_Exception(status))
        return p11k_status_fail(boot, status);

    PyConfig_InitIsolatedConfig(&config);
    config.install_signal_handlers = 0;
    config.user_site_directory = 0;
    config.write_bytecode = 0;
    config.pathconfig_warnings = 0;
    config.site_import = 1;
    status = PyConfig_SetBytesString(&config, &config.program_name, boot->program_name);
    if (!PyStatus_Exception(status))
        status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status))
        return p11k_status_fail(boot, status);
    /* Release the GIL: every later call (cffi callbacks, fork handlers) takes it
     * with PyGILState_Ensure, from whichever thread the application uses. */
    PyEval_SaveThread();
    return 0;
}

/* Describe the pending Python exception in one line (type and message) and clear it. */
static int p11k_exception_fail(struct p11k_boot *boot, const char *what)
{
    PyObject *type, *value, *traceback, *text = NULL;
    const char *name = "unknown error", *message = "";
    char line[400];

    PyErr_Fetch(&type, &value, &traceback);
    PyErr_NormalizeException(&type, &value, &traceback);
    if (type != NULL)
        name = ((PyTypeObject *)type)->tp_name;
    if (value != NULL && (text = PyObject_Str(value)) != NULL)
        message = PyUnicode_AsUTF8(text);
    if (message == NULL) {
        PyErr_Clear();
        message = "";
    }
    snprintf(line, sizeof line, "%s: %s", name, message);
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(traceback);
    return p11k_fail(boot, "%s failed: %s", what, line);
}

/* With the GIL held: make our site-packages importable and import what the init
 * code needs, so that a broken installation gives a precise reason. */
static int p11k_prepare_imports(struct p11k_boot *boot)
{
    static const char *const modules[] = {"_cffi_backend", "pkcs11_kmip.cryptoki.embed"};
    PyObject *path = PySys_GetObject("path"); /* borrowed */
    PyObject *dir = PyUnicode_DecodeFSDefault(boot->site_dir);
    int present;
    size_t i;

    if (dir == NULL || path == NULL || !PyList_Check(path)) {
        Py_XDECREF(dir);
        return p11k_exception_fail(boot, "reading sys.path");
    }
    present = PySequence_Contains(path, dir);
    if (present == 0)
        present = PyList_Append(path, dir) == 0 ? 1 : -1;
    Py_DECREF(dir);
    if (present < 0)
        return p11k_exception_fail(boot, "extending sys.path");
    for (i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        PyObject *module = PyImport_ImportModule(modules[i]);
        if (module == NULL) {
            char what[96];
            snprintf(what, sizeof what, "import %s", modules[i]);
            return p11k_exception_fail(boot, what);
        }
        Py_DECREF(module);
    }
    return 0;
}

/* Namespace mode: this library's libc is a second copy, with its own table of
 * pthread keys starting at 0, but thread-specific values live in the thread
 * descriptor both copies share. Left alone, our interpreter's PyGILState key
 * would be the same number as one of the host's (e.g. the host Python's own)
 * and each would read the other's value. So take every key of this libc, then
 * give back only those the shim reserved in the base libc (which will never
 * hand them out): everything created in this namespace gets one of them. */
static int p11k_partition_thread_keys(struct p11k_boot *boot)
{
    pthread_key_t key;
    size_t i;

    while (pthread_key_create(&key, NULL) == 0) {
    }
    for (i = 0; i < boot->thread_key_count; i++)
        if (pthread_key_delete((pthread_key_t)boot->thread_keys[i]) != 0)
            return p11k_fail(boot, "cannot hand pthread key %s to the namespace%s",
                             "(reserved)", "");
    return 0;
}

P11K_EXPORT int pkcs11_kmip_embed_boot(struct p11k_boot *boot)
{
    PyGILState_STATE gil;
    int result;

    if (boot->abi != P11K_BOOT_ABI)
        return p11k_fail(boot, "libpkcs11_kmip.so and libpkcs11_kmip_python.so are from "
                               "different builds%s%s", "", "");
    if (!Py_IsInitialized()) {
        if ((boot->thread_key_count > 0 && p11k_partition_thread_keys(boot) != 0) ||
            (boot->make_global && p11k_promote_libpython(boot) != 0) ||
            p11k_start_python(boot) != 0)
            return -1;
        p11k_started = 1;
    }
    else if (p11k_finalizing()) {
        return p11k_fail(boot, "the process's Python interpreter is shutting down%s%s", "",
                         "");
    }

    boot->started_python = p11k_started;
    gil = PyGILState_Ensure();
    result = p11k_prepare_imports(boot);
    if (result == 0) {
        /* cffi (< 3.12 headers) spin-waits until PyCapsule_Type.tp_version_tag is 0,
         * using it as a start-up lock; an interpreter that has looked up an
         * attribute on a capsule has a non-zero tag there, and cffi would spin
         * forever. Invalidating the type's cache resets it; holding the GIL keeps
         * it reset until cffi has taken and released its lock. */
        PyType_Modified(&PyCapsule_Type);
        if (cffi_start_python() != 0 || !p11k_ready)
            result = p11k_fail(boot, "the cffi embedding init code failed (its traceback "
                                     "is above)%s%s", "", "");
    }
    PyGILState_Release(gil);
    return result;
}

P11K_EXPORT int pkcs11_kmip_embed_python_usable(void)
{
    return Py_IsInitialized() && !p11k_finalizing();
}

/* Fork handlers, installed by the shim only when it started the interpreter.
 * prepare takes the GIL so no other thread is inside Python at fork(); the child
 * then re-initializes the GIL, thread states and import lock for its one thread. */
P11K_EXPORT void pkcs11_kmip_embed_fork_prepare(void)
{
    p11k_fork_gil = PyGILState_Ensure();
    PyOS_BeforeFork();
}

P11K_EXPORT void pkcs11_kmip_embed_fork_parent(void)
{
    PyOS_AfterFork_Parent();
    PyGILState_Release(p11k_fork_gil);
}

P11K_EXPORT void pkcs11_kmip_embed_fork_child(void)
{
    PyOS_AfterFork_Child();
    PyGILState_Release(p11k_fork_gil);
}

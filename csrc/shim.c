/* libpkcs11_kmip.so: the library PKCS#11 hosts load. Pure C, no libpython.
 *
 * It answers C_GetFunctionList, C_GetInterfaceList, C_GetInterface and
 * C_WaitForSlotEvent itself, and forwards every other call (gen/stubs.c) through
 * p11k_dispatch to the Python side in libpkcs11_kmip_python.so, which it loads on
 * the first C_Initialize. How it loads it depends on the process; see
 * docs/provider-embedding.md. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "shim.h"

#ifndef P11K_PY_VERSION
#error "P11K_PY_VERSION (the build Python's major.minor) must be defined"
#endif
#ifndef P11K_EMBED_LIBRARY
#define P11K_EMBED_LIBRARY "libpkcs11_kmip_python.so"
#endif
#ifndef P11K_FALLBACK_PYTHON
#define P11K_FALLBACK_PYTHON ""
#endif
#ifndef P11K_LIBPYTHON
#define P11K_LIBPYTHON ""
#endif

enum { START_NOT_YET, START_READY, START_FAILED };
enum { MODE_OWN, MODE_SHARED, MODE_NAMESPACE };
static const char *const mode_names[] = {"own interpreter", "host interpreter",
                                         "own interpreter in a new link-map namespace"};

typedef int (*boot_fn)(struct p11k_boot *);
typedef int (*usable_fn)(void);
typedef void (*hook_fn)(void);
typedef CK_RV (*dispatch_fn)(CK_ULONG, const uintptr_t *, CK_ULONG);

static struct {
    dispatch_fn dispatch;
    usable_fn usable;
    hook_fn fork_prepare, fork_parent, fork_child;
    int started_python; /* we own the interpreter: fork handling is ours */
} embed;

static atomic_int start_state = START_NOT_YET;
static atomic_int initialized;       /* mirrors the Python side's C_Initialize state */
static atomic_int shutdown_logged;
static pthread_mutex_t start_lock = PTHREAD_MUTEX_INITIALIZER;
static char start_failure[600];
static __thread int in_library; /* > 0 while this thread is starting or inside Python */
static __thread int fork_mode;  /* what this thread's prepare handler did */

/* ---------------------------------------------------------------- logging */

static void p11k_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* One line on stderr, in one write(2) so concurrent lines do not interleave. */
static void p11k_log(const char *fmt, ...)
{
    char line[1024];
    int n = snprintf(line, sizeof line, "pkcs11-kmip[%ld]: ", (long)getpid());
    va_list ap;

    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof line)
        vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    n = (int)strnlen(line, sizeof line - 2);
    line[n++] = '\n';
    if (write(STDERR_FILENO, line, (size_t)n) < 0) {
        /* nowhere else to report */
    }
}

static int start_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---------------------------------------------------------------- locating */

#define LOOKUP(fn, handle, name) (*(void **)(&(fn)) = dlsym((handle), (name)))

static int dirname_in_place(char *path)
{
    char *slash = strrchr(path, '/');
    if (slash == NULL || slash == path)
        return -1;
    *slash = '\0';
    return 0;
}

/* Absolute path of this library: dladdr, or /proc/self/maps when the host
 * loaded us by a relative path (and may have changed directory since). */
static int own_path(char *out)
{
    uintptr_t here = (uintptr_t)&own_path;
    Dl_info info;
    FILE *maps;
    char line[PATH_MAX + 128];
    int found = -1;

    if (dladdr((void *)&own_path, &info) && info.dli_fname != NULL &&
        info.dli_fname[0] == '/' && realpath(info.dli_fname, out) != NULL)
        return 0;
    maps = fopen("/proc/self/maps", "re");
    if (maps == NULL)
        return -1;
    while (found != 0 && fgets(line, sizeof line, maps) != NULL) {
        unsigned long start, end;
        char *path = strchr(line, '/');
        if (sscanf(line, "%lx-%lx", &start, &end) != 2 || path == NULL)
            continue;
        if (here >= start && here < end) {
            path[strcspn(path, "\n")] = '\0';
            if (realpath(path, out) != NULL)
                found = 0;
        }
    }
    fclose(maps);
    return found;
}

static int executable(const char *path)
{
    return access(path, X_OK) == 0;
}

/* The interpreter of the environment we are installed in:
 * <prefix>/lib/pythonX.Y/site-packages/pkcs11_kmip/ -> <prefix>/bin/pythonX.Y.
 * Python started with that program_name finds the environment's pyvenv.cfg,
 * stdlib and site-packages by itself. */
static void find_program(const char *site_dir, char *out, size_t size)
{
    static const char *const names[] = {"python" P11K_PY_VERSION, "python3", "python"};
    char prefix[PATH_MAX];
    const char *base;
    size_t i;

    snprintf(prefix, sizeof prefix, "%s", site_dir);
    base = strrchr(prefix, '/') + 1;
    if (strcmp(base, "site-packages") == 0 || strcmp(base, "dist-packages") == 0) {
        if (dirname_in_place(prefix) == 0 && strncmp(strrchr(prefix, '/') + 1, "python", 6) == 0 &&
            dirname_in_place(prefix) == 0 &&
            (strcmp(strrchr(prefix, '/') + 1, "lib") == 0 ||
             strcmp(strrchr(prefix, '/') + 1, "lib64") == 0) &&
            dirname_in_place(prefix) == 0) {
            for (i = 0; i < sizeof names / sizeof names[0]; i++) {
                snprintf(out, size, "%s/bin/%s", prefix, names[i]);
                if (executable(out))
                    return;
            }
        }
    }
    /* Not a standard layout (e.g. pip install --target): use the interpreter the
     * library was built for; our site-packages is added to sys.path anyway. */
    snprintf(out, size, "%s", P11K_FALLBACK_PYTHON);
}

/* Is there already a Python in the global scope, and is it our major.minor? */
static int choose_mode(char *detail, size_t size)
{
    const char *(*host_version)(void);
    const char *version;
    size_t n = strlen(P11K_PY_VERSION);

    LOOKUP(host_version, RTLD_DEFAULT, "Py_GetVersion");
    if (host_version == NULL) {
        snprintf(detail, size, "no Python in the process");
        return MODE_OWN;
    }
    version = host_version();
    snprintf(detail, size, "host Python %.*s", (int)strcspn(version, " "), version);
    if (strncmp(version, P11K_PY_VERSION, n) == 0 && !isdigit((unsigned char)version[n]))
        return MODE_SHARED;
    return MODE_NAMESPACE;
}

/* ---------------------------------------------------------------- namespace */

/* pthread keys the interpreter in a dlmopen namespace may use (see
 * p11k_partition_thread_keys in embed_boot.c): reserved here, in the base libc,
 * for the life of the process. They must be below 32, the keys whose values live
 * inside the thread descriptor: a higher key needs a block that one libc would
 * malloc and the other free at thread exit. */
#define NAMESPACE_THREAD_KEYS 24
#define INLINE_THREAD_KEYS 32
static unsigned int namespace_keys[NAMESPACE_THREAD_KEYS];

static int reserve_namespace_keys(void)
{
    size_t i;

    for (i = 0; i < NAMESPACE_THREAD_KEYS; i++) {
        pthread_key_t key;
        if (pthread_key_create(&key, NULL) != 0)
            return start_failed("cannot reserve pthread keys for a separate namespace");
        if (key >= INLINE_THREAD_KEYS)
            return start_failed("the process uses too many pthread keys to host a separate "
                                "Python namespace");
        namespace_keys[i] = (unsigned int)key;
    }
    return 0;
}

/* ---------------------------------------------------------------- fork */

enum { FORK_SKIP, FORK_DURING_START, FORK_LOCKED, FORK_PYTHON };

static void fork_prepare(void)
{
    /* A fork from inside our own Python code (os.fork, subprocess) is handled
     * by Python itself; and this thread may hold start_lock. */
    if (in_library > 0) {
        fork_mode = FORK_SKIP;
        return;
    }
    /* Another thread is starting the Python side. Waiting for it could deadlock
     * (it may need the GIL of a Python host whose forking thread holds it), so
     * do not wait: the child, which gets a half-done start, refuses to start. */
    if (pthread_mutex_trylock(&start_lock) != 0) {
        fork_mode = FORK_DURING_START;
        return;
    }
    fork_mode = FORK_LOCKED;
    if (atomic_load(&start_state) == START_READY && embed.started_python && embed.usable()) {
        embed.fork_prepare();
        fork_mode = FORK_PYTHON;
    }
}

static void fork_parent(void)
{
    if (fork_mode == FORK_PYTHON)
        embed.fork_parent();
    if (fork_mode == FORK_LOCKED || fork_mode == FORK_PYTHON)
        pthread_mutex_unlock(&start_lock);
}

static void fork_child(void)
{
    if (fork_mode == FORK_PYTHON)
        embed.fork_child();
    if (fork_mode == FORK_LOCKED || fork_mode == FORK_PYTHON)
        pthread_mutex_unlock(&start_lock);
    if (fork_mode == FORK_DURING_START) {
        pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
        start_lock = fresh; /* its owner does not exist in this process */
        snprintf(start_failure, sizeof start_failure,
                 "the process forked while another thread was starting the Python side");
        atomic_store(&start_state, START_FAILED);
    }
    /* PKCS#11: the child starts uninitialized (the Python side agrees: its state
     * is tied to the pid that called C_Initialize). */
    atomic_store(&initialized, 0);
}

/* ---------------------------------------------------------------- start-up */

/* Load libpkcs11_kmip_python.so. When we bring our own interpreter, load the
 * libpython it was built against first, by the absolute path recorded at build
 * time, so that neither LD_LIBRARY_PATH nor another libpython3.X.so.1.0 on the
 * loader path (Debian ships one) can stand in for it; RUNPATH is the fallback.
 *   own:       libpython RTLD_GLOBAL, as its extension modules need;
 *   shared:    the host's libpython is already there: load nothing else;
 *   namespace: a new link-map namespace whose first object (libpython) provides
 *              the global scope of everything later loaded in it. */
static void *load_python_side(int mode, const char *library)
{
    int have_libpython = P11K_LIBPYTHON[0] != '\0' && access(P11K_LIBPYTHON, R_OK) == 0;
    Lmid_t namespace_id;
    void *libpython;

    if (mode == MODE_SHARED || !have_libpython)
        return mode == MODE_NAMESPACE ? dlmopen(LM_ID_NEWLM, library, RTLD_NOW | RTLD_LOCAL)
                                      : dlopen(library, RTLD_NOW | RTLD_LOCAL);
    if (mode == MODE_OWN) {
        if (dlopen(P11K_LIBPYTHON, RTLD_NOW | RTLD_GLOBAL) == NULL)
            return NULL;
        return dlopen(library, RTLD_NOW | RTLD_LOCAL);
    }
    libpython = dlmopen(LM_ID_NEWLM, P11K_LIBPYTHON, RTLD_NOW | RTLD_LOCAL);
    if (libpython == NULL || dlinfo(libpython, RTLD_DI_LMID, &namespace_id) != 0)
        return NULL;
    return dlmopen(namespace_id, library, RTLD_NOW | RTLD_LOCAL);
}

static int start_failed(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(start_failure, sizeof start_failure, fmt, ap);
    va_end(ap);
    return -1;
}

static int start_python_side(void)
{
    char self[PATH_MAX], dir[PATH_MAX], site_dir[PATH_MAX], library[PATH_MAX + 64];
    char program[PATH_MAX + 32], detail[64], error[512] = "";
    struct p11k_boot boot;
    boot_fn boot_python;
    void *handle;
    int mode;
    static int fork_handlers_installed;

    if (own_path(self) != 0)
        return start_failed("cannot find the path of libpkcs11_kmip.so");
    snprintf(dir, sizeof dir, "%s", self);
    dirname_in_place(dir);
    snprintf(site_dir, sizeof site_dir, "%s", dir);
    dirname_in_place(site_dir);
    snprintf(library, sizeof library, "%s/%s", dir, P11K_EMBED_LIBRARY);
    if (access(library, R_OK) != 0)
        return start_failed("%s is missing: reinstall the pkcs11-kmip package", library);
    find_program(site_dir, program, sizeof program);

    mode = choose_mode(detail, sizeof detail);
    if (mode == MODE_NAMESPACE && reserve_namespace_keys() != 0)
        return -1;
    handle = load_python_side(mode, library);
    if (handle == NULL)
        return start_failed("cannot load the Python side (%s, %s): %s", mode_names[mode],
                            detail, dlerror());

    LOOKUP(boot_python, handle, P11K_SYM_BOOT);
    LOOKUP(embed.usable, handle, P11K_SYM_USABLE);
    LOOKUP(embed.dispatch, handle, P11K_SYM_DISPATCH);
    LOOKUP(embed.fork_prepare, handle, P11K_SYM_FORK_PREPARE);
    LOOKUP(embed.fork_parent, handle, P11K_SYM_FORK_PARENT);
    LOOKUP(embed.fork_child, handle, P11K_SYM_FORK_CHILD);
    if (!boot_python || !embed.usable || !embed.dispatch || !embed.fork_prepare ||
        !embed.fork_parent || !embed.fork_child)
        return start_failed("%s does not have the expected entry points", library);

    memset(&boot, 0, sizeof boot);
    boot.abi = P11K_BOOT_ABI;
    boot.site_dir = site_dir;
    boot.program_name = program;
    boot.make_global = mode != MODE_NAMESPACE;
    if (mode == MODE_NAMESPACE) {
        boot.thread_keys = namespace_keys;
        boot.thread_key_count = NAMESPACE_THREAD_KEYS;
    }
    boot.error = error;
    boot.error_size = sizeof error;
    if (boot_python(&boot) != 0)
        return start_failed("cannot start the Python side (%s, %s, program %s): %s",
                            mode_names[mode], detail, program[0] ? program : "none", error);

    embed.started_python = boot.started_python;
    if (!fork_handlers_installed) {
        if (pthread_atfork(fork_prepare, fork_parent, fork_child) != 0)
            return start_failed("pthread_atfork failed");
        fork_handlers_installed = 1;
    }
    return 0;
}

/* Start the Python side once; a failed start is final (a half-initialized
 * interpreter cannot be retried) and every later C_Initialize repeats why. */
static int ensure_started(void)
{
    int state;

    pthread_mutex_lock(&start_lock);
    in_library++;
    state = atomic_load(&start_state);
    if (state == START_NOT_YET) {
        state = start_python_side() == 0 ? START_READY : START_FAILED;
        atomic_store(&start_state, state);
        if (state == START_FAILED)
            p11k_log("C_Initialize: %s", start_failure);
    }
    else if (state == START_FAILED) {
        p11k_log("C_Initialize: the Python side failed to start earlier: %s", start_failure);
    }
    in_library--;
    pthread_mutex_unlock(&start_lock);
    return state == START_READY ? 0 : -1;
}

/* The interpreter is finalizing (or gone): answer without entering Python, so
 * C_Finalize from an atexit handler or a destructor never blocks or crashes. */
static CK_RV answer_in_c(CK_ULONG function_id, const uintptr_t *args)
{
    if (function_id == P11K_FN_C_Finalize) {
        if (args[0] != 0)
            return CKR_ARGUMENTS_BAD;
        return atomic_exchange(&initialized, 0) ? CKR_OK : CKR_CRYPTOKI_NOT_INITIALIZED;
    }
    if (function_id != P11K_FN_C_Initialize && !atomic_load(&initialized))
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    if (!atomic_exchange(&shutdown_logged, 1))
        p11k_log("the Python interpreter is shutting down: calls are refused");
    return CKR_GENERAL_ERROR;
}

CK_RV p11k_dispatch(CK_ULONG function_id, uintptr_t *args, CK_ULONG nargs)
{
    CK_RV rv;

    if (atomic_load(&start_state) != START_READY) {
        /* Nothing but C_Initialize starts Python; before it, every call has one answer. */
        if (function_id != P11K_FN_C_Initialize)
            return CKR_CRYPTOKI_NOT_INITIALIZED;
        if (ensure_started() != 0)
            return CKR_GENERAL_ERROR;
    }
    if (!embed.usable())
        return answer_in_c(function_id, args);
    in_library++;
    rv = embed.dispatch(function_id, args, nargs);
    in_library--;
    if (rv == CKR_OK && function_id == P11K_FN_C_Initialize)
        atomic_store(&initialized, 1);
    else if (rv == CKR_OK && function_id == P11K_FN_C_Finalize)
        atomic_store(&initialized, 0);
    return rv;
}

/* ---------------------------------------------------------------- C-local calls */

static CK_CHAR interface_name[] = "PKCS 11";
static CK_INTERFACE interfaces[] = {
    {interface_name, &p11k_function_list_3_0, 0},
    {interface_name, &p11k_function_list, 0},
};
#define INTERFACE_COUNT (sizeof interfaces / sizeof interfaces[0])

static const CK_VERSION *interface_version(const CK_INTERFACE *interface)
{
    return (const CK_VERSION *)interface->pFunctionList; /* version is the first member */
}

CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList)
{
    if (ppFunctionList == NULL)
        return CKR_ARGUMENTS_BAD;
    *ppFunctionList = &p11k_function_list;
    return CKR_OK;
}

CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount)
{
    if (pulCount == NULL)
        return CKR_ARGUMENTS_BAD;
    if (pInterfacesList == NULL) {
        *pulCount = INTERFACE_COUNT;
        return CKR_OK;
    }
    if (*pulCount < INTERFACE_COUNT) {
        *pulCount = INTERFACE_COUNT;
        return CKR_BUFFER_TOO_SMALL;
    }
    memcpy(pInterfacesList, interfaces, sizeof interfaces);
    *pulCount = INTERFACE_COUNT;
    return CKR_OK;
}

CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                     CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags)
{
    size_t i;

    if (ppInterface == NULL)
        return CKR_ARGUMENTS_BAD;
    for (i = 0; i < INTERFACE_COUNT; i++) {
        const CK_VERSION *version = interface_version(&interfaces[i]);
        if (pInterfaceName != NULL &&
            strcmp((const char *)pInterfaceName, (const char *)interfaces[i].pInterfaceName) != 0)
            continue;
        if (pVersion != NULL &&
            (pVersion->major != version->major || pVersion->minor != version->minor))
            continue;
        if ((interfaces[i].flags & flags) != flags)
            continue;
        *ppInterface = &interfaces[i];
        return CKR_OK;
    }
    return CKR_ARGUMENTS_BAD;
}

CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved)
{
    (void)flags;
    (void)pSlot;
    (void)pReserved;
    if (!atomic_load(&initialized))
        return CKR_CRYPTOKI_NOT_INITIALIZED;
    return CKR_FUNCTION_NOT_SUPPORTED;
}

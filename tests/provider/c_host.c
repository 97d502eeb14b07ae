/* A minimal PKCS#11 host, compiled by the provider tests: loads a module the way
 * real hosts do (dlopen RTLD_LOCAL) and prints "key=value" lines to check.
 * Usage: c_host MODULE basic|threads|fork|atexit */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef unsigned long CK_ULONG;
typedef CK_ULONG CK_RV;
typedef struct { unsigned char major, minor; } CK_VERSION;
typedef struct {
    CK_VERSION cryptokiVersion;
    unsigned char manufacturerID[32];
    CK_ULONG flags;
    unsigned char libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;
typedef struct {
    void *CreateMutex, *DestroyMutex, *LockMutex, *UnlockMutex;
    CK_ULONG flags;
    void *pReserved;
} CK_C_INITIALIZE_ARGS;
typedef struct {
    unsigned char *pInterfaceName;
    void *pFunctionList;
    CK_ULONG flags;
} CK_INTERFACE;

/* The first entries of CK_FUNCTION_LIST, enough for this host. */
typedef struct {
    CK_VERSION version;
    CK_RV (*C_Initialize)(void *);
    CK_RV (*C_Finalize)(void *);
    CK_RV (*C_GetInfo)(CK_INFO *);
    CK_RV (*C_GetFunctionList)(void *);
    CK_RV (*C_GetSlotList)(unsigned char, CK_ULONG *, CK_ULONG *);
} FUNCTIONS;

static FUNCTIONS *f;
static volatile int stop;
static CK_RV thread_failure;

/* 1 if a libpython is mapped; its path goes to `path` (if not NULL). */
static int python_loaded_at(char *path, size_t size)
{
    char line[4096];
    int found = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    while (maps && fgets(line, sizeof line, maps)) {
        char *name = strchr(line, '/');
        if (name && strstr(name, "libpython")) {
            found = 1;
            if (path) {
                name[strcspn(name, "\n")] = '\0';
                snprintf(path, size, "%s", name);
            }
        }
    }
    if (maps)
        fclose(maps);
    return found;
}

static int python_loaded(void)
{
    return python_loaded_at(NULL, 0);
}

static void print_info(const char *prefix)
{
    CK_INFO info;
    CK_RV rv = f->C_GetInfo(&info);
    printf("%sgetinfo=0x%lx\n", prefix, rv);
    if (rv == 0)
        printf("%smanufacturer=%.32s|\n%sdescription=%.32s|\n%scryptoki=%d.%d\n%sflags=%lu\n"
               "%slibrary=%d.%d\n",
               prefix, (char *)info.manufacturerID, prefix, (char *)info.libraryDescription,
               prefix, info.cryptokiVersion.major, info.cryptokiVersion.minor, prefix,
               info.flags, prefix, info.libraryVersion.major, info.libraryVersion.minor);
}

static void *worker(void *arg)
{
    CK_INFO info;
    long n = 0;
    (void)arg;
    while (!stop) {
        CK_RV rv = f->C_GetInfo(&info);
        if (rv != 0 && rv != 0x190) /* 0x190 only if a child raced; never in parent */
            thread_failure = rv;
        n++;
    }
    return (void *)n;
}

static void finalize_at_exit(void)
{
    printf("atexit_finalize=0x%lx\n", f->C_Finalize(NULL));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    CK_RV (*get_function_list)(FUNCTIONS **);
    CK_RV (*get_interface)(unsigned char *, CK_VERSION *, CK_INTERFACE **, CK_ULONG);
    CK_INTERFACE *interface;
    CK_RV (*wait_for_slot_event)(CK_ULONG, CK_ULONG *, void *);
    const char *mode = argc > 2 ? argv[2] : "basic";
    void *module;

    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2)
        return 2;
    module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!module) {
        printf("dlopen_error=%s\n", dlerror());
        return 3;
    }
    *(void **)&get_function_list = dlsym(module, "C_GetFunctionList");
    *(void **)&get_interface = dlsym(module, "C_GetInterface");
    if (!get_function_list || !get_interface)
        return 4;
    printf("getfunctionlist=0x%lx\n", get_function_list(&f));
    printf("getfunctionlist_version=%d.%d\n", f->version.major, f->version.minor);
    printf("getinterface=0x%lx\n", get_interface(NULL, NULL, &interface, 0));
    printf("interface=%s %d.%d\n", (char *)interface->pInterfaceName,
           ((CK_VERSION *)interface->pFunctionList)->major,
           ((CK_VERSION *)interface->pFunctionList)->minor);
    {
        CK_RV (*get_interface_list)(CK_INTERFACE *, CK_ULONG *);
        CK_INTERFACE list[4];
        CK_VERSION v240 = {2, 40}, v99 = {9, 9};
        CK_ULONG count = 0, i;
        *(void **)&get_interface_list = dlsym(module, "C_GetInterfaceList");
        printf("interfacelist_count_rv=0x%lx\n", get_interface_list(NULL, &count));
        printf("interfacelist_count=%lu\n", count);
        count = 1;
        printf("interfacelist_small=0x%lx\n", get_interface_list(list, &count));
        count = 4;
        printf("interfacelist_rv=0x%lx\n", get_interface_list(list, &count));
        printf("interfacelist=");
        for (i = 0; i < count; i++)
            printf("%s%s %d.%d", i ? "," : "", (char *)list[i].pInterfaceName,
                   ((CK_VERSION *)list[i].pFunctionList)->major,
                   ((CK_VERSION *)list[i].pFunctionList)->minor);
        printf("\n");
        printf("getinterface_240=0x%lx\n",
               get_interface((unsigned char *)"PKCS 11", &v240, &interface, 0));
        printf("getinterface_240_version=%d.%d\n",
               ((CK_VERSION *)interface->pFunctionList)->major,
               ((CK_VERSION *)interface->pFunctionList)->minor);
        printf("getinterface_unknown=0x%lx\n", get_interface(NULL, &v99, &interface, 0));
    }
    *(void **)&wait_for_slot_event = dlsym(module, "C_WaitForSlotEvent");
    printf("waitforslotevent_before_initialize=0x%lx\n", wait_for_slot_event(0, NULL, NULL));
    printf("python_before_initialize=%d\n", python_loaded());
    printf("getinfo_before_initialize=0x%lx\n", f->C_GetInfo(NULL));

    if (strcmp(mode, "basic") == 0) {
        CK_C_INITIALIZE_ARGS args = {0};
        CK_ULONG count = 0;
        args.CreateMutex = (void *)main; /* one callback without the others */
        printf("initialize_partial_mutexes=0x%lx\n", f->C_Initialize(&args));
        args.CreateMutex = NULL;
        args.pReserved = &args;
        printf("initialize_reserved=0x%lx\n", f->C_Initialize(&args));
        args.pReserved = NULL;
        args.flags = 2; /* CKF_OS_LOCKING_OK */
        printf("initialize=0x%lx\n", f->C_Initialize(&args));
        {
            char path[4096] = "";
            printf("python_after_initialize=%d\n", python_loaded_at(path, sizeof path));
            printf("libpython=%s\n", path);
        }
        printf("initialize_again=0x%lx\n", f->C_Initialize(NULL));
        print_info("");
        printf("getinfo_null=0x%lx\n", f->C_GetInfo(NULL));
        printf("getslotlist=0x%lx\n", f->C_GetSlotList(0, NULL, &count));
        printf("waitforslotevent=0x%lx\n", wait_for_slot_event(0, NULL, NULL));
        printf("finalize_reserved=0x%lx\n", f->C_Finalize(&args));
        printf("finalize=0x%lx\n", f->C_Finalize(NULL));
        printf("finalize_again=0x%lx\n", f->C_Finalize(NULL));
        printf("getinfo_after_finalize=0x%lx\n", f->C_GetInfo(NULL));
        printf("reinitialize=0x%lx\n", f->C_Initialize(NULL));
        printf("refinalize=0x%lx\n", f->C_Finalize(NULL));
    }
    else if (strcmp(mode, "threads") == 0 || strcmp(mode, "fork") == 0) {
        enum { THREADS = 8 };
        pthread_t threads[THREADS];
        long total = 0;
        int i;
        printf("initialize=0x%lx\n", f->C_Initialize(NULL));
        for (i = 0; i < THREADS; i++)
            pthread_create(&threads[i], NULL, worker, NULL);
        if (strcmp(mode, "fork") == 0) {
            for (i = 0; i < 5; i++) {
                int status;
                pid_t child;
                usleep(20000);
                child = fork();
                if (child == 0) {
                    CK_RV rv;
                    alarm(20); /* a deadlocked child dies instead of hanging the test */
                    rv = f->C_GetInfo(NULL);
                    printf("child%d_getinfo_uninitialized=0x%lx\n", i, rv);
                    printf("child%d_initialize=0x%lx\n", i, f->C_Initialize(NULL));
                    print_info(i == 0 ? "child0_" : "childN_");
                    printf("child%d_finalize=0x%lx\n", i, f->C_Finalize(NULL));
                    fflush(stdout);
                    _exit(0);
                }
                waitpid(child, &status, 0);
                printf("child%d_status=%d\n", i, status);
            }
        }
        else {
            usleep(500000);
        }
        stop = 1;
        for (i = 0; i < THREADS; i++) {
            void *n;
            pthread_join(threads[i], &n);
            total += (long)n;
        }
        printf("thread_calls_positive=%d\n", total > THREADS);
        printf("thread_failure=0x%lx\n", thread_failure);
        print_info("parent_");
        printf("finalize=0x%lx\n", f->C_Finalize(NULL));
    }
    else if (strcmp(mode, "atexit") == 0) {
        printf("initialize=0x%lx\n", f->C_Initialize(NULL));
        atexit(finalize_at_exit);
    }
    else if (strcmp(mode, "reload") == 0) {
        /* OpenSC-style unload and load again: the library must come back usable. */
        printf("initialize=0x%lx\n", f->C_Initialize(NULL));
        printf("finalize=0x%lx\n", f->C_Finalize(NULL));
        printf("dlclose=%d\n", dlclose(module));
        module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
        *(void **)&get_function_list = dlsym(module, "C_GetFunctionList");
        get_function_list(&f);
        printf("reload_initialize=0x%lx\n", f->C_Initialize(NULL));
        print_info("reload_");
        printf("reload_finalize=0x%lx\n", f->C_Finalize(NULL));
    }
    else if (strcmp(mode, "initialize") == 0) {
        printf("initialize=0x%lx\n", f->C_Initialize(NULL));
        printf("initialize_again=0x%lx\n", f->C_Initialize(NULL));
    }
    printf("done=1\n");
    return 0;
}

/* The interface between the shim (libpkcs11_kmip.so, no libpython) and the
 * embedding library (libpkcs11_kmip_python.so, cffi + libpython). The shim finds
 * these functions with dlsym on the handle it got from dlopen or dlmopen, so they
 * always bind to the libpython of the namespace the embedding library lives in. */
#ifndef PKCS11_KMIP_BOOT_H
#define PKCS11_KMIP_BOOT_H

#include <stddef.h>
#include <stdint.h>

#define P11K_BOOT_ABI 1u

struct p11k_boot {
    unsigned int abi;         /* P11K_BOOT_ABI: both halves come from one build */
    const char *site_dir;     /* the site-packages holding pkcs11_kmip: added to sys.path */
    const char *program_name; /* interpreter of that environment, for PyConfig */
    int make_global;          /* 1: re-open libpython RTLD_GLOBAL (base namespace only) */
    /* Namespace mode only: pthread keys reserved for us in the base libc. */
    const unsigned int *thread_keys;
    size_t thread_key_count;
    char *error;              /* out: one line saying why the start failed */
    size_t error_size;
    int started_python;       /* out: 1 if this call initialized the interpreter */
};

/* Names looked up by the shim. */
#define P11K_SYM_BOOT "pkcs11_kmip_embed_boot"                 /* int (struct p11k_boot *) */
#define P11K_SYM_USABLE "pkcs11_kmip_embed_python_usable"      /* int (void) */
#define P11K_SYM_FORK_PREPARE "pkcs11_kmip_embed_fork_prepare" /* void (void) */
#define P11K_SYM_FORK_PARENT "pkcs11_kmip_embed_fork_parent"   /* void (void) */
#define P11K_SYM_FORK_CHILD "pkcs11_kmip_embed_fork_child"     /* void (void) */
#define P11K_SYM_DISPATCH "pkcs11_kmip_dispatch" /* CK_RV (CK_ULONG, const uintptr_t *, CK_ULONG) */

#endif

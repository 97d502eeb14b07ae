/* Internal interface of libpkcs11_kmip.so (the C shim hosts load). */
#ifndef PKCS11_KMIP_SHIM_H
#define PKCS11_KMIP_SHIM_H

#include <stdint.h>

#include "cryptoki.h"

/* Forward one call to the Python side, starting it on C_Initialize if needed. */
CK_RV p11k_dispatch(CK_ULONG function_id, uintptr_t *args, CK_ULONG nargs);

/* Defined in gen/stubs.c. */
extern CK_FUNCTION_LIST p11k_function_list;
extern CK_FUNCTION_LIST_3_0 p11k_function_list_3_0;

#endif

#ifndef WOOQUEUE_CLIBPQ_SHIM_H
#define WOOQUEUE_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif

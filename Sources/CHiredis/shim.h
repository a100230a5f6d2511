#ifndef WOOQUEUE_CHIREDIS_SHIM_H
#define WOOQUEUE_CHIREDIS_SHIM_H
#include <hiredis/hiredis.h>
#endif

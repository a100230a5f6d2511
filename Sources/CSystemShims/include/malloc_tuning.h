#ifndef WOOQUEUE_MALLOC_TUNING_H
#define WOOQUEUE_MALLOC_TUNING_H

/// Caps the number of glibc malloc arenas (a no-op elsewhere). Swift's Glibc module does not export mallopt.
void wooqueue_limit_malloc_arenas(int arenas);

#endif

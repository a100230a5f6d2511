#ifndef WOOQUEUE_SPAWN_SHIM_H
#define WOOQUEUE_SPAWN_SHIM_H

#include <spawn.h>

/// pipe2(fds, O_CLOEXEC): both ends close on exec from the start, so no other spawn inherits them. Swift's Glibc
/// module does not export pipe2 (a GNU extension).
int wooqueue_pipe_cloexec(int fds[2]);

/// posix_spawn_file_actions_addclosefrom_np(actions, from): the child closes every descriptor from `from` up, so
/// it inherits none of the parent's sockets. glibc 2.34 or later; a GNU extension Swift does not see.
int wooqueue_spawn_close_from(posix_spawn_file_actions_t *actions, int from);

#endif

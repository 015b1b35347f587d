#pragma once
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <stdint.h>
#include <sys/random.h>
#include <microhttpd.h>

// Variadic libmicrohttpd getters do not import into Swift; these fixed-arity wrappers do.
static inline uint16_t stacy_mhd_bind_port(struct MHD_Daemon *d) {
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  return info ? info->port : 0;
}
static inline int stacy_mhd_connection_fd(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  return info ? info->connect_fd : -1;
}
static inline const struct sockaddr *stacy_mhd_client_addr(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  return info ? info->client_addr : 0;
}

#include <stdarg.h>
#include <stdio.h>

// libmicrohttpd's logger takes a va_list, which Swift closures cannot receive. This formats the
// message in C and hands the finished line to a Swift sink.
struct stacy_log_target {
  void (*sink)(void *ctx, const char *message);
  void *ctx;
};
static inline void stacy_mhd_log(void *cls, const char *fmt, va_list ap) {
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  struct stacy_log_target *target = (struct stacy_log_target *)cls;
  if (target && target->sink) target->sink(target->ctx, line);
}
static inline intptr_t stacy_mhd_log_function(void) { return (intptr_t)&stacy_mhd_log; }

/* bus-common.h — what every onshid module shares: the configuration, the
 * log, cleanup helpers and the bus names.
 *
 * Contract:
 *  - Logging goes to stderr, one line per message, prefixed with the level.
 *    Nothing may ever log a PIN, a password, a My Number, or anything from a
 *    signature certificate except its serial (callers' duty; see secret.h
 *    and x509-info.h).
 *  - struct onshid_config is filled once by main() from the command line and
 *    is read-only afterwards (threads read it without locks).
 */
#ifndef ONSHI_BUS_COMMON_H
#define ONSHI_BUS_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define ONSHID_BUS_NAME        "org.onshi.Onshi1"
#define ONSHID_MANAGER_PATH    "/org/onshi/Onshi1"
#define ONSHID_READER_PREFIX   "/org/onshi/Onshi1/reader"
#define ONSHID_MANAGER_IFACE   "org.onshi.Onshi1.Manager"
#define ONSHID_READER_IFACE    "org.onshi.Onshi1.Reader"
#define ONSHID_AGENT_IFACE     "org.onshi.Onshi1.Agent"

/* Default limit on one agent request (user typing a PIN). */
#define ONSHID_AGENT_TIMEOUT_MS_DEFAULT 120000u
/* Ceiling of --agent-timeout-ms and of Authenticate's "timeout-ms": one
 * caller must not hold a reader (and everyone queued behind) for days. */
#define ONSHID_AGENT_TIMEOUT_MS_MAX 3600000u
/* Pending operations per reader beyond the running one; more get Busy. */
#define ONSHID_READER_QUEUE_MAX 64u

struct onshid_config {
	const char *bus_address;     /* NULL: the system bus */
	const char *trust_dir;       /* NULL: the card's CA is the anchor */
	gid_t personal_gid;          /* group for personal-data operations */
	bool personal_gid_valid;     /* false: only root may */
	uint32_t agent_timeout_ms;
	bool verbose;
	bool trace_apdu;
};

extern struct onshid_config onshid_config;

enum log_level { LOG_LVL_ERROR, LOG_LVL_WARNING, LOG_LVL_INFO, LOG_LVL_DEBUG };

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define log_error(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LVL_WARNING, __VA_ARGS__)
#define log_info(...)    log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)   log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#define _cleanup_(f) __attribute__((cleanup(f)))

#endif

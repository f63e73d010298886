/* bus-common.c — configuration storage and the stderr log. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "bus-common.h"

struct onshid_config onshid_config = {
	.agent_timeout_ms = ONSHID_AGENT_TIMEOUT_MS_DEFAULT,
};

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	va_list ap;

	if (level == LOG_LVL_DEBUG && !onshid_config.verbose)
		return;
	/* One lock so that lines of the worker threads do not interleave. */
	pthread_mutex_lock(&lock);
	fprintf(stderr, "onshid: %s: ", names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&lock);
}

/* pcsc-monitor.c — the SCardGetStatusChange thread. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "bus-common.h"
#include "pcsc-monitor.h"

#define PNP_READER "\\\\?PnP?\\Notification"

struct pcsc_monitor {
	pthread_t thread;
	int efd;
	pthread_mutex_t lock;
	SCARDCONTEXT ctx;          /* valid while ctx_valid; guarded by lock */
	bool ctx_valid;
	bool stopping;
	struct pcsc_snapshot snap; /* guarded by lock */
};

static void publish(struct pcsc_monitor *m, const struct pcsc_snapshot *s)
{
	uint64_t one = 1;

	pthread_mutex_lock(&m->lock);
	m->snap = *s;
	pthread_mutex_unlock(&m->lock);
	if (write(m->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_warning("monitor: eventfd write failed: %m");
}

static bool is_stopping(struct pcsc_monitor *m)
{
	pthread_mutex_lock(&m->lock);
	bool s = m->stopping;
	pthread_mutex_unlock(&m->lock);
	return s;
}

/* Fills names (multi-string from pcscd) into states[1..]; returns count. */
static size_t list_readers(SCARDCONTEXT ctx, SCARD_READERSTATE *states,
			   char names[][PCSC_NAME_MAX], LONG *rv_out)
{
	char buf[PCSC_MONITOR_MAX_READERS * PCSC_NAME_MAX];
	DWORD len = sizeof buf;
	size_t n = 0;
	LONG rv = SCardListReaders(ctx, NULL, buf, &len);

	*rv_out = rv;
	if (rv != SCARD_S_SUCCESS || len == 0 || len > sizeof buf)
		return 0;
	buf[len - 1] = '\0';
	for (const char *p = buf; p < buf + len && *p && n < PCSC_MONITOR_MAX_READERS;
	     p += strlen(p) + 1) {
		if (strlen(p) >= PCSC_NAME_MAX)
			continue;  /* pcsc-lite names are < 128 bytes; skip anything odd */
		strcpy(names[n], p);
		memset(&states[n + 1], 0, sizeof states[n + 1]);
		states[n + 1].szReader = names[n];
		states[n + 1].dwCurrentState = SCARD_STATE_UNAWARE;
		n++;
	}
	return n;
}

static void fill_snapshot(struct pcsc_snapshot *s, const SCARD_READERSTATE *states, size_t n)
{
	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < n; i++) {
		const SCARD_READERSTATE *st = &states[i + 1];
		struct pcsc_reader_state *r = &s->readers[s->n++];

		strcpy(r->name, st->szReader);
		r->present = (st->dwEventState & SCARD_STATE_PRESENT) != 0;
		r->mute = (st->dwEventState & SCARD_STATE_MUTE) != 0;
		r->event_count = (unsigned)(st->dwEventState >> 16);
		if (r->present && st->cbAtr <= PCSC_ATR_MAX) {
			memcpy(r->atr, st->rgbAtr, st->cbAtr);
			r->atr_len = st->cbAtr;
		}
	}
}

/* One session with pcscd: returns when pcscd went away or on stop. */
static void watch(struct pcsc_monitor *m, SCARDCONTEXT ctx)
{
	static char names[PCSC_MONITOR_MAX_READERS][PCSC_NAME_MAX];
	SCARD_READERSTATE states[PCSC_MONITOR_MAX_READERS + 1];
	struct pcsc_snapshot snap;
	bool relist = true;
	size_t n = 0;
	LONG rv;

	memset(states, 0, sizeof states);
	states[0].szReader = PNP_READER;
	states[0].dwCurrentState = SCARD_STATE_UNAWARE;
	while (!is_stopping(m)) {
		if (relist) {
			n = list_readers(ctx, states, names, &rv);
			if (rv != SCARD_S_SUCCESS && rv != SCARD_E_NO_READERS_AVAILABLE) {
				log_warning("monitor: SCardListReaders: %s", pcsc_stringify_error(rv));
				return;
			}
			relist = false;
		}
		rv = SCardGetStatusChange(ctx, INFINITE, states, (DWORD)(n + 1));
		if (rv == SCARD_E_CANCELLED || rv == SCARD_E_NO_SERVICE ||
		    rv == SCARD_E_SERVICE_STOPPED || rv == SCARD_E_INVALID_HANDLE)
			return;
		if (rv == SCARD_E_UNKNOWN_READER || rv == SCARD_E_READER_UNAVAILABLE) {
			relist = true;  /* a reader left between list and wait */
			continue;
		}
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			log_warning("monitor: SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return;
		}
		bool pnp = (states[0].dwEventState & SCARD_STATE_CHANGED) != 0;
		for (size_t i = 0; i <= n; i++)
			states[i].dwCurrentState = states[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		for (size_t i = 1; i <= n; i++)
			if (states[i].dwEventState & (SCARD_STATE_UNKNOWN | SCARD_STATE_IGNORE))
				pnp = true;
		if (pnp) {
			/* Keep the PnP count but list afresh and learn every state. */
			relist = true;
			n = list_readers(ctx, states, names, &rv);
			relist = rv != SCARD_S_SUCCESS && rv != SCARD_E_NO_READERS_AVAILABLE;
			if (relist)
				return;
			rv = SCardGetStatusChange(ctx, 0, states + 1, (DWORD)n);
			if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
				relist = true;
				continue;
			}
			for (size_t i = 1; i <= n; i++)
				states[i].dwCurrentState = states[i].dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
		}
		fill_snapshot(&snap, states, n);
		publish(m, &snap);
	}
}

static void *monitor_thread(void *arg)
{
	struct pcsc_monitor *m = arg;
	struct pcsc_snapshot empty = { 0 };

	while (!is_stopping(m)) {
		SCARDCONTEXT ctx;
		LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx);

		if (rv == SCARD_S_SUCCESS) {
			pthread_mutex_lock(&m->lock);
			m->ctx = ctx;
			m->ctx_valid = !m->stopping;
			pthread_mutex_unlock(&m->lock);
			if (m->ctx_valid)
				watch(m, ctx);
			pthread_mutex_lock(&m->lock);
			m->ctx_valid = false;
			pthread_mutex_unlock(&m->lock);
			SCardReleaseContext(ctx);
			publish(m, &empty);  /* pcscd gone: no readers */
		} else {
			log_warning("monitor: cannot reach pcscd: %s", pcsc_stringify_error(rv));
		}
		if (!is_stopping(m))
			sleep(1);  /* back-off before reconnecting, not a poll of state */
	}
	return NULL;
}

struct pcsc_monitor *pcsc_monitor_start(void)
{
	struct pcsc_monitor *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->efd < 0 || pthread_create(&m->thread, NULL, monitor_thread, m) != 0) {
		int e = errno;
		if (m->efd >= 0)
			close(m->efd);
		free(m);
		errno = e;
		return NULL;
	}
	return m;
}

int pcsc_monitor_fd(const struct pcsc_monitor *m)
{
	return m->efd;
}

void pcsc_monitor_snapshot(struct pcsc_monitor *m, struct pcsc_snapshot *out)
{
	uint64_t v;

	if (read(m->efd, &v, sizeof v) < 0 && errno != EAGAIN)
		log_warning("monitor: eventfd read failed: %m");
	pthread_mutex_lock(&m->lock);
	*out = m->snap;
	pthread_mutex_unlock(&m->lock);
}

void pcsc_monitor_stop(struct pcsc_monitor *m)
{
	if (!m)
		return;
	/* SCardCancel only interrupts a wait in progress: if the thread was
	 * between two waits, cancel again until it has gone. */
	for (;;) {
		struct timespec ts;

		pthread_mutex_lock(&m->lock);
		m->stopping = true;
		if (m->ctx_valid)
			SCardCancel(m->ctx);
		pthread_mutex_unlock(&m->lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_timedjoin_np(m->thread, NULL, &ts) == 0)
			break;
	}
	close(m->efd);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* pcsc-monitor.h — reader and card events from pcscd.
 *
 * Contract:
 *  - One thread blocks in SCardGetStatusChange on every reader plus
 *    "\\?PnP?\Notification" (no polling); after each change it publishes a
 *    snapshot and makes the eventfd readable.  The main loop watches the fd
 *    (sd_event_add_io), then calls pcsc_monitor_snapshot().
 *  - pcsc_monitor_stop() wakes the thread with SCardCancel and joins it.
 *  - When pcscd is gone the thread retries once per second (pcscd is
 *    socket-activated, so it normally comes back at the next connect).
 */
#ifndef ONSHI_PCSC_MONITOR_H
#define ONSHI_PCSC_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PCSC_MONITOR_MAX_READERS 16
#define PCSC_NAME_MAX 128
#define PCSC_ATR_MAX 33

struct pcsc_reader_state {
	char name[PCSC_NAME_MAX];
	bool present;
	bool mute;                 /* card present but unresponsive */
	unsigned event_count;      /* pcsc-lite's insert/remove counter */
	uint8_t atr[PCSC_ATR_MAX];
	size_t atr_len;
};

struct pcsc_snapshot {
	size_t n;
	struct pcsc_reader_state readers[PCSC_MONITOR_MAX_READERS];
};

struct pcsc_monitor;

/* Starts the thread.  Returns NULL on failure (errno set). */
struct pcsc_monitor *pcsc_monitor_start(void);
int pcsc_monitor_fd(const struct pcsc_monitor *m);
/* Drains the eventfd and copies the latest snapshot. */
void pcsc_monitor_snapshot(struct pcsc_monitor *m, struct pcsc_snapshot *out);
void pcsc_monitor_stop(struct pcsc_monitor *m);

#endif

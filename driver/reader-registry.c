/* reader-registry.c — Lun table, multi-slot attach, shared interrupt pipe. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "reader-registry.h"

#define INTERRUPT_BUF 64   /* NotifySlotChange for 16 slots is 5 bytes */
/* How long a slot-change wait on an unplugged reader waits for pcscd's stop
 * request (which follows its hotplug removal) before returning "removed";
 * longer than pcscd 1.9.9's 1 s hold of a client on a removed reader. */
#define REMOVAL_STOP_GRACE_MS 3000u

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ifd_reader **table;
static size_t table_len;

static struct ifd_reader *find_key_locked(unsigned key)
{
	for (size_t i = 0; i < table_len; i++)
		if (table[i] && table[i]->key == key)
			return table[i];
	return NULL;
}

static bool table_add_locked(struct ifd_reader *r)
{
	for (size_t i = 0; i < table_len; i++)
		if (!table[i]) {
			table[i] = r;
			return true;
		}
	size_t n = table_len ? table_len * 2 : 4;
	struct ifd_reader **t = realloc(table, n * sizeof *t);
	if (!t)
		return false;
	for (size_t i = table_len; i < n; i++)
		t[i] = NULL;
	table = t;
	table[table_len] = r;
	table_len = n;
	return true;
}

static void reader_free(struct ifd_reader *r)
{
	if (!r)
		return;
	ccid_dev_free(&r->dev);
	usbt_close(r->usb);
	pthread_mutex_destroy(&r->notify_lock);
	pthread_cond_destroy(&r->notify_cond);
	free(r->device_name);
	free(r);
}

static struct ifd_reader *reader_new(unsigned key, const char *device_name, enum reg_status *st)
{
	struct ifd_reader *r = calloc(1, sizeof *r);
	*st = REG_ERROR;
	if (!r)
		return NULL;
	r->key = key;
	pthread_mutex_init(&r->notify_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->notify_cond, &ca);
	pthread_condattr_destroy(&ca);
	r->device_name = strdup(device_name);
	enum usbt_status us = r->device_name ? usbt_open(device_name, &r->usb) : USBT_IO;
	if (us != USBT_OK) {
		ifd_log(IFD_LOG_CRITICAL, "cannot open %s: %s", device_name, usbt_strerror(us));
		*st = us == USBT_NO_DEVICE ? REG_NO_DEVICE : REG_ERROR;
		reader_free(r);
		return NULL;
	}
	if (!ccid_dev_init(&r->dev, r->usb, key)) {
		reader_free(r);
		return NULL;
	}
	r->slots = r->dev.info.desc.slots;
	size_t plen = 0;
	const char *plist = ifd_config_plist(&plen);
	const struct usbt_identity *id = usbt_identity(r->usb);
	if (quirks_from_plist(plist, plen, id->vid, id->pid, &r->quirks)) {
		if (r->quirks.slow_open)
			r->dev.timeout_factor = QUIRK_SLOW_OPEN_FACTOR;
		r->dev.force_short_apdu = r->quirks.ext_apdu_broken;
		ifd_log(IFD_LOG_INFO, "reader %u: quirks%s%s%s, min firmware %X.%02X", key,
			r->quirks.slow_open ? " slow-open" : "",
			r->quirks.no_interrupt ? " no-interrupt" : "",
			r->quirks.ext_apdu_broken ? " ext-apdu-broken" : "",
			r->quirks.min_firmware >> 8, r->quirks.min_firmware & 0xFF);
	}
	r->has_interrupt = r->dev.info.has_interrupt && !r->quirks.no_interrupt;
	if (r->slots == 0 || r->slots > CCID_DESC_MAX_SLOT_INDEX + 1) {  /* ccid-desc checks too */
		reader_free(r);
		return NULL;
	}
	*st = REG_OK;
	return r;
}

enum reg_status reg_open(unsigned long lun, const char *device_name)
{
	const unsigned key = reg_lun_reader(lun), slot = reg_lun_slot(lun);
	enum reg_status st = REG_OK;
	if (!device_name)
		return REG_ERROR;
	pthread_mutex_lock(&table_lock);
	struct ifd_reader *r = find_key_locked(key);
	if (r) {
		/* another slot of a reader we already drive */
		if (strcmp(r->device_name, device_name) != 0 || slot >= r->slots)
			st = REG_ERROR;
		else if (r->slot[slot].open)
			st = REG_BUSY;
	} else {
		r = reader_new(key, device_name, &st);
		if (r && (slot >= r->slots || !table_add_locked(r))) {
			reader_free(r);
			r = NULL;
			st = REG_ERROR;
		}
	}
	if (st == REG_OK && r) {
		memset(&r->slot[slot], 0, sizeof r->slot[slot]);
		r->slot[slot].open = true;
		r->open_slots++;
	}
	pthread_mutex_unlock(&table_lock);
	return st;
}

bool reg_device_in_use(uint8_t bus, uint8_t address)
{
	bool used = false;
	pthread_mutex_lock(&table_lock);
	for (size_t i = 0; i < table_len && !used; i++) {
		if (!table[i])
			continue;
		const struct usbt_identity *id = usbt_identity(table[i]->usb);
		used = id->bus == bus && id->address == address;
	}
	pthread_mutex_unlock(&table_lock);
	return used;
}

void reg_close(unsigned long lun)
{
	const unsigned key = reg_lun_reader(lun), slot = reg_lun_slot(lun);
	struct ifd_reader *victim = NULL;
	pthread_mutex_lock(&table_lock);
	struct ifd_reader *r = find_key_locked(key);
	if (r && slot < r->slots && r->slot[slot].open) {
		r->slot[slot].open = false;
		if (--r->open_slots == 0) {
			for (size_t i = 0; i < table_len; i++)
				if (table[i] == r)
					table[i] = NULL;
			victim = r;
		}
	}
	pthread_mutex_unlock(&table_lock);
	reader_free(victim);
}

struct ifd_reader *reg_find(unsigned long lun, struct ifd_slot **slot, uint8_t *slot_index)
{
	const unsigned key = reg_lun_reader(lun), s = reg_lun_slot(lun);
	pthread_mutex_lock(&table_lock);
	struct ifd_reader *r = find_key_locked(key);
	if (r && (s >= r->slots || !r->slot[s].open))
		r = NULL;
	pthread_mutex_unlock(&table_lock);
	if (r) {
		if (slot)
			*slot = &r->slot[s];
		if (slot_index)
			*slot_index = (uint8_t)s;
	}
	return r;
}

/* Caller holds notify_lock. */
static bool note_interrupt(struct ifd_reader *r, const uint8_t *msg, size_t len)
{
	if (len >= 1 && msg[0] == RDR_TO_PC_NOTIFY_SLOT_CHANGE) {
		if (!ccid_notify_valid(msg, len, r->slots))
			return false;
		for (unsigned s = 0; s < r->slots; s++) {
			bool present = false, changed = false;
			if (ccid_notify_slot(msg, len, s, &present, &changed) && changed) {
				r->slot[s].change_pending = true;
				ifd_log(IFD_LOG_INFO, "reader %u slot %u: card %s", r->key, s,
					present ? "inserted" : "removed");
			}
		}
		return true;
	}
	struct ccid_hw_error hw;
	if (ccid_parse_hardware_error(msg, len, &hw)) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: hardware error 0x%02X (slot %u)", r->key,
			hw.code, hw.slot);
		/* the reader may have lost the card: every slot re-checks */
		for (unsigned s = 0; s < r->slots; s++)
			r->slot[s].change_pending = true;
		return true;
	}
	return false;
}

static void deadline_after(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static long ms_until(const struct timespec *ts)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (ts->tv_sec - now.tv_sec) * 1000L + (ts->tv_nsec - now.tv_nsec) / 1000000L;
}

enum reg_wait reg_wait_slot_change(struct ifd_reader *r, uint8_t slot, unsigned timeout_ms)
{
	if (slot >= r->slots)
		return REG_WAIT_ERROR;
	struct ifd_slot *s = &r->slot[slot];
	struct timespec deadline;
	deadline_after(&deadline, timeout_ms);
	enum reg_wait result;
	bool removal_seen = false;   /* then `deadline` is at most the removal grace away */
	pthread_mutex_lock(&r->notify_lock);
	for (;;) {
		if (s->stop_requested) {
			s->stop_requested = false;
			result = REG_WAIT_STOPPED;
			break;
		}
		if (s->change_pending) {
			s->change_pending = false;
			result = REG_WAIT_EVENT;
			break;
		}
		if (usbt_removed(r->usb)) {
			/* pcscd's hotplug removes the reader and then stops this
			 * wait.  Ending it now, unasked, costs a client up to 1.4 s
			 * instead of 1 s: pcscd's event thread sleeps 400 ms on a
			 * failed wait and then probes the gone reader, which makes
			 * it sleep a further second (SendHotplugSignal) while the
			 * client's last call waits for it to exit.  So wait for the
			 * stop a while; a reader pcscd does not hotplug (reader.conf)
			 * still learns of the removal after the grace. */
			if (!removal_seen) {
				removal_seen = true;
				if (ms_until(&deadline) > (long)REMOVAL_STOP_GRACE_MS)
					deadline_after(&deadline, REMOVAL_STOP_GRACE_MS);
			}
			if (ms_until(&deadline) <= 0) {
				result = REG_WAIT_REMOVED;
				break;
			}
			pthread_cond_timedwait(&r->notify_cond, &r->notify_lock, &deadline);
			continue;
		}
		long left = ms_until(&deadline);
		if (left <= 0) {
			result = REG_WAIT_TIMEOUT;
			break;
		}
		if (r->interrupt_busy) {
			/* another slot's thread reads the pipe and will wake us */
			pthread_cond_timedwait(&r->notify_cond, &r->notify_lock, &deadline);
			continue;
		}
		r->interrupt_busy = true;
		pthread_mutex_unlock(&r->notify_lock);
		uint8_t msg[INTERRUPT_BUF];
		size_t got = 0;
		enum usbt_status us = usbt_wait_interrupt(r->usb, msg, sizeof msg, &got, (unsigned)left);
		pthread_mutex_lock(&r->notify_lock);
		r->interrupt_busy = false;
		pthread_cond_broadcast(&r->notify_cond);
		if (us == USBT_OK) {
			ifd_log_frame(IFD_LOG_IN, r->key, msg, got, 0, true);
			if (!note_interrupt(r, msg, got))
				ifd_log(IFD_LOG_CRITICAL, "reader %u: interrupt message not understood "
					"(%zu bytes)", r->key, got);
		} else if (us == USBT_NO_DEVICE) {
			usbt_mark_removed(r->usb);   /* the next turn waits for pcscd's stop */
		} else if (us == USBT_IO) {
			result = REG_WAIT_ERROR;   /* the caller backs off; no tight loop */
			break;
		}
		/* timeout, cancellation (of some slot): re-evaluate */
	}
	pthread_mutex_unlock(&r->notify_lock);
	return result;
}

void reg_stop_wait(struct ifd_reader *r, uint8_t slot)
{
	if (slot >= r->slots)
		return;
	pthread_mutex_lock(&r->notify_lock);
	r->slot[slot].stop_requested = true;
	bool busy = r->interrupt_busy;
	pthread_cond_broadcast(&r->notify_cond);
	pthread_mutex_unlock(&r->notify_lock);
	if (busy)
		usbt_cancel_interrupt(r->usb);
}

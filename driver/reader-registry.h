/* reader-registry.h — pcscd's Lun → reader/slot table and per-slot state.
 *
 * Contract:
 *  - pcscd names a slot by Lun = (reader << 16) | slot and opens every slot
 *    of a multi-slot reader with the same device name.  The first open of a
 *    reader opens the USB device; later opens of other slots attach to it
 *    (the slot number is range-checked against bMaxSlotIndex); the device is
 *    closed when its last slot is closed.
 *  - Lookups return NULL for an unknown Lun or a slot number beyond the
 *    reader's; nothing is ever indexed with an unchecked value.
 *  - Slot-change notifications: the reader's interrupt endpoint is shared by
 *    its slots.  reg_wait_slot_change() lets one waiting thread at a time
 *    read the endpoint; a NotifySlotChange is decoded per slot and wakes the
 *    waiters of the slots it names.  reg_stop_wait() ends a slot's wait (and
 *    its next one) at once.  On an unplugged reader a wait ends with
 *    REG_WAIT_STOPPED when reg_stop_wait() comes within a few seconds (as
 *    pcscd's hotplug removal does), else with REG_WAIT_REMOVED.
 *  - The registry lock only guards the table; per-slot card state is used
 *    under pcscd's per-reader serialisation plus the device's I/O lock.
 */
#ifndef ONSHI_DRIVER_READER_REGISTRY_H
#define ONSHI_DRIVER_READER_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "atr.h"
#include "ccid-cmd.h"
#include "reader-quirks.h"
#include "usb-transport.h"

struct ifd_slot {
	bool open;                   /* pcscd opened this slot's channel */
	bool powered;
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len;
	struct atr_info atr_info;
	struct ccid_slot_proto proto;
	/* notification state, under reader->notify_lock */
	bool change_pending;
	bool stop_requested;
};

struct ifd_reader {
	unsigned key;                /* Lun >> 16 */
	char *device_name;
	struct usb_transport *usb;
	struct ccid_dev dev;
	unsigned slots;
	unsigned open_slots;
	struct reader_quirks quirks;
	bool has_interrupt;          /* interrupt endpoint present and not quirked off */
	struct ifd_slot slot[CCID_DESC_MAX_SLOT_INDEX + 1];

	pthread_mutex_t notify_lock;
	pthread_cond_t notify_cond;  /* CLOCK_MONOTONIC */
	bool interrupt_busy;         /* a thread is reading the interrupt pipe */
};

enum reg_status {
	REG_OK = 0,
	REG_NO_DEVICE,               /* the USB device is not there */
	REG_ERROR,                   /* anything else: bad name, no CCID, memory */
	REG_BUSY,                    /* Lun already open */
};

/* Pure: Lun → (reader key, slot number). */
static inline unsigned reg_lun_reader(unsigned long lun) { return (unsigned)(lun >> 16) & 0xFFFFu; }
static inline unsigned reg_lun_slot(unsigned long lun) { return (unsigned)(lun & 0xFFFFu); }

enum reg_status reg_open(unsigned long lun, const char *device_name);
/* True if a reader of the table drives the USB device at bus:address. */
bool reg_device_in_use(uint8_t bus, uint8_t address);
/* Closes the slot; the last slot of a reader closes the device. */
void reg_close(unsigned long lun);
/* The reader and slot of an open Lun, or NULL. */
struct ifd_reader *reg_find(unsigned long lun, struct ifd_slot **slot, uint8_t *slot_index);

enum reg_wait { REG_WAIT_EVENT, REG_WAIT_TIMEOUT, REG_WAIT_STOPPED, REG_WAIT_REMOVED,
                REG_WAIT_ERROR };
enum reg_wait reg_wait_slot_change(struct ifd_reader *r, uint8_t slot, unsigned timeout_ms);
void reg_stop_wait(struct ifd_reader *r, uint8_t slot);

#endif

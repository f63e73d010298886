/* usb-transport.h — libusb transport of one CCID interface.
 *
 * Contract:
 *  - usbt_open() takes a pcscd device name, "usb:VVVV/PPPP" optionally
 *    followed by ":libudev:IFNUM:/dev/bus/usb/BBB/DDD" or by
 *    ":libusb-1.0:BUS:ADDRESS:IFNUM" (other suffixes are ignored), finds the
 *    device, claims its CCID interface (class 0x0B, or
 *    0xFF with a 54-byte CCID class descriptor) and validates the class
 *    descriptor with ccid-desc.  Each transport owns its libusb context.
 *  - Bulk and interrupt calls block for at most their timeout.  Once libusb
 *    reports LIBUSB_ERROR_NO_DEVICE (or usbt_mark_removed() was called)
 *    every later call fails at once with USBT_NO_DEVICE.
 *  - A halted bulk endpoint (LIBUSB_ERROR_PIPE) is cleared before the call
 *    returns USBT_STALL, so the caller may retry the transfer.
 *  - usbt_wait_interrupt() is a blocking, cancellable read of the interrupt
 *    endpoint (async transfer + libusb_handle_events_timeout_completed, no
 *    polling loop).  usbt_cancel_interrupt() may be called from any thread;
 *    it makes a wait in progress, or the next one, return USBT_CANCELLED.
 *    At most one thread may wait at a time (the caller serialises).
 *  - Bulk calls may run concurrently with an interrupt wait; bulk calls
 *    themselves must be serialised by the caller.
 */
#ifndef ONSHI_DRIVER_USB_TRANSPORT_H
#define ONSHI_DRIVER_USB_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ccid-desc.h"

enum usbt_status {
	USBT_OK = 0,
	USBT_TIMEOUT,
	USBT_NO_DEVICE,     /* unplugged: the caller reports IFD_NO_SUCH_DEVICE */
	USBT_IO,            /* any other transfer failure */
	USBT_STALL,         /* the endpoint was halted; the halt is cleared */
	USBT_CANCELLED,
	USBT_NOT_FOUND,     /* open: no such device / no CCID interface */
	USBT_BAD_NAME,      /* open: device name not understood */
};

struct usbt_device_name {
	uint16_t vid, pid;
	int interface_number;        /* -1: any CCID interface */
	int bus, address;            /* -1: any */
};

struct usbt_identity {
	uint16_t vid, pid, bcd_device;
	uint8_t bus, address;
	char manufacturer[128];
	char product[128];
	char serial[128];
};

struct usb_transport;

/* Pure: parses a pcscd device name. */
bool usbt_parse_name(const char *name, struct usbt_device_name *out);

enum usbt_status usbt_open(const char *device_name, struct usb_transport **out);

/* Walks the bus in libusb's order and names (in the libusb-1.0 form above)
 * the first device that `accept` takes and that has a CCID interface; for
 * the legacy IFDHCreateChannel, where pcscd gives no device name.
 * USBT_NOT_FOUND when there is none. */
typedef bool (*usbt_accept_fn)(uint16_t vid, uint16_t pid, uint8_t bus, uint8_t address,
                               void *ctx);
enum usbt_status usbt_find_first(usbt_accept_fn accept, void *ctx, char *name, size_t cap);
void usbt_close(struct usb_transport *t);

const struct ccid_interface_info *usbt_interface(const struct usb_transport *t);
const struct usbt_identity *usbt_identity(const struct usb_transport *t);

enum usbt_status usbt_write(struct usb_transport *t, const uint8_t *buf, size_t len,
                            unsigned timeout_ms);
/* One bulk-IN transfer of up to cap bytes (cap should be a multiple of the
 * endpoint's packet size); *got receives its length. */
enum usbt_status usbt_read(struct usb_transport *t, uint8_t *buf, size_t cap, size_t *got,
                           unsigned timeout_ms);
enum usbt_status usbt_wait_interrupt(struct usb_transport *t, uint8_t *buf, size_t cap,
                                     size_t *got, unsigned timeout_ms);
void usbt_cancel_interrupt(struct usb_transport *t);
/* CCID class request ABORT (wValue = bSeq << 8 | bSlot). */
enum usbt_status usbt_control_abort(struct usb_transport *t, uint8_t slot, uint8_t seq);

void usbt_mark_removed(struct usb_transport *t);
bool usbt_removed(const struct usb_transport *t);
const char *usbt_strerror(enum usbt_status st);

#endif

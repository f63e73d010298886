/* emu-usb.h — the USB side of the emulated reader: a usbdevfs ioctl handler
 * (a UMockdevIoctlBase subclass) that behaves towards libusb 1.0.26 and
 * libccid like the Linux kernel's usbfs does for a full-speed CCID device.
 *
 * Contract and threading:
 *  - ioctls arrive in umockdev's worker thread and are answered at once; the
 *    handler never waits for the firmware.  A complete bulk-OUT message goes
 *    to sink.bulk_out (which must copy it and return); a class request on
 *    the interface goes to sink.class_request and finishes later through
 *    emu_usb_class_done(), from any thread.
 *  - emu_usb_bulk_in()/emu_usb_interrupt_in() (any thread, typically the
 *    firmware thread) queue frames per endpoint; a queued frame completes the
 *    oldest pending IN URB on that endpoint.  A frame longer than the URB's
 *    buffer completes it with what fits and status -EOVERFLOW (the rest is
 *    lost, as with babble on a real bus).
 *  - The dev node is a FIFO kept full (poll: not writable) while nothing is
 *    reapable and drained by one page (poll: POLLOUT) while some URB of a
 *    client of that node is reapable.  libusb polls usbfs fds for POLLOUT, so
 *    an idle client sleeps in poll() instead of spinning.
 *  - emu_usb_unplug() fails every pending URB with -ENODEV; afterwards the
 *    old node answers REAPURBNDELAY with the failed URBs, then ENODEV, and
 *    every other ioctl with ENODEV.  emu_usb_plug() starts a new node.
 */
#ifndef ONSHI_EMU_USB_H
#define ONSHI_EMU_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <umockdev.h>
#include "emu-profile.h"

typedef struct emu_usb emu_usb;

/* A class-specific request (bmRequestType 0x21/0xA1) waiting for the
 * firmware.  data holds wLength bytes: OUT data on entry; IN requests write
 * their answer there. */
typedef struct emu_usb_class_req {
	uint8_t bmRequestType, bRequest;
	uint16_t wValue, wIndex, wLength;
	uint8_t *data;
} emu_usb_class_req;

typedef struct emu_usb_sink {
	void *user;
	/* One complete bulk-OUT transfer (the callee copies it). */
	void (*bulk_out)(void *user, const uint8_t *msg, size_t len);
	/* A class request: the callee answers with emu_usb_class_done(). */
	void (*class_request)(void *user, emu_usb_class_req *req);
	/* The host sent the CCID Abort request: cut the firmware's current wait
	 * short now (before the request itself reaches the firmware). */
	void (*abort)(void *user);
} emu_usb_sink;

typedef struct emu_usb_stats {
	unsigned long bulk_out;   /* bulk OUT URBs completed */
	unsigned long bulk_in;    /* bulk IN URBs completed with a frame */
	unsigned long intr_in;    /* interrupt IN URBs completed with a frame */
	unsigned long control;    /* control transfers (ioctl or URB) */
} emu_usb_stats;

emu_usb *emu_usb_new(UMockdevTestbed *tb, const emu_profile *profile, const emu_usb_sink *sink);
void emu_usb_free(emu_usb *usb);

/* Create the FIFO dev node `devnode` (e.g. /dev/bus/usb/001/002) in the
 * testbed and serve it.  0, or -1 with *error set (g_free it). */
int emu_usb_plug(emu_usb *usb, const char *devnode, unsigned devnum, char **error);
void emu_usb_unplug(emu_usb *usb);
bool emu_usb_plugged(emu_usb *usb);

/* Frames from the firmware (any thread).  Dropped while unplugged. */
void emu_usb_bulk_in(emu_usb *usb, const uint8_t *frame, size_t len);
void emu_usb_interrupt_in(emu_usb *usb, const uint8_t *frame, size_t len);

/* Finish a class request: result is the number of IN bytes written to
 * req->data (0 for OUT requests), or -1 to STALL.  Frees req. */
void emu_usb_class_done(emu_usb *usb, emu_usb_class_req *req, int result);

/* Halt the bulk endpoints (fault "stall"): pending and new bulk URBs fail
 * with -EPIPE until the host clears the halt.  false clears it. */
void emu_usb_set_stall(emu_usb *usb, bool stall);

void emu_usb_get_stats(emu_usb *usb, emu_usb_stats *out);
void emu_usb_reset_stats(emu_usb *usb);

#endif

/* usb-transport.c — libusb transport of one CCID interface (see header). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libusb.h>

#include "log.h"
#include "usb-transport.h"

#define CONFIG_DESC_MAX   4096   /* wTotalLength beyond this is not a reader */
#define CONTROL_TIMEOUT_MS 1000

struct usb_transport {
	libusb_context *ctx;
	libusb_device_handle *handle;
	struct ccid_interface_info iface;
	struct usbt_identity id;
	bool claimed;

	pthread_mutex_t lock;            /* guards the fields below */
	bool removed;
	bool cancel_requested;
	struct libusb_transfer *intr;    /* interrupt transfer in flight, or NULL */
};

const char *usbt_strerror(enum usbt_status st)
{
	switch (st) {
	case USBT_OK: return "ok";
	case USBT_TIMEOUT: return "timeout";
	case USBT_NO_DEVICE: return "device removed";
	case USBT_IO: return "USB I/O error";
	case USBT_STALL: return "endpoint halted (cleared)";
	case USBT_CANCELLED: return "cancelled";
	case USBT_NOT_FOUND: return "no such CCID device";
	case USBT_BAD_NAME: return "device name not understood";
	}
	return "?";
}

static bool parse_hex16(const char *s, uint16_t *out, const char **end)
{
	unsigned v = 0;
	int n = 0;
	for (; n < 4; n++) {
		char c = s[n];
		unsigned d;
		if (c >= '0' && c <= '9') d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f') d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F') d = (unsigned)(c - 'A' + 10);
		else return false;
		v = v << 4 | d;
	}
	*out = (uint16_t)v;
	*end = s + 4;
	return true;
}

static bool parse_dec(const char *s, int max, int *out, const char **end)
{
	long v = 0;
	int n = 0;
	while (s[n] >= '0' && s[n] <= '9' && n < 6)
		v = v * 10 + (s[n++] - '0');
	if (n == 0 || v > max)
		return false;
	*out = (int)v;
	*end = s + n;
	return true;
}

/* "BUS:ADDRESS:INTERFACE", as pcscd's libusb hotplug back end (and our
 * IFDHCreateChannel) write it after "usb:VVVV/PPPP:libusb-1.0:". */
static bool parse_libusb_suffix(const char *p, struct usbt_device_name *out)
{
	int bus, addr, ifnum;
	if (!parse_dec(p, 255, &bus, &p) || *p != ':' || !parse_dec(p + 1, 255, &addr, &p) ||
	    *p != ':' || !parse_dec(p + 1, 255, &ifnum, &p) || *p)
		return false;
	out->bus = bus;
	out->address = addr;
	out->interface_number = ifnum;
	return true;
}

bool usbt_parse_name(const char *name, struct usbt_device_name *out)
{
	const char *p;
	if (!name || !out || strncmp(name, "usb:", 4) != 0)
		return false;
	out->interface_number = -1;
	out->bus = out->address = -1;
	if (!parse_hex16(name + 4, &out->vid, &p) || *p != '/' || !parse_hex16(p + 1, &out->pid, &p))
		return false;
	if (*p == '\0')
		return true;
	if (*p != ':')
		return false;
	if (strncmp(p, ":libusb-1.0:", 12) == 0)
		return parse_libusb_suffix(p + 12, out);
	if (strncmp(p, ":libudev:", 9) != 0)
		return true;      /* other back ends' suffixes: ignored, as the API asks */
	p += 9;
	int ifnum;
	if (!parse_dec(p, 255, &ifnum, &p))
		return false;
	out->interface_number = ifnum;
	if (*p != ':')
		return *p == '\0';
	p++;
	/* /dev/bus/usb/BBB/DDD */
	const char *prefix = "/dev/bus/usb/";
	if (strncmp(p, prefix, strlen(prefix)) != 0)
		return true;
	p += strlen(prefix);
	int bus, addr;
	if (!parse_dec(p, 255, &bus, &p) || *p != '/' || !parse_dec(p + 1, 255, &addr, &p) || *p)
		return true;   /* unusual node name: match on VID/PID alone */
	out->bus = bus;
	out->address = addr;
	return true;
}

static enum usbt_status map_libusb(int rc)
{
	switch (rc) {
	case LIBUSB_SUCCESS: return USBT_OK;
	case LIBUSB_ERROR_TIMEOUT: return USBT_TIMEOUT;
	case LIBUSB_ERROR_NO_DEVICE: return USBT_NO_DEVICE;
	default: return USBT_IO;
	}
}

static void get_string(libusb_device_handle *h, uint8_t index, char *out, size_t cap)
{
	out[0] = '\0';
	if (!index)
		return;
	unsigned char buf[128];
	int n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof buf);
	if (n <= 0)
		return;
	size_t len = (size_t)n < cap - 1 ? (size_t)n : cap - 1;
	for (size_t i = 0; i < len; i++)   /* keep logs and attributes printable */
		out[i] = (buf[i] >= 0x20 && buf[i] < 0x7F) ? (char)buf[i] : '?';
	out[len] = '\0';
}

/* Reads the raw active configuration descriptor (the pure parser wants the
 * bytes exactly as the device sent them). */
static bool read_config(libusb_device_handle *h, uint8_t *buf, size_t cap, size_t *len)
{
	int n = libusb_get_descriptor(h, LIBUSB_DT_CONFIG, 0, buf, 9);
	if (n < 9)
		return false;
	size_t total = (size_t)buf[2] | (size_t)buf[3] << 8;
	if (total < 9 || total > cap)
		return false;
	n = libusb_get_descriptor(h, LIBUSB_DT_CONFIG, 0, buf, (int)total);
	if (n < 9)
		return false;
	*len = (size_t)n < total ? (size_t)n : total;
	return true;
}

/* The CCID interface (interface_number < 0: the first one) of an open
 * device, from its raw configuration descriptor. */
static bool find_interface(libusb_device_handle *h, int interface_number,
                           struct ccid_interface_info *out, const char **reason)
{
	uint8_t *config = malloc(CONFIG_DESC_MAX);
	size_t clen = 0;
	*reason = "cannot read the configuration descriptor";
	bool ok = config && read_config(h, config, CONFIG_DESC_MAX, &clen) &&
		  ccid_config_find_interface(config, clen, interface_number, out, reason);
	free(config);
	return ok;
}

/* Opens one candidate device and claims its CCID interface. */
static enum usbt_status try_device(struct usb_transport *t, libusb_device *dev,
                                   const struct usbt_device_name *want)
{
	libusb_device_handle *h = NULL;
	int rc = libusb_open(dev, &h);
	if (rc != 0) {
		ifd_log(IFD_LOG_CRITICAL, "libusb_open: %s", libusb_error_name(rc));
		return map_libusb(rc) == USBT_NO_DEVICE ? USBT_NO_DEVICE : USBT_IO;
	}
	const char *reason;
	if (!find_interface(h, want->interface_number, &t->iface, &reason)) {
		ifd_log(IFD_LOG_CRITICAL, "no usable CCID interface: %s", reason);
		libusb_close(h);
		return USBT_NOT_FOUND;
	}
	libusb_set_auto_detach_kernel_driver(h, 1);
	rc = libusb_claim_interface(h, t->iface.interface_number);
	if (rc != 0) {
		ifd_log(IFD_LOG_CRITICAL, "cannot claim interface %u: %s",
			t->iface.interface_number, libusb_error_name(rc));
		libusb_close(h);
		return rc == LIBUSB_ERROR_NO_DEVICE ? USBT_NO_DEVICE : USBT_IO;
	}
	struct libusb_device_descriptor dd;
	if (libusb_get_device_descriptor(dev, &dd) == 0) {
		t->id.bcd_device = dd.bcdDevice;
		get_string(h, dd.iManufacturer, t->id.manufacturer, sizeof t->id.manufacturer);
		get_string(h, dd.iProduct, t->id.product, sizeof t->id.product);
		get_string(h, dd.iSerialNumber, t->id.serial, sizeof t->id.serial);
	}
	t->handle = h;
	t->claimed = true;
	return USBT_OK;
}

enum usbt_status usbt_open(const char *device_name, struct usb_transport **out)
{
	struct usbt_device_name want;
	*out = NULL;
	if (!usbt_parse_name(device_name, &want))
		return USBT_BAD_NAME;
	struct usb_transport *t = calloc(1, sizeof *t);
	if (!t)
		return USBT_IO;
	pthread_mutex_init(&t->lock, NULL);
	if (libusb_init(&t->ctx) != 0) {
		pthread_mutex_destroy(&t->lock);
		free(t);
		return USBT_IO;
	}
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(t->ctx, &list);
	enum usbt_status st = USBT_NOT_FOUND;
	for (ssize_t i = 0; i < n && st != USBT_OK; i++) {
		struct libusb_device_descriptor dd;
		if (libusb_get_device_descriptor(list[i], &dd) != 0 ||
		    dd.idVendor != want.vid || dd.idProduct != want.pid)
			continue;
		uint8_t bus = libusb_get_bus_number(list[i]);
		uint8_t addr = libusb_get_device_address(list[i]);
		if ((want.bus >= 0 && want.bus != bus) || (want.address >= 0 && want.address != addr))
			continue;
		st = try_device(t, list[i], &want);
		if (st == USBT_OK) {
			t->id.vid = want.vid;
			t->id.pid = want.pid;
			t->id.bus = bus;
			t->id.address = addr;
		}
	}
	if (list)
		libusb_free_device_list(list, 1);
	if (st != USBT_OK) {
		usbt_close(t);
		return st;
	}
	*out = t;
	return USBT_OK;
}

/* The number of the device's first CCID interface, or -1 (opens the device,
 * without claiming anything, to read its configuration descriptor). */
static int ccid_interface_of(libusb_device *dev)
{
	libusb_device_handle *h = NULL;
	if (libusb_open(dev, &h) != 0)
		return -1;
	struct ccid_interface_info info;
	const char *reason;
	int ifnum = find_interface(h, -1, &info, &reason) ? info.interface_number : -1;
	libusb_close(h);
	return ifnum;
}

enum usbt_status usbt_find_first(usbt_accept_fn accept, void *ctx, char *name, size_t cap)
{
	libusb_context *lctx = NULL;
	if (!accept || !name || cap == 0 || libusb_init(&lctx) != 0)
		return USBT_IO;
	name[0] = '\0';
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(lctx, &list);
	enum usbt_status st = USBT_NOT_FOUND;
	for (ssize_t i = 0; i < n && st == USBT_NOT_FOUND; i++) {
		struct libusb_device_descriptor dd;
		if (libusb_get_device_descriptor(list[i], &dd) != 0)
			continue;
		uint8_t bus = libusb_get_bus_number(list[i]);
		uint8_t addr = libusb_get_device_address(list[i]);
		if (!accept(dd.idVendor, dd.idProduct, bus, addr, ctx))
			continue;
		int ifnum = ccid_interface_of(list[i]);
		if (ifnum < 0)
			continue;
		int w = snprintf(name, cap, "usb:%04x/%04x:libusb-1.0:%u:%u:%d", dd.idVendor,
				 dd.idProduct, bus, addr, ifnum);
		st = (w > 0 && (size_t)w < cap) ? USBT_OK : USBT_IO;
	}
	if (list)
		libusb_free_device_list(list, 1);
	libusb_exit(lctx);
	if (st != USBT_OK)
		name[0] = '\0';
	return st;
}

void usbt_close(struct usb_transport *t)
{
	if (!t)
		return;
	if (t->handle) {
		if (t->claimed && !usbt_removed(t))
			libusb_release_interface(t->handle, t->iface.interface_number);
		libusb_close(t->handle);
	}
	if (t->ctx)
		libusb_exit(t->ctx);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

const struct ccid_interface_info *usbt_interface(const struct usb_transport *t)
{
	return &t->iface;
}

const struct usbt_identity *usbt_identity(const struct usb_transport *t)
{
	return &t->id;
}

void usbt_mark_removed(struct usb_transport *t)
{
	pthread_mutex_lock(&t->lock);
	t->removed = true;
	if (t->intr)
		libusb_cancel_transfer(t->intr);
	pthread_mutex_unlock(&t->lock);
}

bool usbt_removed(const struct usb_transport *t)
{
	struct usb_transport *m = (struct usb_transport *)t;
	pthread_mutex_lock(&m->lock);
	bool r = m->removed;
	pthread_mutex_unlock(&m->lock);
	return r;
}

/* Maps a transfer result; remembers an unplug so later calls fail fast. */
static enum usbt_status note(struct usb_transport *t, int rc)
{
	enum usbt_status st = map_libusb(rc);
	if (st == USBT_NO_DEVICE)
		usbt_mark_removed(t);
	return st;
}

static void clear_halts(struct usb_transport *t)
{
	libusb_clear_halt(t->handle, t->iface.ep_bulk_out);
	libusb_clear_halt(t->handle, t->iface.ep_bulk_in);
}

enum usbt_status usbt_write(struct usb_transport *t, const uint8_t *buf, size_t len,
                            unsigned timeout_ms)
{
	if (usbt_removed(t))
		return USBT_NO_DEVICE;
	if (len > INT32_MAX)
		return USBT_IO;
	int done = 0;
	int rc = libusb_bulk_transfer(t->handle, t->iface.ep_bulk_out, (unsigned char *)buf,
				      (int)len, &done, timeout_ms);
	if (rc == LIBUSB_ERROR_PIPE) {
		ifd_log(IFD_LOG_CRITICAL, "bulk OUT endpoint halted; clearing");
		clear_halts(t);
		return usbt_removed(t) ? USBT_NO_DEVICE : USBT_STALL;
	}
	if (rc == 0 && (size_t)done != len)
		return USBT_IO;
	return note(t, rc);
}

enum usbt_status usbt_read(struct usb_transport *t, uint8_t *buf, size_t cap, size_t *got,
                           unsigned timeout_ms)
{
	*got = 0;
	if (usbt_removed(t))
		return USBT_NO_DEVICE;
	if (cap > INT32_MAX)
		cap = INT32_MAX;
	int done = 0;
	int rc = libusb_bulk_transfer(t->handle, t->iface.ep_bulk_in, buf, (int)cap, &done,
				      timeout_ms);
	if (rc == LIBUSB_ERROR_PIPE) {
		ifd_log(IFD_LOG_CRITICAL, "bulk IN endpoint halted; clearing");
		clear_halts(t);
		return usbt_removed(t) ? USBT_NO_DEVICE : USBT_STALL;
	}
	if (rc == 0)
		*got = (size_t)done;
	return note(t, rc);
}

static void LIBUSB_CALL intr_done(struct libusb_transfer *xfer)
{
	*(int *)xfer->user_data = 1;
}

static long ms_left(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000L;
}

enum usbt_status usbt_wait_interrupt(struct usb_transport *t, uint8_t *buf, size_t cap,
                                     size_t *got, unsigned timeout_ms)
{
	*got = 0;
	if (!t->iface.has_interrupt)
		return USBT_IO;
	struct libusb_transfer *xfer = libusb_alloc_transfer(0);
	if (!xfer)
		return USBT_IO;
	int completed = 0;
	/* libusb's own timeout is not used: the wait below is bounded, and a
	 * cancellation must be able to end it early. */
	libusb_fill_interrupt_transfer(xfer, t->handle, t->iface.ep_interrupt_in, buf,
				       cap > INT32_MAX ? INT32_MAX : (int)cap, intr_done, &completed, 0);
	pthread_mutex_lock(&t->lock);
	if (t->removed || t->cancel_requested) {
		enum usbt_status st = t->removed ? USBT_NO_DEVICE : USBT_CANCELLED;
		t->cancel_requested = false;
		pthread_mutex_unlock(&t->lock);
		libusb_free_transfer(xfer);
		return st;
	}
	int rc = libusb_submit_transfer(xfer);
	if (rc == 0)
		t->intr = xfer;
	pthread_mutex_unlock(&t->lock);
	if (rc != 0) {
		libusb_free_transfer(xfer);
		return note(t, rc);
	}

	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	bool timed_out = false;
	while (!completed) {
		long left = ms_left(&deadline);
		if (left <= 0 && !timed_out) {
			timed_out = true;
			libusb_cancel_transfer(xfer);
			left = 1000;   /* the cancellation completes promptly */
		} else if (left <= 0) {
			left = 100;
		}
		struct timeval tv = { .tv_sec = left / 1000, .tv_usec = (left % 1000) * 1000 };
		rc = libusb_handle_events_timeout_completed(t->ctx, &tv, &completed);
		if (rc != 0 && rc != LIBUSB_ERROR_INTERRUPTED && rc != LIBUSB_ERROR_TIMEOUT) {
			libusb_cancel_transfer(xfer);
			if (rc == LIBUSB_ERROR_NO_DEVICE)
				usbt_mark_removed(t);
		}
	}
	pthread_mutex_lock(&t->lock);
	t->intr = NULL;
	bool cancelled = t->cancel_requested;
	t->cancel_requested = false;
	bool removed = t->removed;
	pthread_mutex_unlock(&t->lock);

	enum usbt_status st;
	switch (xfer->status) {
	case LIBUSB_TRANSFER_COMPLETED:
		*got = (size_t)xfer->actual_length;
		st = USBT_OK;
		break;
	case LIBUSB_TRANSFER_NO_DEVICE:
		usbt_mark_removed(t);
		st = USBT_NO_DEVICE;
		break;
	case LIBUSB_TRANSFER_CANCELLED:
		st = removed ? USBT_NO_DEVICE : cancelled ? USBT_CANCELLED : USBT_TIMEOUT;
		break;
	case LIBUSB_TRANSFER_TIMED_OUT:
		st = USBT_TIMEOUT;
		break;
	case LIBUSB_TRANSFER_STALL:
		libusb_clear_halt(t->handle, t->iface.ep_interrupt_in);
		st = USBT_IO;
		break;
	default:
		st = USBT_IO;
		break;
	}
	libusb_free_transfer(xfer);
	return st;
}

void usbt_cancel_interrupt(struct usb_transport *t)
{
	pthread_mutex_lock(&t->lock);
	t->cancel_requested = true;
	if (t->intr)
		libusb_cancel_transfer(t->intr);
	pthread_mutex_unlock(&t->lock);
}

enum usbt_status usbt_control_abort(struct usb_transport *t, uint8_t slot, uint8_t seq)
{
	if (usbt_removed(t))
		return USBT_NO_DEVICE;
	int rc = libusb_control_transfer(t->handle,
					 LIBUSB_REQUEST_TYPE_CLASS | LIBUSB_RECIPIENT_INTERFACE,
					 CCID_REQ_ABORT, (uint16_t)(seq << 8 | slot),
					 t->iface.interface_number, NULL, 0, CONTROL_TIMEOUT_MS);
	return note(t, rc < 0 ? rc : 0);
}

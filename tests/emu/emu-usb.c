/* emu-usb.c — usbdevfs for one emulated full-speed CCID device.
 *
 * Data flow: SUBMITURB records the client's URB (umockdev copies the URB
 * struct and its buffer into this process as UMockdevIoctlData); the URB then
 * sits in a pending queue until a frame, a class answer, a halt, a discard
 * or an unplug completes it; completing only records status, length and the
 * IN bytes.  REAPURB(NDELAY) copies those into the client's URB and buffer
 * and hands the client its URB pointer back.  All UMockdevIoctlData work
 * happens in umockdev's worker thread; other threads only touch the queues
 * under `lock`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/usbdevice_fs.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <onshi/ccid-const.h>
#include "emu-sysfs.h"
#include "emu-usb.h"

/* What we tell libusb: one URB per transfer of any size, ZLP flag honoured,
 * and completed URBs stay reapable after a disconnect. */
#define EMU_USBFS_CAPS (USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_NO_PACKET_SIZE_LIM | \
			USBDEVFS_CAP_REAP_AFTER_DISCONNECT)
#define URB_BUFFER_MAX   (1u << 20)   /* larger URBs: ENOMEM, like usbfs_memory_mb */
#define OUT_MSG_MAX      (CCID_HEADER_LEN + 65536 + 64)
#define BULK_QUEUE_MAX   64
#define INTR_QUEUE_MAX   16
#define FIFO_PAGE        4096
#define SETUP_LEN        8
#define USB_SPEED_FULL   2            /* enum usb_device_speed */

/* Standard requests (USB 2.0 §9.4). */
#define REQ_GET_STATUS        0x00
#define REQ_CLEAR_FEATURE     0x01
#define REQ_SET_FEATURE       0x03
#define REQ_GET_DESCRIPTOR    0x06
#define REQ_GET_CONFIGURATION 0x08
#define REQ_SET_CONFIGURATION 0x09
#define REQ_GET_INTERFACE     0x0A
#define REQ_SET_INTERFACE     0x0B
#define FEATURE_ENDPOINT_HALT 0x00
#define DT_DEVICE 1
#define DT_CONFIG 2
#define DT_STRING 3
#define RT_DIR_IN      0x80
#define RT_TYPE_MASK   0x60
#define RT_STANDARD    0x00
#define RT_CLASS       0x20
#define RT_RECIP_MASK  0x1F
#define RT_DEVICE      0x00
#define RT_INTERFACE   0x01
#define RT_ENDPOINT    0x02

typedef struct port {
	char devnode[64];
	char *fifo_path;
	int fifo_fd;
	unsigned devnum;
	bool gone;
	unsigned reapable;           /* completed, unreaped URBs of its clients */
	struct client *claimer;      /* who holds interface 0 */
} port;

typedef struct client {
	UMockdevIoctlClient *ioc;
	port *port;
	GQueue completed;            /* urb*, oldest first */
	UMockdevIoctlClient *blocked_reap; /* a REAPURB waiting for a completion */
} client;

typedef struct class_pending class_pending;

typedef struct urb {
	client *owner;
	UMockdevIoctlData *urb_data; /* local copy of the client's struct usbdevfs_urb */
	UMockdevIoctlData *buf_data; /* local copy of its buffer (NULL if empty) */
	size_t buflen;
	unsigned flags;              /* USBDEVFS_URB_* */
	uint8_t type, ep;
	gulong user_addr;
	int status;
	size_t actual;
	GBytes *in;                  /* IN bytes to copy out on reap */
	class_pending *creq;         /* control URB waiting for the firmware */
} urb;

struct class_pending {
	emu_usb_class_req pub;       /* first: the firmware sees only this */
	urb *urb;                    /* a control URB, or */
	UMockdevIoctlClient *ioc;    /* a CONTROL ioctl left uncompleted */
	UMockdevIoctlData *ioc_data; /* its data buffer */
};

#define EMU_TYPE_USB_HANDLER (emu_usb_handler_get_type())
G_DECLARE_FINAL_TYPE(EmuUsbHandler, emu_usb_handler, EMU, USB_HANDLER, UMockdevIoctlBase)

struct _EmuUsbHandler {
	UMockdevIoctlBase parent_instance;
	emu_usb *usb;
};

struct emu_usb {
	GMutex lock;
	UMockdevTestbed *tb;
	const emu_profile *p;
	emu_usb_sink sink;
	EmuUsbHandler *handler;
	GMainContext *worker_ctx;    /* umockdev's ioctl thread, seen on first ioctl */
	GPtrArray *ports;            /* every node ever served (old ones stay for their fds) */
	port *cur;                   /* NULL while unplugged */
	GHashTable *clients;         /* UMockdevIoctlClient* -> client* */
	GQueue bulk_in_urbs, intr_urbs;
	GQueue bulk_frames, intr_frames; /* GBytes* */
	GQueue class_reqs;           /* class_pending* at the firmware */
	bool halt_out, halt_in, halt_intr;
	uint8_t *out_msg;
	size_t out_len;
	emu_usb_stats stats;
};

/* ---- FIFO readiness --------------------------------------------------------- */

static void fifo_fill(port *pt)
{
	static const uint8_t page[FIFO_PAGE];
	while (write(pt->fifo_fd, page, sizeof(page)) == (ssize_t)sizeof(page))
		;
}

static void fifo_drain_one_page(port *pt)
{
	uint8_t page[FIFO_PAGE];
	if (read(pt->fifo_fd, page, sizeof(page)) < 0)
		g_warning("emu-usb: draining %s: %s", pt->devnode, g_strerror(errno));
}

static void port_reapable_inc(port *pt)
{
	if (pt->reapable++ == 0)
		fifo_drain_one_page(pt);
}

static void port_reapable_dec(port *pt)
{
	if (pt->reapable > 0 && --pt->reapable == 0)
		fifo_fill(pt);
}

/* ---- URBs ------------------------------------------------------------------- */

static void urb_free(urb *u)
{
	if (!u)
		return;
	g_clear_object(&u->buf_data);
	g_clear_object(&u->urb_data);
	if (u->in)
		g_bytes_unref(u->in);
	g_free(u);
}

/* A URB completed for a client blocked in REAPURB: finish that ioctl in
 * the worker thread, where the client's ioctl data may be touched. */
typedef struct blocked_reap {
	emu_usb *usb;
	UMockdevIoctlClient *ioc;
} blocked_reap;
static gboolean finish_blocked_reap(gpointer data);
static void blocked_reap_free(gpointer data);

/* Lock held.  The URB is in no pending queue any more. */
static void urb_complete(emu_usb *usb, urb *u, int status, size_t actual, GBytes *in)
{
	u->status = status;
	u->actual = actual;
	u->in = in;
	if (u->creq) {
		u->creq->urb = NULL;
		u->creq = NULL;
	}
	g_queue_push_tail(&u->owner->completed, u);
	port_reapable_inc(u->owner->port);
	if (u->owner->blocked_reap && usb->worker_ctx) {
		blocked_reap *br = g_new0(blocked_reap, 1);
		br->usb = usb;
		br->ioc = g_object_ref(u->owner->ioc);
		/* Always deferred: invoking directly from the worker thread would
		 * re-enter with the lock held. */
		GSource *src = g_idle_source_new();
		g_source_set_callback(src, finish_blocked_reap, br, blocked_reap_free);
		g_source_attach(src, usb->worker_ctx);
		g_source_unref(src);
	}
}

/* Lock held: hand queued frames to pending IN URBs, oldest to oldest. */
static void match_frames(emu_usb *usb, GQueue *urbs, GQueue *frames, unsigned long *counter)
{
	while (!g_queue_is_empty(urbs) && !g_queue_is_empty(frames)) {
		urb *u = g_queue_pop_head(urbs);
		GBytes *f = g_queue_pop_head(frames);
		size_t len = g_bytes_get_size(f);
		if (len > u->buflen) {
			GBytes *cut = g_bytes_new_from_bytes(f, 0, u->buflen);
			g_bytes_unref(f);
			urb_complete(usb, u, -EOVERFLOW, u->buflen, cut);
		} else {
			urb_complete(usb, u, 0, len, f);
		}
		(*counter)++;
	}
}

static void fail_queue(emu_usb *usb, GQueue *urbs, int status)
{
	urb *u;
	while ((u = g_queue_pop_head(urbs)))
		urb_complete(usb, u, status, 0, NULL);
}

static void clear_frames(GQueue *frames)
{
	GBytes *f;
	while ((f = g_queue_pop_head(frames)))
		g_bytes_unref(f);
}

static void queue_frame(emu_usb *usb, GQueue *frames, unsigned max, const uint8_t *frame,
			size_t len, const char *what)
{
	if (g_queue_get_length(frames) >= max) {
		g_warning("emu-usb: %s queue full (nobody reads): dropping the oldest frame", what);
		g_bytes_unref(g_queue_pop_head(frames));
	}
	g_queue_push_tail(frames, g_bytes_new(frame, len));
}

/* ---- ioctl plumbing --------------------------------------------------------- */

static void reply(UMockdevIoctlClient *ioc, long result, int err)
{
	umockdev_ioctl_client_complete(ioc, result, result < 0 ? err : 0);
}

/* The struct the ioctl argument points to (a new reference), or NULL. */
static UMockdevIoctlData *arg_struct(UMockdevIoctlClient *ioc, size_t size)
{
	GError *err = NULL;
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(ioc),
							   0, size, &err);
	if (err) {
		g_warning("emu-usb: reading ioctl argument: %s", err->message);
		g_error_free(err);
		g_clear_object(&d);
	}
	return d;
}

/* The plain value of the ioctl argument (DISCARDURB passes the URB address). */
static gulong arg_value(UMockdevIoctlClient *ioc)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(ioc);
	gulong v = 0;
	if (arg->data_len >= (gint)sizeof(v))
		memcpy(&v, arg->data, sizeof(v));
	return v;
}

static UMockdevIoctlData *resolve_ptr(UMockdevIoctlData *parent, size_t offset, size_t len)
{
	GError *err = NULL;
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(parent, offset, len, &err);
	if (err) {
		g_warning("emu-usb: reading client memory: %s", err->message);
		g_error_free(err);
		g_clear_object(&d);
	}
	return d;
}

static bool read_u32_arg(UMockdevIoctlClient *ioc, uint32_t *out)
{
	UMockdevIoctlData *d = arg_struct(ioc, sizeof(uint32_t));
	if (!d)
		return false;
	memcpy(out, d->data, sizeof(*out));
	g_object_unref(d);
	return true;
}

static bool write_arg(UMockdevIoctlClient *ioc, const void *val, size_t len)
{
	UMockdevIoctlData *d = arg_struct(ioc, len);
	if (!d)
		return false;
	memcpy(d->data, val, len);
	g_object_unref(d);
	return true;
}

/* ---- endpoints and requests ------------------------------------------------- */

static bool ep_is_bulk(const emu_profile *p, uint8_t ep)
{
	return ep == p->ep_bulk_out || ep == p->ep_bulk_in;
}

static bool ep_is_intr(const emu_profile *p, uint8_t ep)
{
	return p->has_interrupt_ep && ep == p->ep_intr_in;
}

/* Lock held.  The halt flag of an endpoint, or NULL if there is no such endpoint. */
static bool *halt_flag(emu_usb *usb, unsigned ep)
{
	if (ep == usb->p->ep_bulk_out)
		return &usb->halt_out;
	if (ep == usb->p->ep_bulk_in)
		return &usb->halt_in;
	if (ep_is_intr(usb->p, (uint8_t)ep))
		return &usb->halt_intr;
	return NULL;
}

/* Lock held.  Halting an IN endpoint fails what is pending on it. */
static void set_halt(emu_usb *usb, unsigned ep, bool on)
{
	bool *flag = halt_flag(usb, ep);
	if (!flag)
		return;
	*flag = on;
	if (on && flag == &usb->halt_in)
		fail_queue(usb, &usb->bulk_in_urbs, -EPIPE);
	if (on && flag == &usb->halt_intr)
		fail_queue(usb, &usb->intr_urbs, -EPIPE);
}

typedef struct setup {
	uint8_t type, req;
	uint16_t value, index, length;
} setup;

static setup parse_setup(const uint8_t b[SETUP_LEN])
{
	setup s = { b[0], b[1], (uint16_t)(b[2] | b[3] << 8), (uint16_t)(b[4] | b[5] << 8),
		    (uint16_t)(b[6] | b[7] << 8) };
	return s;
}

static bool is_class_request(const setup *s)
{
	return (s->type & RT_TYPE_MASK) == RT_CLASS && (s->type & RT_RECIP_MASK) == RT_INTERFACE &&
	       (s->index & 0xff) == 0;
}

static int copy_answer(uint8_t *out, uint16_t max, const uint8_t *src, size_t len)
{
	size_t n = len < max ? len : max;
	memcpy(out, src, n);
	return (int)n;
}

static int get_descriptor(emu_usb *usb, const setup *s, uint8_t *out)
{
	uint8_t buf[EMU_CONFIG_DESC_MAX > EMU_STRING_DESC_MAX ? EMU_CONFIG_DESC_MAX : EMU_STRING_DESC_MAX];
	size_t len = 0;
	unsigned idx = s->value & 0xff;

	switch (s->value >> 8) {
	case DT_DEVICE:
		len = emu_device_descriptor(usb->p, buf);
		break;
	case DT_CONFIG:
		if (idx == 0)
			len = emu_config_descriptor(usb->p, buf);
		break;
	case DT_STRING:
		len = emu_string_descriptor(usb->p, idx, buf);
		break;
	}
	return len ? copy_answer(out, s->length, buf, len) : -EPIPE;
}

/* Lock held.  A standard request: IN bytes written to `data` (wLength room),
 * 0 for OUT requests, or -EPIPE for a STALL. */
static int standard_request(emu_usb *usb, const setup *s, uint8_t *data)
{
	uint8_t two[2] = { 0, 0 };
	uint8_t recip = s->type & RT_RECIP_MASK;

	if (s->type & RT_DIR_IN) {
		switch (s->req) {
		case REQ_GET_DESCRIPTOR:
			return get_descriptor(usb, s, data);
		case REQ_GET_STATUS:
			if (recip == RT_ENDPOINT) {
				bool *h = halt_flag(usb, s->index & 0xff);
				if (!h && (s->index & 0x7f) != 0)
					return -EPIPE;
				two[0] = h && *h;
			}
			return copy_answer(data, s->length, two, 2);
		case REQ_GET_CONFIGURATION:
			two[0] = EMU_USB_CONFIG_VALUE;
			return copy_answer(data, s->length, two, 1);
		case REQ_GET_INTERFACE:
			return s->index == 0 ? copy_answer(data, s->length, two, 1) : -EPIPE;
		}
		return -EPIPE;
	}
	switch (s->req) {
	case REQ_CLEAR_FEATURE:
	case REQ_SET_FEATURE:
		if (recip != RT_ENDPOINT || s->value != FEATURE_ENDPOINT_HALT ||
		    !halt_flag(usb, s->index & 0xff))
			return -EPIPE;
		set_halt(usb, s->index & 0xff, s->req == REQ_SET_FEATURE);
		return 0;
	case REQ_SET_CONFIGURATION:
		return s->value <= EMU_USB_CONFIG_VALUE ? 0 : -EPIPE;
	case REQ_SET_INTERFACE:
		return s->value == 0 && s->index == 0 ? 0 : -EPIPE;
	}
	return -EPIPE;
}

/* ---- clients ---------------------------------------------------------------- */

/* Lock held. */
static client *client_lookup(emu_usb *usb, UMockdevIoctlClient *ioc)
{
	return g_hash_table_lookup(usb->clients, ioc);
}

static bool owned_by(gconstpointer data, gconstpointer owner)
{
	return ((const urb *)data)->owner == owner;
}

static void drop_pending_of(GQueue *q, client *c)
{
	for (GList *l = q->head; l;) {
		GList *next = l->next;
		if (owned_by(l->data, c)) {
			urb *u = l->data;
			g_queue_delete_link(q, l);
			if (u->creq)
				u->creq->urb = NULL;
			urb_free(u);
		}
		l = next;
	}
}

/* Lock held.  The fd was closed: its URBs die with it, as in usbfs. */
static void client_forget(emu_usb *usb, client *c)
{
	urb *u;
	drop_pending_of(&usb->bulk_in_urbs, c);
	drop_pending_of(&usb->intr_urbs, c);
	for (GList *l = usb->class_reqs.head; l; l = l->next) {
		class_pending *cp = l->data;
		if (cp->urb && cp->urb->owner == c) {
			urb_free(cp->urb);
			cp->urb = NULL;
		}
	}
	while ((u = g_queue_pop_head(&c->completed))) {
		port_reapable_dec(c->port);
		urb_free(u);
	}
	if (c->port->claimer == c)
		c->port->claimer = NULL;
	g_clear_object(&c->blocked_reap);
	g_hash_table_remove(usb->clients, c->ioc);
	g_object_unref(c->ioc);
	g_free(c);
}

/* Lock held.  umockdev 0.17 neither emits client_vanished nor notifies
 * "connected" when a client's fd closes, so look: forget every client whose
 * stream is closed (its claim and URBs would otherwise outlive it). */
static void sweep_vanished(emu_usb *usb)
{
	GList *gone = NULL;
	GHashTableIter it;
	gpointer key, val;
	g_hash_table_iter_init(&it, usb->clients);
	while (g_hash_table_iter_next(&it, &key, &val))
		if (!umockdev_ioctl_client_get_connected(((client *)val)->ioc))
			gone = g_list_prepend(gone, val);
	for (GList *l = gone; l; l = l->next)
		client_forget(usb, l->data);
	g_list_free(gone);
}

static void on_connected_changed(GObject *obj, GParamSpec *pspec, gpointer data)
{
	emu_usb *usb = data;
	UMockdevIoctlClient *ioc = UMOCKDEV_IOCTL_CLIENT(obj);
	if (umockdev_ioctl_client_get_connected(ioc))
		return;
	g_mutex_lock(&usb->lock);
	client *c = client_lookup(usb, ioc);
	if (c)
		client_forget(usb, c);
	g_mutex_unlock(&usb->lock);
}

static port *port_by_devnode(emu_usb *usb, const char *devnode)
{
	for (guint i = 0; i < usb->ports->len; i++) {
		port *pt = g_ptr_array_index(usb->ports, i);
		if (devnode && strcmp(pt->devnode, devnode) == 0)
			return pt;
	}
	return NULL;
}

static void handler_client_connected(UMockdevIoctlBase *base, UMockdevIoctlClient *ioc)
{
	emu_usb *usb = EMU_USB_HANDLER(base)->usb;
	if (!usb)
		return;
	g_mutex_lock(&usb->lock);
	sweep_vanished(usb);
	port *pt = port_by_devnode(usb, umockdev_ioctl_client_get_devnode(ioc));
	if (pt && !client_lookup(usb, ioc)) {
		client *c = g_new0(client, 1);
		c->ioc = g_object_ref(ioc);
		c->port = pt;
		g_queue_init(&c->completed);
		g_hash_table_insert(usb->clients, ioc, c);
		/* client_vanished is not emitted by every umockdev version;
		 * the "connected" property always changes when the fd closes. */
		g_signal_connect(ioc, "notify::connected", G_CALLBACK(on_connected_changed), usb);
	}
	g_mutex_unlock(&usb->lock);
}

static void handler_client_vanished(UMockdevIoctlBase *base, UMockdevIoctlClient *ioc)
{
	emu_usb *usb = EMU_USB_HANDLER(base)->usb;
	if (!usb)
		return;
	g_mutex_lock(&usb->lock);
	client *c = client_lookup(usb, ioc);
	if (c)
		client_forget(usb, c);
	g_mutex_unlock(&usb->lock);
}

/* ---- SUBMITURB -------------------------------------------------------------- */

/* What a submitted URB hands to the firmware once the lock is released. */
typedef struct after_submit {
	uint8_t *out_msg;
	size_t out_len;
	class_pending *creq;
	bool abort;
} after_submit;

static void deliver(emu_usb *usb, after_submit *a)
{
	if (a->out_msg) {
		usb->sink.bulk_out(usb->sink.user, a->out_msg, a->out_len);
		g_free(a->out_msg);
	}
	if (a->abort && usb->sink.abort)
		usb->sink.abort(usb->sink.user);
	if (a->creq)
		usb->sink.class_request(usb->sink.user, &a->creq->pub);
}

/* Lock held.  Where the bytes of one bulk-OUT URB end a PC_to_RDR message:
 * at a short packet (including the zero-length packet the host adds after
 * whole packets for USBDEVFS_URB_ZERO_PACKET), once the header's dwLength
 * is covered, or when the buffer is full (a runaway host). */
static bool out_msg_done(emu_usb *usb, size_t urb_len, unsigned urb_flags)
{
	uint16_t mps = usb->p->bulk_max_packet ? usb->p->bulk_max_packet : 64;
	if (urb_len == 0 || urb_len % mps != 0 || (urb_flags & USBDEVFS_URB_ZERO_PACKET))
		return true;
	if (usb->out_len >= CCID_HEADER_LEN) {
		const uint8_t *m = usb->out_msg;
		uint32_t dw = (uint32_t)m[1] | (uint32_t)m[2] << 8 | (uint32_t)m[3] << 16 |
			      (uint32_t)m[4] << 24;
		if ((uint64_t)usb->out_len >= (uint64_t)CCID_HEADER_LEN + dw)
			return true;
	}
	return usb->out_len >= OUT_MSG_MAX;
}

static void submit_bulk_out(emu_usb *usb, urb *u, after_submit *a)
{
	if (usb->halt_out) {
		urb_complete(usb, u, -EPIPE, 0, NULL);
		return;
	}
	const uint8_t *src = u->buf_data ? u->buf_data->data : NULL;
	size_t room = OUT_MSG_MAX - usb->out_len;
	size_t n = u->buflen < room ? u->buflen : room;
	if (n)
		memcpy(usb->out_msg + usb->out_len, src, n);
	usb->out_len += n;
	usb->stats.bulk_out++;
	urb_complete(usb, u, 0, u->buflen, NULL);
	/* A zero-length packet with no message before it (the ZLP a host adds
	 * after a transfer of whole packets) carries nothing to the firmware. */
	if (out_msg_done(usb, u->buflen, u->flags) && usb->out_len > 0) {
		a->out_msg = g_memdup2(usb->out_msg, usb->out_len);
		a->out_len = usb->out_len;
		usb->out_len = 0;
	}
}

static void submit_control(emu_usb *usb, urb *u, after_submit *a)
{
	uint8_t *b = u->buf_data->data;
	setup s = parse_setup(b);
	size_t data_room = u->buflen - SETUP_LEN;
	if (s.length > data_room)
		s.length = (uint16_t)data_room;
	usb->stats.control++;

	if (is_class_request(&s)) {
		class_pending *cp = g_new0(class_pending, 1);
		cp->pub = (emu_usb_class_req){ s.type, s.req, s.value, s.index, s.length,
					       g_malloc0(s.length ? s.length : 1) };
		if (!(s.type & RT_DIR_IN))
			memcpy(cp->pub.data, b + SETUP_LEN, s.length);
		cp->urb = u;
		u->creq = cp;
		g_queue_push_tail(&usb->class_reqs, cp);
		a->creq = cp;
		a->abort = s.type == 0x21 && s.req == CCID_REQ_ABORT;
		return;
	}
	uint8_t *answer = g_malloc0(s.length ? s.length : 1);
	int r = standard_request(usb, &s, answer);
	if (r < 0)
		urb_complete(usb, u, r, 0, NULL);
	else if (s.type & RT_DIR_IN)
		urb_complete(usb, u, 0, (size_t)r, g_bytes_new(answer, (size_t)r));
	else
		urb_complete(usb, u, 0, s.length, NULL);
	g_free(answer);
}

/* Checks the URB as usbfs does; 0 or a negative errno. */
static int check_urb(emu_usb *usb, const struct usbdevfs_urb *k)
{
	const emu_profile *p = usb->p;
	if (k->buffer_length < 0)
		return -EINVAL;
	if ((unsigned)k->buffer_length > URB_BUFFER_MAX)
		return -ENOMEM;
	switch (k->type) {
	case USBDEVFS_URB_TYPE_CONTROL:
		if ((k->endpoint & 0x7f) != 0)
			return -ENOENT;
		return k->buffer_length < SETUP_LEN ? -EINVAL : 0;
	case USBDEVFS_URB_TYPE_BULK:
		if (ep_is_bulk(p, k->endpoint))
			return 0;
		return ep_is_intr(p, k->endpoint) ? -EINVAL : -ENOENT;
	case USBDEVFS_URB_TYPE_INTERRUPT:
		if (ep_is_intr(p, k->endpoint))
			return 0;
		return ep_is_bulk(p, k->endpoint) ? -EINVAL : -ENOENT;
	default:
		return -EINVAL;     /* no isochronous endpoints */
	}
}

static int do_submiturb(emu_usb *usb, client *c, UMockdevIoctlClient *ioc, after_submit *a)
{
	UMockdevIoctlData *d = arg_struct(ioc, sizeof(struct usbdevfs_urb));
	if (!d)
		return -EFAULT;
	struct usbdevfs_urb k;
	memcpy(&k, d->data, sizeof(k));
	int r = check_urb(usb, &k);
	if (r < 0) {
		g_object_unref(d);
		return r;
	}
	urb *u = g_new0(urb, 1);
	u->owner = c;
	u->urb_data = d;
	u->buflen = (size_t)k.buffer_length;
	u->flags = k.flags;
	u->type = k.type;
	u->ep = k.endpoint;
	u->user_addr = d->client_addr;
	if (u->buflen) {
		u->buf_data = resolve_ptr(d, offsetof(struct usbdevfs_urb, buffer), u->buflen);
		if (!u->buf_data) {
			urb_free(u);
			return -EFAULT;
		}
	}

	g_mutex_lock(&usb->lock);
	if (c->port->gone) {
		g_mutex_unlock(&usb->lock);
		urb_free(u);
		return -ENODEV;
	}
	if (u->type != USBDEVFS_URB_TYPE_CONTROL) {
		/* usbfs claims the interface implicitly on first use. */
		if (c->port->claimer && c->port->claimer != c) {
			g_mutex_unlock(&usb->lock);
			urb_free(u);
			return -EBUSY;
		}
		c->port->claimer = c;
	}
	if (u->type == USBDEVFS_URB_TYPE_CONTROL) {
		submit_control(usb, u, a);
	} else if (u->ep == usb->p->ep_bulk_out) {
		submit_bulk_out(usb, u, a);
	} else if (u->ep == usb->p->ep_bulk_in) {
		if (usb->halt_in) {
			urb_complete(usb, u, -EPIPE, 0, NULL);
		} else {
			g_queue_push_tail(&usb->bulk_in_urbs, u);
			match_frames(usb, &usb->bulk_in_urbs, &usb->bulk_frames, &usb->stats.bulk_in);
		}
	} else {
		if (usb->halt_intr) {
			urb_complete(usb, u, -EPIPE, 0, NULL);
		} else {
			g_queue_push_tail(&usb->intr_urbs, u);
			match_frames(usb, &usb->intr_urbs, &usb->intr_frames, &usb->stats.intr_in);
		}
	}
	g_mutex_unlock(&usb->lock);
	return 0;
}

/* ---- REAPURB / DISCARDURB --------------------------------------------------- */

/* Worker thread: copy the URB's outcome into the client's memory and make
 * *arg point at it.  Returns 0 or a negative errno. */
static int hand_back(UMockdevIoctlClient *ioc, urb *u)
{
	struct usbdevfs_urb *k = (struct usbdevfs_urb *)u->urb_data->data;
	k->status = u->status;
	k->actual_length = (int)u->actual;
	if (u->in && u->buf_data) {
		size_t off = u->type == USBDEVFS_URB_TYPE_CONTROL ? SETUP_LEN : 0;
		size_t n = g_bytes_get_size(u->in);
		if (off + n <= u->buflen)
			memcpy(u->buf_data->data + off, g_bytes_get_data(u->in, NULL), n);
	}
	UMockdevIoctlData *ptr = arg_struct(ioc, sizeof(void *));
	if (!ptr)
		return -EFAULT;
	umockdev_ioctl_data_set_ptr(ptr, 0, u->urb_data);
	g_object_unref(ptr);
	return 0;
}

/* Lock held: the oldest reapable URB of c, or NULL with *err (EAGAIN/ENODEV). */
static urb *take_completed(client *c, int *err)
{
	urb *u = g_queue_pop_head(&c->completed);
	if (u)
		port_reapable_dec(c->port);
	else
		*err = c->port->gone ? ENODEV : EAGAIN;
	return u;
}

static void do_reap(emu_usb *usb, client *c, UMockdevIoctlClient *ioc, bool block)
{
	int err = 0;
	g_mutex_lock(&usb->lock);
	urb *u = take_completed(c, &err);
	if (!u && block && err == EAGAIN) {
		/* Completed later, from finish_blocked_reap(). */
		g_clear_object(&c->blocked_reap);
		c->blocked_reap = g_object_ref(ioc);
		g_mutex_unlock(&usb->lock);
		return;
	}
	g_mutex_unlock(&usb->lock);
	if (!u) {
		reply(ioc, -1, err);
		return;
	}
	int r = hand_back(ioc, u);
	urb_free(u);
	reply(ioc, r < 0 ? -1 : 0, -r);
}

static void blocked_reap_free(gpointer data)
{
	blocked_reap *br = data;
	g_object_unref(br->ioc);
	g_free(br);
}

/* Worker thread: a URB completed for a client blocked in REAPURB. */
static gboolean finish_blocked_reap(gpointer data)
{
	blocked_reap *br = data;
	emu_usb *usb = br->usb;
	urb *u = NULL;
	int err = EAGAIN;

	g_mutex_lock(&usb->lock);
	client *c = client_lookup(usb, br->ioc);
	if (c && c->blocked_reap == br->ioc) {
		u = take_completed(c, &err);
		if (u || err != EAGAIN)
			g_clear_object(&c->blocked_reap);
	}
	g_mutex_unlock(&usb->lock);
	if (u) {
		int r = hand_back(br->ioc, u);
		urb_free(u);
		reply(br->ioc, r < 0 ? -1 : 0, -r);
	} else if (err != EAGAIN) {
		reply(br->ioc, -1, err);
	}
	return G_SOURCE_REMOVE;
}

static urb *unlink_pending(GQueue *q, client *c, gulong addr)
{
	for (GList *l = q->head; l; l = l->next) {
		urb *u = l->data;
		if (u->owner == c && u->user_addr == addr) {
			g_queue_delete_link(q, l);
			return u;
		}
	}
	return NULL;
}

static int do_discardurb(emu_usb *usb, client *c, UMockdevIoctlClient *ioc)
{
	gulong addr = arg_value(ioc);
	int r = -EINVAL;
	g_mutex_lock(&usb->lock);
	urb *u = unlink_pending(&usb->bulk_in_urbs, c, addr);
	if (!u)
		u = unlink_pending(&usb->intr_urbs, c, addr);
	if (!u) {
		for (GList *l = usb->class_reqs.head; l && !u; l = l->next) {
			class_pending *cp = l->data;
			if (cp->urb && cp->urb->owner == c && cp->urb->user_addr == addr)
				u = cp->urb;
		}
	}
	if (u) {
		urb_complete(usb, u, -ECONNRESET, 0, NULL);
		r = 0;
	}
	g_mutex_unlock(&usb->lock);
	return r;
}

/* ---- CONTROL ioctl ---------------------------------------------------------- */

/* Returns TRUE when the ioctl was answered; FALSE when a class request went
 * to the firmware, which answers it through emu_usb_class_done(). */
static gboolean do_control(emu_usb *usb, client *c, UMockdevIoctlClient *ioc)
{
	UMockdevIoctlData *d = arg_struct(ioc, sizeof(struct usbdevfs_ctrltransfer));
	if (!d) {
		reply(ioc, -1, EFAULT);
		return TRUE;
	}
	struct usbdevfs_ctrltransfer ct;
	memcpy(&ct, d->data, sizeof(ct));
	setup s = { ct.bRequestType, ct.bRequest, ct.wValue, ct.wIndex, ct.wLength };
	UMockdevIoctlData *data = NULL;
	if (s.length) {
		data = resolve_ptr(d, offsetof(struct usbdevfs_ctrltransfer, data), s.length);
		if (!data) {
			g_object_unref(d);
			reply(ioc, -1, EFAULT);
			return TRUE;
		}
	}
	g_object_unref(d);

	g_mutex_lock(&usb->lock);
	usb->stats.control++;
	if (c->port->gone) {
		g_mutex_unlock(&usb->lock);
		g_clear_object(&data);
		reply(ioc, -1, ENODEV);
		return TRUE;
	}
	if (is_class_request(&s)) {
		class_pending *cp = g_new0(class_pending, 1);
		cp->pub = (emu_usb_class_req){ s.type, s.req, s.value, s.index, s.length,
					       g_malloc0(s.length ? s.length : 1) };
		if (data && !(s.type & RT_DIR_IN))
			memcpy(cp->pub.data, data->data, s.length);
		cp->ioc = g_object_ref(ioc);
		cp->ioc_data = data;
		g_queue_push_tail(&usb->class_reqs, cp);
		g_mutex_unlock(&usb->lock);
		after_submit a = { .creq = cp, .abort = s.type == 0x21 && s.req == CCID_REQ_ABORT };
		deliver(usb, &a);
		return FALSE;
	}
	uint8_t scratch[1];
	int r = standard_request(usb, &s, data ? data->data : scratch);
	g_mutex_unlock(&usb->lock);
	g_clear_object(&data);
	if (r < 0)
		reply(ioc, -1, -r);
	else
		reply(ioc, (s.type & RT_DIR_IN) ? r : s.length, 0);
	return TRUE;
}

/* ---- the other ioctls ------------------------------------------------------- */

static int do_claim(emu_usb *usb, client *c, uint32_t ifnum, bool claim)
{
	if (ifnum != 0)
		return claim ? -ENOENT : -EINVAL;
	int r = 0;
	g_mutex_lock(&usb->lock);
	if (claim) {
		if (c->port->claimer && c->port->claimer != c)
			r = -EBUSY;
		else
			c->port->claimer = c;
	} else {
		if (c->port->claimer == c)
			c->port->claimer = NULL;
		else
			r = -EINVAL;
	}
	g_mutex_unlock(&usb->lock);
	return r;
}

static int do_clear_halt(emu_usb *usb, uint32_t ep)
{
	int r = 0;
	g_mutex_lock(&usb->lock);
	if (halt_flag(usb, ep))
		set_halt(usb, ep, false);
	else
		r = -ENOENT;
	g_mutex_unlock(&usb->lock);
	return r;
}

static int do_reset(emu_usb *usb)
{
	g_mutex_lock(&usb->lock);
	usb->halt_in = usb->halt_out = usb->halt_intr = false;
	usb->out_len = 0;
	g_mutex_unlock(&usb->lock);
	return 0;
}

static int do_usbdevfs_ioctl(UMockdevIoctlClient *ioc)
{
	UMockdevIoctlData *d = arg_struct(ioc, sizeof(struct usbdevfs_ioctl));
	if (!d)
		return -EFAULT;
	struct usbdevfs_ioctl io;
	memcpy(&io, d->data, sizeof(io));
	g_object_unref(d);
	if (io.ifno != 0)
		return -EINVAL;
	if ((unsigned)io.ioctl_code == (unsigned)USBDEVFS_DISCONNECT)
		return -ENODATA;             /* no kernel driver is bound */
	if ((unsigned)io.ioctl_code == (unsigned)USBDEVFS_CONNECT)
		return 0;
	return -ENOTTY;
}

/* Every usbdevfs ioctl but REAP*, SUBMITURB, DISCARDURB and CONTROL;
 * returns the ioctl's result or a negative errno. */
static long do_simple(emu_usb *usb, client *c, UMockdevIoctlClient *ioc, gulong req)
{
	uint32_t v;
	switch (req) {
	case USBDEVFS_GET_CAPABILITIES:
		v = EMU_USBFS_CAPS;
		return write_arg(ioc, &v, sizeof(v)) ? 0 : -EFAULT;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
		if (!read_u32_arg(ioc, &v))
			return -EFAULT;
		return do_claim(usb, c, v, req == USBDEVFS_CLAIMINTERFACE);
	case USBDEVFS_DISCONNECT_CLAIM: {
		UMockdevIoctlData *d = arg_struct(ioc, sizeof(struct usbdevfs_disconnect_claim));
		if (!d)
			return -EFAULT;
		struct usbdevfs_disconnect_claim dc;
		memcpy(&dc, d->data, sizeof(dc));
		g_object_unref(d);
		return do_claim(usb, c, dc.interface, true);
	}
	case USBDEVFS_SETINTERFACE: {
		UMockdevIoctlData *d = arg_struct(ioc, sizeof(struct usbdevfs_setinterface));
		if (!d)
			return -EFAULT;
		struct usbdevfs_setinterface si;
		memcpy(&si, d->data, sizeof(si));
		g_object_unref(d);
		if (si.interface != 0)
			return -EINVAL;
		return si.altsetting == 0 ? 0 : -EINVAL;
	}
	case USBDEVFS_SETCONFIGURATION: {
		if (!read_u32_arg(ioc, &v))
			return -EFAULT;
		int cfg = (int)v;
		return cfg == -1 || cfg == 0 || cfg == EMU_USB_CONFIG_VALUE ? 0 : -EINVAL;
	}
	case USBDEVFS_CLEAR_HALT:
		if (!read_u32_arg(ioc, &v))
			return -EFAULT;
		return do_clear_halt(usb, v);
	case USBDEVFS_RESETEP:
		if (!read_u32_arg(ioc, &v))
			return -EFAULT;
		return halt_flag(usb, v) ? 0 : -ENOENT;
	case USBDEVFS_RESET:
		return do_reset(usb);
	case USBDEVFS_CONNECTINFO: {
		struct usbdevfs_connectinfo ci = { .devnum = c->port->devnum, .slow = 0 };
		return write_arg(ioc, &ci, sizeof(ci)) ? 0 : -EFAULT;
	}
	case USBDEVFS_GET_SPEED:
		return USB_SPEED_FULL;
	case USBDEVFS_GETDRIVER:
		return -ENODATA;             /* no kernel driver is bound */
	case USBDEVFS_IOCTL:
		return do_usbdevfs_ioctl(ioc);
	}
	return -ENOTTY;
}

static gboolean handler_handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *ioc)
{
	emu_usb *usb = EMU_USB_HANDLER(base)->usb;
	gulong req = umockdev_ioctl_client_get_request(ioc);
	if (!usb) {          /* the emulator is shutting down */
		reply(ioc, -1, ENODEV);
		return TRUE;
	}

	g_mutex_lock(&usb->lock);
	if (!usb->worker_ctx)
		usb->worker_ctx = g_main_context_ref_thread_default();
	sweep_vanished(usb);
	client *c = client_lookup(usb, ioc);
	bool gone = c && c->port->gone;
	g_mutex_unlock(&usb->lock);
	if (!c) {
		/* Not one of our nodes (cannot happen: we attach per node). */
		reply(ioc, -1, ENODEV);
		return TRUE;
	}

	switch (req) {
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		do_reap(usb, c, ioc, req == USBDEVFS_REAPURB);
		return TRUE;
	}
	if (gone) {
		reply(ioc, -1, ENODEV);
		return TRUE;
	}
	switch (req) {
	case USBDEVFS_SUBMITURB: {
		after_submit a = { 0 };
		int r = do_submiturb(usb, c, ioc, &a);
		reply(ioc, r < 0 ? -1 : 0, -r);
		deliver(usb, &a);
		return TRUE;
	}
	case USBDEVFS_DISCARDURB: {
		int r = do_discardurb(usb, c, ioc);
		reply(ioc, r < 0 ? -1 : 0, -r);
		return TRUE;
	}
	case USBDEVFS_CONTROL:
		do_control(usb, c, ioc);
		return TRUE;
	}
	long r = do_simple(usb, c, ioc, req);
	reply(ioc, r < 0 ? -1 : r, r < 0 ? (int)-r : 0);
	return TRUE;
}

static void emu_usb_handler_class_init(EmuUsbHandlerClass *klass)
{
	UMockdevIoctlBaseClass *base = UMOCKDEV_IOCTL_BASE_CLASS(klass);
	base->handle_ioctl = handler_handle_ioctl;
	base->client_connected = handler_client_connected;
	base->client_vanished = handler_client_vanished;
}

static void emu_usb_handler_init(EmuUsbHandler *self)
{
	(void)self;
}

G_DEFINE_TYPE(EmuUsbHandler, emu_usb_handler, UMOCKDEV_TYPE_IOCTL_BASE)

/* ---- public API --------------------------------------------------------------- */

emu_usb *emu_usb_new(UMockdevTestbed *tb, const emu_profile *profile, const emu_usb_sink *sink)
{
	emu_usb *usb = g_new0(emu_usb, 1);
	g_mutex_init(&usb->lock);
	usb->tb = g_object_ref(tb);
	usb->p = profile;
	usb->sink = *sink;
	usb->handler = g_object_new(EMU_TYPE_USB_HANDLER, NULL);
	usb->handler->usb = usb;
	usb->ports = g_ptr_array_new();
	usb->clients = g_hash_table_new(g_direct_hash, g_direct_equal);
	g_queue_init(&usb->bulk_in_urbs);
	g_queue_init(&usb->intr_urbs);
	g_queue_init(&usb->bulk_frames);
	g_queue_init(&usb->intr_frames);
	g_queue_init(&usb->class_reqs);
	usb->out_msg = g_malloc(OUT_MSG_MAX);
	return usb;
}

static int make_fifo(const char *path, char **error)
{
	char *dir = g_path_get_dirname(path);
	int r = g_mkdir_with_parents(dir, 0755);
	g_free(dir);
	if (r < 0 || (unlink(path) < 0 && errno != ENOENT) || mkfifo(path, 0666) < 0) {
		*error = g_strdup_printf("cannot create FIFO %s: %s", path, g_strerror(errno));
		return -1;
	}
	/* O_RDWR: we are reader and writer, so the FIFO never reports POLLERR
	 * or blocks on open, and clients opening it O_RDWR do not block either. */
	int fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && fchmod(fd, 0666) < 0)    /* any user may open the node, as with udev's uaccess */
		g_warning("emu-usb: chmod %s: %s", path, g_strerror(errno));
	if (fd < 0)
		*error = g_strdup_printf("cannot open FIFO %s: %s", path, g_strerror(errno));
	return fd;
}

int emu_usb_plug(emu_usb *usb, const char *devnode, unsigned devnum, char **error)
{
	if (usb->cur) {
		*error = g_strdup("the device is already plugged in");
		return -1;
	}
	if (strlen(devnode) >= sizeof(((port *)0)->devnode)) {
		*error = g_strdup_printf("device node name too long: %s", devnode);
		return -1;
	}
	port *pt = port_by_devnode(usb, devnode);
	if (pt) {
		*error = g_strdup_printf("%s was served before; use a new device number", devnode);
		return -1;
	}
	char *root = umockdev_testbed_get_root_dir(usb->tb);
	pt = g_new0(port, 1);
	g_strlcpy(pt->devnode, devnode, sizeof(pt->devnode));
	pt->devnum = devnum;
	pt->fifo_path = g_strconcat(root, devnode, NULL);
	g_free(root);
	pt->fifo_fd = make_fifo(pt->fifo_path, error);
	if (pt->fifo_fd < 0) {
		g_free(pt->fifo_path);
		g_free(pt);
		return -1;
	}
	fifo_fill(pt);

	/* Known before the first client can connect to it. */
	g_mutex_lock(&usb->lock);
	g_ptr_array_add(usb->ports, pt);
	usb->cur = pt;
	usb->halt_in = usb->halt_out = usb->halt_intr = false;
	usb->out_len = 0;
	g_mutex_unlock(&usb->lock);

	GError *err = NULL;
	if (!umockdev_testbed_attach_ioctl(usb->tb, devnode, UMOCKDEV_IOCTL_BASE(usb->handler), &err)) {
		*error = g_strdup_printf("cannot attach ioctl handler to %s: %s", devnode,
					 err ? err->message : "unknown error");
		g_clear_error(&err);
		g_mutex_lock(&usb->lock);
		g_ptr_array_remove(usb->ports, pt);
		usb->cur = NULL;
		g_mutex_unlock(&usb->lock);
		close(pt->fifo_fd);
		unlink(pt->fifo_path);
		g_free(pt->fifo_path);
		g_free(pt);
		return -1;
	}
	return 0;
}

/* Lock held: fail every outstanding class request (the host sees ENODEV). */
static void fail_class_requests(emu_usb *usb)
{
	for (GList *l = usb->class_reqs.head; l; l = l->next) {
		class_pending *cp = l->data;
		if (cp->urb) {
			urb *u = cp->urb;
			cp->urb = NULL;
			u->creq = NULL;
			urb_complete(usb, u, -ENODEV, 0, NULL);
		}
		if (cp->ioc) {
			reply(cp->ioc, -1, ENODEV);
			g_clear_object(&cp->ioc);
			g_clear_object(&cp->ioc_data);
		}
	}
}

void emu_usb_unplug(emu_usb *usb)
{
	g_mutex_lock(&usb->lock);
	port *pt = usb->cur;
	if (!pt) {
		g_mutex_unlock(&usb->lock);
		return;
	}
	pt->gone = true;
	usb->cur = NULL;
	fail_queue(usb, &usb->bulk_in_urbs, -ENODEV);
	fail_queue(usb, &usb->intr_urbs, -ENODEV);
	fail_class_requests(usb);
	clear_frames(&usb->bulk_frames);
	clear_frames(&usb->intr_frames);
	usb->out_len = 0;
	/* Clients blocked in REAPURB get ENODEV now. */
	GHashTableIter it;
	gpointer key, val;
	g_hash_table_iter_init(&it, usb->clients);
	while (g_hash_table_iter_next(&it, &key, &val)) {
		client *c = val;
		if (c->port == pt && c->blocked_reap && g_queue_is_empty(&c->completed)) {
			reply(c->blocked_reap, -1, ENODEV);
			g_clear_object(&c->blocked_reap);
		}
	}
	g_mutex_unlock(&usb->lock);
	/* Open fds keep the FIFO; new opens find no node, as after a real unplug. */
	unlink(pt->fifo_path);
}

bool emu_usb_plugged(emu_usb *usb)
{
	g_mutex_lock(&usb->lock);
	bool r = usb->cur != NULL;
	g_mutex_unlock(&usb->lock);
	return r;
}

void emu_usb_bulk_in(emu_usb *usb, const uint8_t *frame, size_t len)
{
	g_mutex_lock(&usb->lock);
	if (usb->cur) {
		queue_frame(usb, &usb->bulk_frames, BULK_QUEUE_MAX, frame, len, "bulk IN");
		if (!usb->halt_in)
			match_frames(usb, &usb->bulk_in_urbs, &usb->bulk_frames, &usb->stats.bulk_in);
	}
	g_mutex_unlock(&usb->lock);
}

void emu_usb_interrupt_in(emu_usb *usb, const uint8_t *frame, size_t len)
{
	g_mutex_lock(&usb->lock);
	if (usb->cur && usb->p->has_interrupt_ep) {
		queue_frame(usb, &usb->intr_frames, INTR_QUEUE_MAX, frame, len, "interrupt IN");
		if (!usb->halt_intr)
			match_frames(usb, &usb->intr_urbs, &usb->intr_frames, &usb->stats.intr_in);
	}
	g_mutex_unlock(&usb->lock);
}

void emu_usb_class_done(emu_usb *usb, emu_usb_class_req *req, int result)
{
	class_pending *cp = (class_pending *)req;
	bool in = req->bmRequestType & RT_DIR_IN;
	if (result > req->wLength)
		result = req->wLength;

	g_mutex_lock(&usb->lock);
	g_queue_remove(&usb->class_reqs, cp);
	if (cp->urb) {
		urb *u = cp->urb;
		u->creq = NULL;
		cp->urb = NULL;
		if (result < 0)
			urb_complete(usb, u, -EPIPE, 0, NULL);
		else if (in)
			urb_complete(usb, u, 0, (size_t)result, g_bytes_new(req->data, (size_t)result));
		else
			urb_complete(usb, u, 0, req->wLength, NULL);
	}
	UMockdevIoctlClient *ioc = cp->ioc;
	UMockdevIoctlData *data = cp->ioc_data;
	cp->ioc = NULL;
	cp->ioc_data = NULL;
	g_mutex_unlock(&usb->lock);

	if (ioc) {
		/* The client is blocked in this ioctl: nobody else touches its data. */
		if (result > 0 && in && data)
			memcpy(data->data, req->data, (size_t)result);
		if (result < 0)
			reply(ioc, -1, EPIPE);
		else
			reply(ioc, in ? result : req->wLength, 0);
		g_object_unref(ioc);
	}
	g_clear_object(&data);
	g_free(req->data);
	g_free(cp);
}

void emu_usb_set_stall(emu_usb *usb, bool stall)
{
	g_mutex_lock(&usb->lock);
	set_halt(usb, usb->p->ep_bulk_in, stall);
	set_halt(usb, usb->p->ep_bulk_out, stall);
	if (!stall)
		match_frames(usb, &usb->bulk_in_urbs, &usb->bulk_frames, &usb->stats.bulk_in);
	g_mutex_unlock(&usb->lock);
}

void emu_usb_get_stats(emu_usb *usb, emu_usb_stats *out)
{
	g_mutex_lock(&usb->lock);
	*out = usb->stats;
	g_mutex_unlock(&usb->lock);
}

void emu_usb_reset_stats(emu_usb *usb)
{
	g_mutex_lock(&usb->lock);
	memset(&usb->stats, 0, sizeof(usb->stats));
	g_mutex_unlock(&usb->lock);
}

void emu_usb_free(emu_usb *usb)
{
	if (!usb)
		return;
	emu_usb_unplug(usb);
	g_mutex_lock(&usb->lock);
	GList *clients = g_hash_table_get_values(usb->clients);
	for (GList *l = clients; l; l = l->next) {
		client *c = l->data;
		g_signal_handlers_disconnect_by_data(c->ioc, usb);
		client_forget(usb, c);
	}
	g_list_free(clients);
	class_pending *cp;
	while ((cp = g_queue_pop_head(&usb->class_reqs))) {
		/* The firmware is gone: nobody will answer these any more. */
		g_free(cp->pub.data);
		g_free(cp);
	}
	g_mutex_unlock(&usb->lock);
	for (guint i = 0; i < usb->ports->len; i++) {
		port *pt = g_ptr_array_index(usb->ports, i);
		close(pt->fifo_fd);
		g_free(pt->fifo_path);
		g_free(pt);
	}
	g_ptr_array_free(usb->ports, TRUE);
	g_hash_table_destroy(usb->clients);
	usb->handler->usb = NULL;
	g_object_unref(usb->handler);
	g_object_unref(usb->tb);
	if (usb->worker_ctx)
		g_main_context_unref(usb->worker_ctx);
	g_free(usb->out_msg);
	g_mutex_clear(&usb->lock);
	g_free(usb);
}

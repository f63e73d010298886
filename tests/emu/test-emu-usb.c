/* test-emu-usb.c — drives onshi-emu's USB side with plain libusb 1.0, the
 * way libccid does, and checks what a host sees on the wire.
 *
 * Run without arguments: starts `onshi-emu --profile tpdu-t1 --no-card`
 * (path from $ONSHI_EMU, else $ONSHI_TOP_BUILDDIR/tests/emu/onshi-emu),
 * re-executes itself under umockdev's preload with the testbed's
 * UMOCKDEV_DIR, runs the Check suite there, then tells the emulator to quit.
 * Tests run in order against one emulator; unplug/replug comes last.
 * Everything asserted holds for any correct CCID firmware behind the USB
 * layer: no card is inserted, so no card answer is assumed, except in
 * command_while_busy_gets_slot_busy, which inserts a replay card (and takes
 * it out again) to keep the firmware busy.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <check.h>
#include <libusb.h>
#include <linux/usbdevice_fs.h>
#include <onshi/ccid-const.h>
#include "emu-profile.h"

#define PROFILE "tpdu-t1"
#define TIMEOUT_MS 2000

static const emu_profile *prof;

/* ---- control socket ------------------------------------------------------------ */

static void ctl(const char *cmd, char *reply, size_t replysz)
{
	const char *path = getenv("ONSHI_EMU_CTL");
	ck_assert_ptr_nonnull(path);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	ck_assert_int_eq(write(fd, line, (size_t)n), n);
	size_t got = 0;
	while (got + 1 < replysz) {
		ssize_t r = read(fd, reply + got, 1);
		if (r <= 0 || reply[got] == '\n')
			break;
		got++;
	}
	reply[got] = '\0';
	close(fd);
}

static void ctl_ok(const char *cmd)
{
	char reply[256];
	ctl(cmd, reply, sizeof(reply));
	ck_assert_msg(strncmp(reply, "ok", 2) == 0, "%s -> %s", cmd, reply);
}

/* ---- libusb helpers ------------------------------------------------------------ */

static libusb_context *ctx;

static void setup(void)
{
	ck_assert_int_eq(libusb_init(&ctx), 0);
}

static void teardown(void)
{
	libusb_exit(ctx);
	ctx = NULL;
}

/* The emulated reader, or NULL after `wait_ms` without it. */
static libusb_device *find_reader(int wait_ms)
{
	for (int waited = 0;; waited += 50) {
		libusb_device **list;
		libusb_device *found = NULL;
		ssize_t n = libusb_get_device_list(ctx, &list);
		for (ssize_t i = 0; i < n && !found; i++) {
			struct libusb_device_descriptor dd;
			if (libusb_get_device_descriptor(list[i], &dd) == 0 &&
			    dd.idVendor == prof->vid && dd.idProduct == prof->pid)
				found = libusb_ref_device(list[i]);
		}
		if (n >= 0)
			libusb_free_device_list(list, 1);
		if (found || waited >= wait_ms)
			return found;
		usleep(50 * 1000);
	}
}

static libusb_device_handle *open_reader(void)
{
	libusb_device *dev = find_reader(TIMEOUT_MS);
	ck_assert_ptr_nonnull(dev);
	libusb_device_handle *h = NULL;
	ck_assert_int_eq(libusb_open(dev, &h), 0);
	libusb_unref_device(dev);
	ck_assert_int_eq(libusb_claim_interface(h, 0), 0);
	return h;
}

static void close_reader(libusb_device_handle *h)
{
	libusb_release_interface(h, 0);
	libusb_close(h);
}

/* Read interrupt frames until none comes within `ms`. */
static void drain_interrupt(libusb_device_handle *h, unsigned ms)
{
	uint8_t buf[64];
	int got;
	if (!prof->has_interrupt_ep)
		return;
	while (libusb_interrupt_transfer(h, prof->ep_intr_in, buf, sizeof(buf), &got, ms) == 0)
		;
}

static void send_msg(libusb_device_handle *h, const uint8_t *msg, int len)
{
	int sent = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_out, (uint8_t *)msg, len, &sent,
					      TIMEOUT_MS), 0);
	ck_assert_int_eq(sent, len);
}

static const uint8_t get_slot_status[CCID_HEADER_LEN] = { PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0,
							   0, 0x37, 0, 0, 0 };

/* GetSlotStatus round trip: any CCID firmware answers SlotStatus with our bSeq. */
static void expect_slot_status(libusb_device_handle *h)
{
	uint8_t buf[CCID_HEADER_LEN + 64];
	int got = -1;
	send_msg(h, get_slot_status, sizeof(get_slot_status));
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, buf, sizeof(buf), &got,
					      TIMEOUT_MS), 0);
	ck_assert_int_eq(got, CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(buf[CCID_OFF_SLOT], 0);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x37);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS] & CCID_ICC_MASK, CCID_ICC_ABSENT);
}

static double cpu_seconds(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/* ---- tests --------------------------------------------------------------------- */

static void LIBUSB_CALL on_transfer(struct libusb_transfer *t);

START_TEST(device_descriptor_matches_profile)
{
	libusb_device *dev = find_reader(TIMEOUT_MS);
	ck_assert_ptr_nonnull(dev);
	struct libusb_device_descriptor dd;
	ck_assert_int_eq(libusb_get_device_descriptor(dev, &dd), 0);
	ck_assert_uint_eq(dd.bcdUSB, prof->bcd_usb);
	ck_assert_uint_eq(dd.bcdDevice, prof->bcd_device);
	ck_assert_uint_eq(dd.bNumConfigurations, 1);
	ck_assert_uint_eq(libusb_get_bus_number(dev), 1);
	ck_assert_uint_eq(libusb_get_device_address(dev), 2);
	libusb_unref_device(dev);
}
END_TEST

START_TEST(configuration_carries_ccid_descriptor)
{
	libusb_device *dev = find_reader(TIMEOUT_MS);
	ck_assert_ptr_nonnull(dev);
	struct libusb_config_descriptor *cfg;
	ck_assert_int_eq(libusb_get_active_config_descriptor(dev, &cfg), 0);
	ck_assert_uint_eq(cfg->bNumInterfaces, 1);
	const struct libusb_interface_descriptor *id = &cfg->interface[0].altsetting[0];
	ck_assert_uint_eq(id->bInterfaceClass, prof->interface_class);
	ck_assert_uint_eq(id->bNumEndpoints, prof->has_interrupt_ep ? 3 : 2);
	ck_assert_int_eq(id->extra_length, CCID_CLASS_DESC_LEN);
	ck_assert_mem_eq(id->extra, prof->ccid_desc, CCID_CLASS_DESC_LEN);
	ck_assert_uint_eq(id->endpoint[0].bEndpointAddress, prof->ep_bulk_out);
	ck_assert_uint_eq(id->endpoint[0].bmAttributes & 3, LIBUSB_TRANSFER_TYPE_BULK);
	ck_assert_uint_eq(id->endpoint[1].bEndpointAddress, prof->ep_bulk_in);
	if (prof->has_interrupt_ep) {
		ck_assert_uint_eq(id->endpoint[2].bEndpointAddress, prof->ep_intr_in);
		ck_assert_uint_eq(id->endpoint[2].bmAttributes & 3, LIBUSB_TRANSFER_TYPE_INTERRUPT);
	}
	libusb_free_config_descriptor(cfg);
	libusb_unref_device(dev);
}
END_TEST

static void expect_string(libusb_device_handle *h, uint8_t index, const char *want)
{
	unsigned char s[256];
	if (!want) {
		ck_assert_uint_eq(index, 0);
		return;
	}
	int n = libusb_get_string_descriptor_ascii(h, index, s, sizeof(s));
	ck_assert_int_eq(n, (int)strlen(want));
	ck_assert_str_eq((char *)s, want);
}

START_TEST(string_descriptors_over_ep0)
{
	libusb_device_handle *h = open_reader();
	struct libusb_device_descriptor dd;
	ck_assert_int_eq(libusb_get_device_descriptor(libusb_get_device(h), &dd), 0);
	expect_string(h, dd.iManufacturer, prof->manufacturer);
	expect_string(h, dd.iProduct, prof->product);
	expect_string(h, dd.iSerialNumber, prof->serial);
	/* A descriptor fetched over the wire equals the one from sysfs. */
	uint8_t wire[18];
	ck_assert_int_eq(libusb_get_descriptor(h, LIBUSB_DT_DEVICE, 0, wire, sizeof(wire)), 18);
	ck_assert_uint_eq(wire[8] | wire[9] << 8, prof->vid);
	ck_assert_uint_eq(wire[10] | wire[11] << 8, prof->pid);
	/* No string 9, and vendor requests are not understood: STALL. */
	unsigned char s[64];
	ck_assert_int_eq(libusb_get_string_descriptor_ascii(h, 9, s, sizeof(s)), LIBUSB_ERROR_PIPE);
	ck_assert_int_eq(libusb_control_transfer(h, 0xC0, 0x42, 0, 0, s, 8, TIMEOUT_MS),
			 LIBUSB_ERROR_PIPE);
	close_reader(h);
}
END_TEST

START_TEST(bulk_round_trip_and_overflow)
{
	libusb_device_handle *h = open_reader();
	expect_slot_status(h);
	/* A frame longer than the buffer: what fits, then LIBUSB_ERROR_OVERFLOW. */
	uint8_t small[5];
	int got = -1;
	send_msg(h, get_slot_status, sizeof(get_slot_status));
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, small, sizeof(small), &got,
					      TIMEOUT_MS), LIBUSB_ERROR_OVERFLOW);
	ck_assert_int_eq(got, 5);
	ck_assert_uint_eq(small[CCID_OFF_TYPE], RDR_TO_PC_SLOT_STATUS);
	/* The rest of that frame is gone: the next exchange is clean. */
	expect_slot_status(h);
	close_reader(h);
}
END_TEST

static void expect_data_block(libusb_device_handle *h, uint8_t seq)
{
	uint8_t buf[CCID_HEADER_LEN + 300];
	int got = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, buf, sizeof(buf), &got,
					      TIMEOUT_MS), 0);
	ck_assert_int_ge(got, CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], seq);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS] & CCID_ICC_MASK, CCID_ICC_ABSENT);
}

START_TEST(bulk_out_message_spans_packets)
{
	libusb_device_handle *h = open_reader();
	/* XfrBlock of 10 + 70 bytes sent as 64 + 16: one message, one answer. */
	uint8_t msg[CCID_HEADER_LEN + 70] = { PC_TO_RDR_XFR_BLOCK, 70, 0, 0, 0, 0, 0x41 };
	send_msg(h, msg, 64);
	send_msg(h, msg + 64, sizeof(msg) - 64);
	expect_data_block(h, 0x41);
	/* Exactly one packet (10 + 54) followed by a zero-length packet: the
	 * ZLP ends nothing new, so there is no second answer. */
	uint8_t one[64] = { PC_TO_RDR_XFR_BLOCK, 54, 0, 0, 0, 0, 0x42 };
	send_msg(h, one, sizeof(one));
	int sent = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_out, one, 0, &sent, TIMEOUT_MS), 0);
	expect_data_block(h, 0x42);
	uint8_t buf[64];
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, buf, sizeof(buf), &sent, 300),
			 LIBUSB_ERROR_TIMEOUT);
	close_reader(h);
}
END_TEST

START_TEST(zero_packet_flag_ends_a_message)
{
	libusb_device_handle *h = open_reader();
	/* One whole packet sent with LIBUSB_TRANSFER_ADD_ZERO_PACKET: the ZLP
	 * after it ends the transfer, so the reader has a 64-byte message whose
	 * header claims 70 data bytes, and says so (bError 1) at once instead
	 * of taking the next message as the rest of this one. */
	uint8_t msg[64] = { PC_TO_RDR_XFR_BLOCK, 70, 0, 0, 0, 0, 0x45 };
	struct libusb_transfer *t = libusb_alloc_transfer(0);
	int done = 0;
	libusb_fill_bulk_transfer(t, h, prof->ep_bulk_out, msg, sizeof(msg), on_transfer, &done, TIMEOUT_MS);
	t->flags |= LIBUSB_TRANSFER_ADD_ZERO_PACKET;
	ck_assert_int_eq(libusb_submit_transfer(t), 0);
	struct timeval tv = { 2, 0 };
	while (!done)
		ck_assert_int_eq(libusb_handle_events_timeout_completed(ctx, &tv, &done), 0);
	ck_assert_int_eq(t->status, LIBUSB_TRANSFER_COMPLETED);
	ck_assert_int_eq(t->actual_length, 64);
	libusb_free_transfer(t);
	uint8_t buf[CCID_HEADER_LEN + 64];
	int got = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, buf, sizeof(buf), &got, 500), 0);
	ck_assert_int_eq(got, CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x45);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS] & CCID_CMD_MASK, CCID_CMD_FAILED);
	ck_assert_uint_eq(buf[CCID_OFF_ERROR], CCID_ERR_BAD_LENGTH);
	expect_slot_status(h);
	close_reader(h);
}
END_TEST

START_TEST(interrupt_idle_costs_no_cpu_and_reports_slot_change)
{
	ck_assert_msg(prof->has_interrupt_ep, "profile " PROFILE " has no interrupt endpoint");
	libusb_device_handle *h = open_reader();
	uint8_t buf[16];
	int got = -1;
	drain_interrupt(h, 100);
	double cpu0 = cpu_seconds();
	ck_assert_int_eq(libusb_interrupt_transfer(h, prof->ep_intr_in, buf, sizeof(buf), &got, 2000),
			 LIBUSB_ERROR_TIMEOUT);
	double idle_cpu = cpu_seconds() - cpu0;
	ck_assert_msg(idle_cpu < 0.2, "2 s idle wait used %.3f s CPU", idle_cpu);

	ctl_ok("remove 0");   /* firmware queues NotifySlotChange */
	ck_assert_int_eq(libusb_interrupt_transfer(h, prof->ep_intr_in, buf, sizeof(buf), &got,
						   TIMEOUT_MS), 0);
	ck_assert_int_ge(got, 2);
	ck_assert_uint_eq(buf[0], RDR_TO_PC_NOTIFY_SLOT_CHANGE);
	ck_assert_uint_eq(buf[1] & 0x01, 0);     /* slot 0: no card */
	close_reader(h);
}
END_TEST

START_TEST(stall_until_clear_halt)
{
	libusb_device_handle *h = open_reader();
	uint8_t status[2];
	ck_assert_int_eq(libusb_control_transfer(h, 0x82, LIBUSB_REQUEST_GET_STATUS, 0,
						 prof->ep_bulk_in, status, 2, TIMEOUT_MS), 2);
	ck_assert_uint_eq(status[0], 0);
	ctl_ok("fault stall");
	ck_assert_int_eq(libusb_control_transfer(h, 0x82, LIBUSB_REQUEST_GET_STATUS, 0,
						 prof->ep_bulk_in, status, 2, TIMEOUT_MS), 2);
	ck_assert_uint_eq(status[0], 1);
	int sent = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_out, (uint8_t *)get_slot_status,
					      sizeof(get_slot_status), &sent, TIMEOUT_MS),
			 LIBUSB_ERROR_PIPE);
	uint8_t buf[64];
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_in, buf, sizeof(buf), &sent,
					      TIMEOUT_MS), LIBUSB_ERROR_PIPE);
	ck_assert_int_eq(libusb_clear_halt(h, prof->ep_bulk_out), 0);
	ck_assert_int_eq(libusb_clear_halt(h, prof->ep_bulk_in), 0);
	expect_slot_status(h);
	close_reader(h);
}
END_TEST

static int stat_value(const char *reply, const char *key)
{
	const char *p = strstr(reply, key);
	ck_assert_ptr_nonnull(p);
	return atoi(p + strlen(key));
}

START_TEST(stats_count_transfers)
{
	libusb_device_handle *h = open_reader();
	drain_interrupt(h, 50);
	ctl_ok("reset-stats");
	expect_slot_status(h);
	char reply[256];
	ctl("stats", reply, sizeof(reply));
	ck_assert_int_eq(stat_value(reply, "bulk_out="), 1);
	ck_assert_int_eq(stat_value(reply, "bulk_in="), 1);
	ck_assert_int_eq(stat_value(reply, "apdus="), 0);
	close_reader(h);
}
END_TEST

START_TEST(control_protocol_rejects_bad_commands)
{
	char reply[256];
	ctl("fault no-such-fault", reply, sizeof(reply));
	ck_assert_str_eq(strncmp(reply, "err ", 4) == 0 ? "err" : reply, "err");
	ctl("insert 7 vcard:/nonexistent", reply, sizeof(reply));
	ck_assert_str_eq(strncmp(reply, "err ", 4) == 0 ? "err" : reply, "err");
	ctl("replug", reply, sizeof(reply));
	ck_assert_str_eq(reply, "err already plugged in");
}
END_TEST

/* tests/emu/onshi-emu-ctl: reply on stdout, exit 0 for ok, 1 for err. */
static int run_ctl_tool(const char *args, char *out, size_t outsz)
{
	const char *src = getenv("ONSHI_TOP_SRCDIR");
	const char *py = getenv("ONSHI_PYTHON");
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "%s %s/tests/emu/onshi-emu-ctl --socket %s %s",
		 py && *py ? py : "/usr/bin/python3", src && *src ? src : ".",
		 getenv("ONSHI_EMU_CTL"), args);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, outsz - 1, f);
	out[n] = '\0';
	int st = pclose(f);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(ctl_tool_exit_status)
{
	char out[256];
	ck_assert_int_eq(run_ctl_tool("stats", out, sizeof(out)), 0);
	ck_assert_msg(strncmp(out, "ok bulk_out=", 12) == 0, "%s", out);
	ck_assert_int_eq(run_ctl_tool("fault lightning", out, sizeof(out)), 1);
	ck_assert_msg(strncmp(out, "err ", 4) == 0, "%s", out);
}
END_TEST

/* A client that claims the interface, starts a read and dies without
 * releasing anything (run as a separate process: see main()). */
static int claim_and_die(void)
{
	libusb_context *c;
	if (libusb_init(&c) != 0)
		return 2;
	libusb_device_handle *h = libusb_open_device_with_vid_pid(c, prof->vid, prof->pid);
	if (!h || libusb_claim_interface(h, 0) != 0)
		return 3;
	static uint8_t buf[64];
	struct libusb_transfer *t = libusb_alloc_transfer(0);
	libusb_fill_bulk_transfer(t, h, prof->ep_bulk_in, buf, sizeof(buf), NULL, NULL, 0);
	if (libusb_submit_transfer(t) != 0)
		return 4;
	_exit(0);
}

START_TEST(dead_client_releases_its_claim)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("ONSHI_EMU_CLAIM_AND_DIE", "1", 1);
		execl("/proc/self/exe", "test-emu-usb", (char *)NULL);
		_exit(127);
	}
	int st = -1;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "claiming child failed: 0x%x", st);
	/* Its fd is closed: the interface is free again, and its pending read
	 * does not steal our answer. */
	libusb_device_handle *h = open_reader();
	expect_slot_status(h);
	close_reader(h);
}
END_TEST

/* ---- usbfs without libusb: what the kernel's answers look like ------------------- */

#define DEVNODE_FIRST "/dev/bus/usb/001/002"

static int raw_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? -errno : 0;
}

static bool pollout(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	return poll(&p, 1, ms) == 1 && (p.revents & POLLOUT);
}

static void *remove_card_later(void *arg)
{
	usleep(300 * 1000);
	ctl_ok("remove 0");
	return arg;
}

START_TEST(usbfs_answers_like_the_kernel)
{
	int fd = open(DEVNODE_FIRST, O_RDWR | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	uint32_t caps = 0;
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_GET_CAPABILITIES, &caps), 0);
	ck_assert_uint_eq(caps & USBDEVFS_CAP_NO_PACKET_SIZE_LIM, USBDEVFS_CAP_NO_PACKET_SIZE_LIM);
	ck_assert_uint_eq(caps & USBDEVFS_CAP_BULK_CONTINUATION, 0);  /* one URB per transfer */
	ck_assert_int_eq(ioctl(fd, USBDEVFS_GET_SPEED, NULL), 2);      /* USB_SPEED_FULL */
	struct usbdevfs_connectinfo ci = { 0 };
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_CONNECTINFO, &ci), 0);
	ck_assert_uint_eq(ci.devnum, 2);
	struct usbdevfs_getdriver gd = { .interface = 0 };
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_GETDRIVER, &gd), -ENODATA);
	unsigned int ifnum = 1;
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_CLAIMINTERFACE, &ifnum), -ENOENT);
	ifnum = 0;
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_CLAIMINTERFACE, &ifnum), 0);
	ck_assert_int_eq(ioctl(fd, 0x5401 /* TCGETS */, &caps) < 0 ? errno : 0, ENOTTY);

	/* Nothing reapable: EAGAIN, and poll() does not report the fd ready. */
	void *reaped = NULL;
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped), -EAGAIN);
	ck_assert(!pollout(fd, 50));

	/* An URB on an endpoint the device does not have. */
	uint8_t buf[64];
	struct usbdevfs_urb bad = { .type = USBDEVFS_URB_TYPE_BULK, .endpoint = 0x85,
				    .buffer = buf, .buffer_length = sizeof(buf) };
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_SUBMITURB, &bad), -ENOENT);

	/* A control URB: GET_DESCRIPTOR(device) comes back with the setup
	 * packet untouched and 18 bytes after it; poll() says so. */
	uint8_t ctrl[8 + 18] = { 0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 18, 0 };
	struct usbdevfs_urb cu = { .type = USBDEVFS_URB_TYPE_CONTROL, .endpoint = 0,
				   .buffer = ctrl, .buffer_length = sizeof(ctrl) };
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_SUBMITURB, &cu), 0);
	ck_assert(pollout(fd, 1000));
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped), 0);
	ck_assert_ptr_eq(reaped, &cu);
	ck_assert_int_eq(cu.status, 0);
	ck_assert_int_eq(cu.actual_length, 18);
	ck_assert_uint_eq(ctrl[8], 18);
	ck_assert_uint_eq(ctrl[8 + 1], 0x01);
	ck_assert_uint_eq(ctrl[8 + 8] | ctrl[8 + 9] << 8, prof->vid);
	ck_assert(!pollout(fd, 50));

	/* The CONTROL ioctl: a standard request answered at once, and the CCID
	 * Abort class request, which goes through the firmware thread. */
	uint8_t langid[4] = { 0 };
	struct usbdevfs_ctrltransfer ct = { .bRequestType = 0x80, .bRequest = 0x06,
					    .wValue = 0x0300, .wIndex = 0, .wLength = 4,
					    .timeout = 1000, .data = langid };
	ck_assert_int_eq(ioctl(fd, USBDEVFS_CONTROL, &ct), 4);
	ck_assert_uint_eq(langid[2] | langid[3] << 8, 0x0409);
	struct usbdevfs_ctrltransfer abort_req = { .bRequestType = 0x21,
						   .bRequest = CCID_REQ_ABORT,
						   .wValue = 0x0500 /* bSeq 5, slot 0 */,
						   .wIndex = 0, .wLength = 0, .timeout = 1000 };
	ck_assert_int_eq(ioctl(fd, USBDEVFS_CONTROL, &abort_req), 0);
	struct usbdevfs_ctrltransfer vendor = { .bRequestType = 0xC0, .bRequest = 0x01,
						.wLength = 4, .timeout = 1000, .data = langid };
	ck_assert_int_eq(ioctl(fd, USBDEVFS_CONTROL, &vendor) < 0 ? errno : 0, EPIPE);

	/* DISCARDURB: a pending read completes with -ECONNRESET; a second
	 * discard of the same URB finds nothing (EINVAL). */
	struct usbdevfs_urb in = { .type = USBDEVFS_URB_TYPE_BULK, .endpoint = prof->ep_bulk_in,
				   .buffer = buf, .buffer_length = sizeof(buf) };
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_SUBMITURB, &in), 0);
	ck_assert_int_eq(ioctl(fd, USBDEVFS_DISCARDURB, &in), 0);
	ck_assert_int_eq(ioctl(fd, USBDEVFS_DISCARDURB, &in) < 0 ? errno : 0, EINVAL);
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURBNDELAY, &reaped), 0);
	ck_assert_ptr_eq(reaped, &in);
	ck_assert_int_eq(in.status, -ECONNRESET);

	/* Blocking REAPURB returns when a frame arrives later (NotifySlotChange). */
	if (prof->has_interrupt_ep) {
		struct usbdevfs_urb iu = { .type = USBDEVFS_URB_TYPE_INTERRUPT,
					   .endpoint = prof->ep_intr_in,
					   .buffer = buf, .buffer_length = prof->intr_max_packet };
		/* drop what the firmware queued before */
		for (;;) {
			ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_SUBMITURB, &iu), 0);
			if (!pollout(fd, 100)) {
				ck_assert_int_eq(ioctl(fd, USBDEVFS_DISCARDURB, &iu), 0);
				ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
				break;
			}
			ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
		}
		ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_SUBMITURB, &iu), 0);
		pthread_t th;
		ck_assert_int_eq(pthread_create(&th, NULL, remove_card_later, NULL), 0);
		ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_REAPURB, &reaped), 0);
		pthread_join(th, NULL);
		ck_assert_ptr_eq(reaped, &iu);
		ck_assert_int_eq(iu.status, 0);
		ck_assert_int_ge(iu.actual_length, 2);
		ck_assert_uint_eq(buf[0], RDR_TO_PC_NOTIFY_SLOT_CHANGE);
	}
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_RELEASEINTERFACE, &ifnum), 0);
	ck_assert_int_eq(raw_ioctl(fd, USBDEVFS_RELEASEINTERFACE, &ifnum), -EINVAL);
	close(fd);
}
END_TEST

static void LIBUSB_CALL on_transfer(struct libusb_transfer *t)
{
	*(int *)t->user_data = 1;
}

/* One bulk IN frame: its length, or a libusb error. */
static int read_frame(libusb_device_handle *h, uint8_t *buf, int size, unsigned ms)
{
	int got = -1;
	int r = libusb_bulk_transfer(h, prof->ep_bulk_in, buf, size, &got, ms);
	return r == 0 ? got : r;
}

/* The My Number contact ATR (T=1, IFSC 251, BWT about 1.4 s at 4 MHz). */
#define MYNUMBER_ATR_HEX "3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B"

START_TEST(command_while_busy_gets_slot_busy)
{
	/* A replay card that takes 800 ms over its one APDU. */
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/emu-usb-busy-%d.apdu", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "! power-on " MYNUMBER_ATR_HEX "\n> 00 A4 00 00\n< 90 00\n");
	ck_assert_int_eq(fclose(f), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "insert 0 replay:%s", path);
	ctl_ok(cmd);
	unlink(path);                   /* read at insert: nothing left behind on failure */
	ctl_ok("card-delay 0 800");
	libusb_device_handle *h = open_reader();
	drain_interrupt(h, 100);
	uint8_t buf[CCID_HEADER_LEN + 300];
	/* usbfs_answers_like_the_kernel left an Abort request (bSeq 5) without
	 * its PC_to_RDR_Abort: end that handshake, or the slot answers
	 * CMD_ABORTED to everything (CCID 1.1 §5.3.1). */
	const uint8_t end_abort[CCID_HEADER_LEN] = { PC_TO_RDR_ABORT, 0, 0, 0, 0, 0, 0x05 };
	send_msg(h, end_abort, sizeof(end_abort));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);

	const uint8_t power_on[CCID_HEADER_LEN] = { PC_TO_RDR_ICC_POWER_ON, 0, 0, 0, 0, 0, 0x61 };
	send_msg(h, power_on, sizeof(power_on));
	int n = read_frame(h, buf, sizeof(buf), TIMEOUT_MS);
	ck_assert_msg(n == CCID_HEADER_LEN + 19, "power-on answer of %d bytes: %02X seq %02X status %02X error %02X",
		      n, buf[0], buf[CCID_OFF_SEQ], buf[CCID_OFF_STATUS], buf[CCID_OFF_ERROR]);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x61);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS], CCID_ICC_PRESENT_ACTIVE);

	/* I(0,0) carrying 00 A4 00 00: the card works on it for 800 ms */
	const uint8_t xfr[CCID_HEADER_LEN + 8] = { PC_TO_RDR_XFR_BLOCK, 8, 0, 0, 0, 0, 0x62, 0, 0, 0,
						   0x00, 0x00, 0x04, 0x00, 0xA4, 0x00, 0x00, 0xA0 };
	send_msg(h, xfr, sizeof(xfr));
	/* meanwhile GetSlotStatus: a reader with bMaxCCIDBusySlots 1 says busy now */
	const uint8_t status[CCID_HEADER_LEN] = { PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, 0, 0x63 };
	send_msg(h, status, sizeof(status));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), 400), CCID_HEADER_LEN);
	const uint8_t busy[CCID_HEADER_LEN] = { RDR_TO_PC_SLOT_STATUS, 0, 0, 0, 0, 0, 0x63,
						CCID_CMD_FAILED | CCID_ICC_PRESENT_ACTIVE,
						CCID_ERR_CMD_SLOT_BUSY, 0 };
	ck_assert_mem_eq(buf, busy, sizeof(busy));
	/* then the busy command's own answer: I(0,0) 90 00 */
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN + 6);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x62);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS], CCID_ICC_PRESENT_ACTIVE);
	const uint8_t block[6] = { 0x00, 0x00, 0x02, 0x90, 0x00, 0x92 };
	ck_assert_mem_eq(buf + CCID_HEADER_LEN, block, sizeof(block));
	/* and the reader takes commands again */
	send_msg(h, status, sizeof(status));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS], CCID_ICC_PRESENT_ACTIVE);
	ck_assert_uint_eq(buf[CCID_OFF_ERROR], 0);
	close_reader(h);
	ctl_ok("card-delay 0 0");
	ctl_ok("remove 0");
	h = open_reader();
	drain_interrupt(h, 100);
	close_reader(h);
}
END_TEST

START_TEST(command_right_after_an_answer_is_not_busy)
{
	/* A reader is free again once it has sent its answer: a host that sends
	 * the next command the moment it has the last answer must never get
	 * CMD_SLOT_BUSY (libccid's T=1 then gives up on the card for good; seen
	 * in CI under ASan).  answer-tail makes the firmware linger 30 ms after
	 * each answer, so every command below lands in that window. */
	ctl_ok("answer-tail 30");
	libusb_device_handle *h = open_reader();
	drain_interrupt(h, 100);
	uint8_t buf[CCID_HEADER_LEN + 64];
	for (unsigned i = 0; i < 20; i++) {
		const uint8_t status[CCID_HEADER_LEN] = { PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, 0,
							  (uint8_t)i };
		send_msg(h, status, sizeof(status));
		ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);
		ck_assert_msg(buf[CCID_OFF_ERROR] == 0 && buf[CCID_OFF_SEQ] == (uint8_t)i,
			      "command %u: bSeq %02X status %02X error %02X", i, buf[CCID_OFF_SEQ],
			      buf[CCID_OFF_STATUS], buf[CCID_OFF_ERROR]);
	}
	close_reader(h);
	ctl_ok("answer-tail 0");
}
END_TEST

START_TEST(abort_ends_a_power_on_waiting_for_a_vicc_peer)
{
	/* No vicc peer ever connects: IccPowerOn would wait 20 s for one.  The
	 * CCID Abort handshake ends it at once (CCID 1.1 §5.3.1). */
	ctl_ok("insert 0 vicc:0,timeout=20000");
	libusb_device_handle *h = open_reader();
	drain_interrupt(h, 100);
	uint8_t buf[CCID_HEADER_LEN + 64];
	const uint8_t power_on[CCID_HEADER_LEN] = { PC_TO_RDR_ICC_POWER_ON, 0, 0, 0, 0, 0, 0x65 };
	send_msg(h, power_on, sizeof(power_on));
	usleep(200 * 1000);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ck_assert_int_eq(libusb_control_transfer(h, 0x21, CCID_REQ_ABORT, 0x66 << 8 | 0, 0, NULL, 0,
						 TIMEOUT_MS), 0);
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x65);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS] & CCID_CMD_MASK, CCID_CMD_FAILED);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	ck_assert_int_lt(ms, 1500);
	const uint8_t abort_msg[CCID_HEADER_LEN] = { PC_TO_RDR_ABORT, 0, 0, 0, 0, 0, 0x66 };
	send_msg(h, abort_msg, sizeof(abort_msg));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_TYPE], RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x66);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS] & CCID_CMD_MASK, CCID_CMD_OK);
	close_reader(h);
	ctl_ok("remove 0");
	h = open_reader();
	drain_interrupt(h, 100);
	close_reader(h);
}
END_TEST

START_TEST(unplug_fails_pending_urbs_and_replug_renumbers)
{
	libusb_device_handle *h = open_reader();
	/* A bulk IN read waiting for an answer that never comes, as libccid's. */
	uint8_t buf[CCID_HEADER_LEN + 64];
	int done = 0;
	struct libusb_transfer *t = libusb_alloc_transfer(0);
	libusb_fill_bulk_transfer(t, h, prof->ep_bulk_in, buf, sizeof(buf), on_transfer, &done, 0);
	ck_assert_int_eq(libusb_submit_transfer(t), 0);
	ctl_ok("unplug");
	struct timeval tv = { 2, 0 };
	while (!done)
		ck_assert_int_eq(libusb_handle_events_timeout_completed(ctx, &tv, &done), 0);
	ck_assert_int_eq(t->status, LIBUSB_TRANSFER_NO_DEVICE);
	libusb_free_transfer(t);
	int sent = -1;
	ck_assert_int_eq(libusb_bulk_transfer(h, prof->ep_bulk_out, (uint8_t *)get_slot_status,
					      sizeof(get_slot_status), &sent, TIMEOUT_MS),
			 LIBUSB_ERROR_NO_DEVICE);
	libusb_close(h);

	char reply[256];
	ctl("replug", reply, sizeof(reply));
	ck_assert_str_eq(reply, "ok devnode=/dev/bus/usb/001/003");
	libusb_device *dev = find_reader(TIMEOUT_MS);
	ck_assert_ptr_nonnull(dev);
	ck_assert_uint_eq(libusb_get_device_address(dev), 3);
	libusb_unref_device(dev);
	h = open_reader();
	expect_slot_status(h);
	close_reader(h);
}
END_TEST

START_TEST(replug_finds_the_card_unpowered)
{
	/* A card powered up before the cable is pulled: after the replug the
	 * reader reports it inactive (it lost power with the reader) and the
	 * replay card saw its power-off, so it asks for nothing more. */
	char path[256];
	const char *tmp = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/emu-usb-replug-%d.apdu", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "! power-on " MYNUMBER_ATR_HEX "\n");
	ck_assert_int_eq(fclose(f), 0);
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "insert 0 replay:%s", path);
	ctl_ok(cmd);
	unlink(path);
	libusb_device_handle *h = open_reader();
	uint8_t buf[CCID_HEADER_LEN + 64];
	const uint8_t power_on[CCID_HEADER_LEN] = { PC_TO_RDR_ICC_POWER_ON, 0, 0, 0, 0, 0, 0x71 };
	send_msg(h, power_on, sizeof(power_on));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN + 19);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS], CCID_ICC_PRESENT_ACTIVE);
	ctl_ok("unplug");
	libusb_close(h);
	char reply[256];
	ctl("replug", reply, sizeof(reply));
	ck_assert_str_eq(reply, "ok devnode=/dev/bus/usb/001/004");
	h = open_reader();
	const uint8_t status[CCID_HEADER_LEN] = { PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, 0, 0x72 };
	send_msg(h, status, sizeof(status));
	ck_assert_int_eq(read_frame(h, buf, sizeof(buf), TIMEOUT_MS), CCID_HEADER_LEN);
	ck_assert_uint_eq(buf[CCID_OFF_SEQ], 0x72);
	ck_assert_uint_eq(buf[CCID_OFF_STATUS], CCID_ICC_PRESENT_INACTIVE);
	ck_assert_uint_eq(buf[CCID_OFF_ERROR], 0);
	close_reader(h);
	ctl_ok("remove 0");
}
END_TEST

static Suite *emu_usb_suite(void)
{
	Suite *s = suite_create("emu-usb");
	TCase *tc = tcase_create("libusb");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, device_descriptor_matches_profile);
	tcase_add_test(tc, configuration_carries_ccid_descriptor);
	tcase_add_test(tc, string_descriptors_over_ep0);
	tcase_add_test(tc, bulk_round_trip_and_overflow);
	tcase_add_test(tc, bulk_out_message_spans_packets);
	tcase_add_test(tc, zero_packet_flag_ends_a_message);
	tcase_add_test(tc, interrupt_idle_costs_no_cpu_and_reports_slot_change);
	tcase_add_test(tc, stall_until_clear_halt);
	tcase_add_test(tc, stats_count_transfers);
	tcase_add_test(tc, control_protocol_rejects_bad_commands);
	tcase_add_test(tc, ctl_tool_exit_status);
	tcase_add_test(tc, dead_client_releases_its_claim);
	tcase_add_test(tc, usbfs_answers_like_the_kernel);
	tcase_add_test(tc, command_while_busy_gets_slot_busy);
	tcase_add_test(tc, command_right_after_an_answer_is_not_busy);
	tcase_add_test(tc, abort_ends_a_power_on_waiting_for_a_vicc_peer);
	tcase_add_test(tc, unplug_fails_pending_urbs_and_replug_renumbers);
	tcase_add_test(tc, replug_finds_the_card_unpowered);
	suite_add_tcase(s, tc);
	return s;
}

static int run_suite(void)
{
	prof = emu_profile_find(PROFILE);
	if (!prof) {
		fprintf(stderr, "no profile %s\n", PROFILE);
		return 1;
	}
	if (getenv("ONSHI_EMU_CLAIM_AND_DIE"))
		return claim_and_die();
	SRunner *sr = srunner_create(emu_usb_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* ---- parent: emulator lifetime ------------------------------------------------------ */

static char *emu_path(void)
{
	const char *e = getenv("ONSHI_EMU");
	if (e)
		return strdup(e);
	const char *top = getenv("ONSHI_TOP_BUILDDIR");
	char *p = NULL;
	if (asprintf(&p, "%s/tests/emu/onshi-emu", top ? top : ".") < 0)
		return NULL;
	return p;
}

/* Start the emulator; returns its pid and fills UMOCKDEV_DIR from its stdout. */
static pid_t start_emu(const char *sock, char *dir, size_t dirsz, FILE **out)
{
	int pfd[2], in[2];
	if (pipe(pfd) < 0 || pipe(in) < 0)
		return -1;
	char *emu = emu_path();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		dup2(in[0], STDIN_FILENO);   /* our exit closes it: the emulator ends too */
		close(pfd[0]);
		close(pfd[1]);
		close(in[0]);
		close(in[1]);
		execl(emu, emu, "--profile", PROFILE, "--no-card", "--control", sock, (char *)NULL);
		perror(emu);
		_exit(127);
	}
	free(emu);
	close(pfd[1]);
	close(in[0]);
	*out = fdopen(pfd[0], "r");
	char line[512];
	bool ready = false;
	dir[0] = '\0';
	while (*out && fgets(line, sizeof(line), *out)) {
		line[strcspn(line, "\n")] = '\0';
		if (strncmp(line, "UMOCKDEV_DIR=", 13) == 0)
			snprintf(dir, dirsz, "%s", line + 13);
		if (strcmp(line, "READY") == 0) {
			ready = true;
			break;
		}
	}
	return ready && dir[0] ? pid : -1;
}

static int run_child_under_preload(const char *self, const char *dir, const char *sock)
{
	pid_t pid = fork();
	if (pid == 0) {
		const char *pre = getenv("LD_PRELOAD");
		char *preload = NULL;
		if (asprintf(&preload, "libumockdev-preload.so.0%s%s", pre ? ":" : "", pre ? pre : "") < 0)
			_exit(127);
		setenv("LD_PRELOAD", preload, 1);
		setenv("UMOCKDEV_DIR", dir, 1);
		setenv("ONSHI_EMU_CTL", sock, 1);
		setenv("ONSHI_EMU_CHILD", "1", 1);
		const char *asan = getenv("ASAN_OPTIONS");
		char *opts = NULL;
		if (asprintf(&opts, "%s%sverify_asan_link_order=0", asan ? asan : "", asan ? ":" : "") < 0)
			_exit(127);
		setenv("ASAN_OPTIONS", opts, 1);
		execl(self, self, (char *)NULL);
		perror(self);
		_exit(127);
	}
	int st = 0;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return 1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

int main(int argc, char **argv)
{
	if (getenv("ONSHI_EMU_CHILD"))
		return run_suite();

	char sock[108], dir[512];
	const char *tmp = getenv("TMPDIR");
	snprintf(sock, sizeof(sock), "%s/emu-usb-%d.sock", tmp && *tmp ? tmp : "/tmp", (int)getpid());
	FILE *out = NULL;
	pid_t emu = start_emu(sock, dir, sizeof(dir), &out);
	if (emu < 0) {
		fprintf(stderr, "onshi-emu did not become ready\n");
		return 99;
	}
	int rc = run_child_under_preload("/proc/self/exe", dir, sock);

	/* quit, then make sure it is gone and took its testbed with it. */
	kill(emu, SIGTERM);
	int st = 0;
	waitpid(emu, &st, 0);
	if (out)
		fclose(out);
	if (access(dir, F_OK) == 0) {
		fprintf(stderr, "testbed %s left behind\n", dir);
		rc = 1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "onshi-emu exited abnormally (status 0x%x)\n", st);
		rc = 1;
	}
	(void)argc;
	(void)argv;
	return rc;
}

/* onshi-pcsc-bench — times PC/SC operations precisely for `make bench`
 * (tests/bench/bench-driver.py).  Python's own overhead would swamp
 * sub-millisecond round trips, so the timing happens here, around each
 * SCardTransmit/SCardGetStatusChange, with CLOCK_MONOTONIC.
 *
 * Commands (one result per run, printed as key=value lines on stdout):
 *   rtt [--count N] [--warmup W] [--expect-len L] [--setup HEX]... APDU
 *       W untimed then N timed exchanges of APDU (after the --setup APDUs);
 *       every answer must end in 9000 (and carry L data bytes if given).
 *   read-cert [--count N] [--extended-le]
 *       N complete reads of the auth certificate (SELECT AP, SELECT EF,
 *       header, body in short-Le chunks or one extended-Le READ BINARY).
 *   insert-latency [--count N]
 *       N times: `remove` then `insert` on the emulator's control socket,
 *       each timed from just before the command is sent until
 *       SCardGetStatusChange reports the reader empty / the card present.
 *   idle --seconds S
 *       blocks in SCardGetStatusChange on the reader for S seconds (what a
 *       daemon waiting for cards does), counting the changes it sees.
 * Options: --reader N (index in SCardListReaders), --control PATH (the
 * emulator's control socket; default $ONSHI_CONTROL): with it, rtt and
 * read-cert reset the emulator's counters before the timed part and print
 * them after it (usb_* keys), so transfers per APDU exclude the setup.
 *
 * Exit codes: 0 ok, 2 usage, 3 PC/SC or reader, 5 transmit failed, 6 an
 * unexpected status word or length, 8 bad data, 10 timeout, 12 the control
 * socket failed.  Errors go to stderr with the failing step.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <PCSC/winscard.h>

#include <onshi/jpki-const.h>
#include "tests/tools/bench-stats.h"
#include "tests/tools/probe-apdu.h"

enum exit_code {
	EX_OK = 0, EX_USAGE = 2, EX_PCSC = 3, EX_TRANSPORT = 5, EX_SW = 6,
	EX_DATA = 8, EX_TIMEOUT = 10, EX_CONTROL = 12,
};

#define MAX_SAMPLES 100000
#define MAX_SETUP 8
#define READERS_MAX 16
#define CONTROL_REPLY_MAX 512

struct options {
	unsigned reader_index;
	unsigned long count;
	unsigned long warmup;
	long expect_len;          /* -1: any */
	long timeout_ms;
	unsigned long seconds;
	bool extended_le;
	const char *control;
	const char *setup[MAX_SETUP];
	unsigned nsetup;
};

struct session {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
	bool connected;
	const SCARD_IO_REQUEST *pci;
	char reader[MAX_READERNAME + 1];
};

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("onshi-pcsc-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ULL + (uint64_t)t.tv_nsec;
}

/* ---- emulator control socket -------------------------------------------- */

/* Sends one command line and reads the one-line reply into reply[cap].
 * Returns 0 for an "ok" reply, EX_CONTROL otherwise (reply says why). */
static int control_cmd(const char *path, const char *cmd, char *reply, size_t cap)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (!path || strlen(path) >= sizeof addr.sun_path) {
		fail("no usable control socket path (--control or ONSHI_CONTROL)");
		return EX_CONTROL;
	}
	memcpy(addr.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fail("socket: %s", strerror(errno));
		return EX_CONTROL;
	}
	struct timeval tv = { .tv_sec = 15 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	size_t len = strlen(cmd), have = 0;
	int ex = EX_CONTROL;
	if (connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
		fail("control %s: %s", path, strerror(errno));
		goto out;
	}
	if (write(fd, cmd, len) != (ssize_t)len || write(fd, "\n", 1) != 1) {
		fail("control write: %s", strerror(errno));
		goto out;
	}
	reply[0] = '\0';
	for (;;) {
		if (have + 1 >= cap) {
			fail("control '%s': reply longer than %zu bytes", cmd, cap - 1);
			goto out;
		}
		ssize_t n = read(fd, reply + have, cap - 1 - have);
		if (n <= 0) {
			fail("control '%s': %s", cmd, n == 0 ? "connection closed" : strerror(errno));
			goto out;
		}
		have += (size_t)n;
		reply[have] = '\0';
		char *nl = strchr(reply, '\n');
		if (nl) {
			*nl = '\0';
			break;
		}
	}
	if (strncmp(reply, "ok", 2) == 0 && (reply[2] == '\0' || reply[2] == ' '))
		ex = EX_OK;
	else
		fail("control '%s' answered: %.200s", cmd, reply);
out:
	close(fd);
	return ex;
}

static int control_counters(const char *path, struct bench_counters *c)
{
	char reply[CONTROL_REPLY_MAX];
	int ex = control_cmd(path, "stats", reply, sizeof reply);
	if (ex)
		return ex;
	if (bench_parse_counters(reply, c) != 0) {
		fail("malformed stats reply: %.200s", reply);
		return EX_CONTROL;
	}
	return EX_OK;
}

static void print_counters(const struct bench_counters *c)
{
	printf("usb_bulk_out=%llu\nusb_bulk_in=%llu\nusb_intr_in=%llu\nusb_control=%llu\n"
	       "emu_apdus=%llu\nemu_time_extensions=%llu\n",
	       (unsigned long long)c->bulk_out, (unsigned long long)c->bulk_in,
	       (unsigned long long)c->intr_in, (unsigned long long)c->control,
	       (unsigned long long)c->apdus, (unsigned long long)c->time_extensions);
}

static void print_stats(const char *prefix, uint64_t *samples, size_t n)
{
	struct bench_stats st;
	if (bench_stats_compute(samples, n, &st) != 0)
		return;
	printf("%s_samples=%zu\n%s_min_us=%.1f\n%s_median_us=%.1f\n%s_p99_us=%.1f\n"
	       "%s_max_us=%.1f\n%s_mean_us=%.1f\n",
	       prefix, st.count, prefix, st.min_ns / 1e3, prefix, st.median_ns / 1e3,
	       prefix, st.p99_ns / 1e3, prefix, st.max_ns / 1e3, prefix, st.mean_ns / 1e3);
}

/* ---- PC/SC -------------------------------------------------------------- */

static int pick_reader(struct session *s, const struct options *o)
{
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	DWORD len = sizeof buf;
	LONG rv = SCardListReaders(s->ctx, NULL, buf, &len);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardListReaders: %s", pcsc_stringify_error(rv));
		return EX_PCSC;
	}
	if (len == 0 || len > sizeof buf) {
		fail("SCardListReaders returned %lu bytes", (unsigned long)len);
		return EX_PCSC;
	}
	buf[len - 1] = '\0';
	unsigned i = 0;
	for (char *p = buf; *p && p < buf + len; p += strlen(p) + 1, i++) {
		if (i == o->reader_index) {
			size_t n = strlen(p);
			/* A cut name would connect to no reader, or another one. */
			if (n >= sizeof s->reader) {
				fail("reader name of %zu bytes is too long", n);
				return EX_PCSC;
			}
			memcpy(s->reader, p, n + 1);
			return EX_OK;
		}
	}
	fail("no reader %u (%u present)", o->reader_index, i);
	return EX_PCSC;
}

static int connect_card(struct session *s, const struct options *o)
{
	int ex = pick_reader(s, o);
	if (ex)
		return ex;
	DWORD proto = 0;
	LONG rv = SCardConnect(s->ctx, s->reader, SCARD_SHARE_SHARED,
			       SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &s->card, &proto);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardConnect(%s): %s", s->reader, pcsc_stringify_error(rv));
		return EX_PCSC;
	}
	s->connected = true;
	s->pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	return EX_OK;
}

/* One exchange that must answer 9000; *rlen counts data bytes only. */
static int exchange_ok(struct session *s, const char *step, const uint8_t *cmd, size_t len,
		       uint8_t *resp, size_t cap, size_t *rlen)
{
	DWORD n = (DWORD)cap;
	if (len == 0) {
		fail("%s: command does not fit", step);
		return EX_DATA;
	}
	LONG rv = SCardTransmit(s->card, s->pci, cmd, (DWORD)len, NULL, resp, &n);
	if (rv != SCARD_S_SUCCESS) {
		fail("%s: SCardTransmit: %s", step, pcsc_stringify_error(rv));
		return EX_TRANSPORT;
	}
	if (n < 2 || n > cap) {
		fail("%s: response of %lu bytes", step, (unsigned long)n);
		return EX_SW;
	}
	uint16_t sw = probe_sw(resp, n);
	if (sw != SW_OK) {
		fail("%s: SW=%04X", step, sw);
		return EX_SW;
	}
	*rlen = n - 2;
	return EX_OK;
}

/* ---- rtt ---------------------------------------------------------------- */

static int cmd_rtt(struct session *s, const struct options *o, const char *apdu_hex)
{
	static uint8_t cmd[MAX_BUFFER_SIZE_EXTENDED], resp[MAX_BUFFER_SIZE_EXTENDED];
	static uint64_t samples[MAX_SAMPLES];
	size_t rlen;
	int ex = connect_card(s, o);
	if (ex)
		return ex;
	for (unsigned i = 0; i < o->nsetup; i++) {
		long len = probe_hex_parse(o->setup[i], cmd, sizeof cmd);
		if (len < 4) {
			fail("bad setup APDU '%s'", o->setup[i]);
			return EX_USAGE;
		}
		if ((ex = exchange_ok(s, "setup APDU", cmd, (size_t)len, resp, sizeof resp, &rlen)))
			return ex;
	}
	long len = probe_hex_parse(apdu_hex, cmd, sizeof cmd);
	if (len < 4) {
		fail("bad APDU '%s'", apdu_hex);
		return EX_USAGE;
	}
	struct bench_counters c;
	for (unsigned long i = 0; i < o->warmup + o->count; i++) {
		if (i == o->warmup && o->control &&
		    (ex = control_cmd(o->control, "reset-stats", (char[CONTROL_REPLY_MAX]){ 0 },
				      CONTROL_REPLY_MAX)))
			return ex;
		uint64_t t0 = now_ns();
		ex = exchange_ok(s, "timed APDU", cmd, (size_t)len, resp, sizeof resp, &rlen);
		uint64_t t1 = now_ns();
		if (ex)
			return ex;
		if (o->expect_len >= 0 && rlen != (size_t)o->expect_len) {
			fail("timed APDU returned %zu data bytes, expected %ld", rlen, o->expect_len);
			return EX_SW;
		}
		if (i >= o->warmup)
			samples[i - o->warmup] = t1 - t0;
	}
	if (o->control && (ex = control_counters(o->control, &c)))
		return ex;
	printf("apdus=%lu\nresponse_bytes=%zu\n", o->count, rlen);
	print_stats("rtt", samples, o->count);
	if (o->control)
		print_counters(&c);
	return EX_OK;
}

/* ---- read-cert ---------------------------------------------------------- */

/* One full read of the auth certificate; *apdus counts the exchanges. */
static int read_auth_cert(struct session *s, bool extended_le, uint8_t *der, size_t *total,
			  unsigned *apdus)
{
	static uint8_t resp[MAX_BUFFER_SIZE_EXTENDED];
	uint8_t cmd[32];
	size_t rlen;
	int ex;
	*apdus = 0;
	if ((ex = exchange_ok(s, "SELECT JPKI AP", cmd, probe_build_select_jpki(cmd, sizeof cmd),
			      resp, sizeof resp, &rlen)))
		return ex;
	(*apdus)++;
	if ((ex = exchange_ok(s, "SELECT EF 000A", cmd,
			      probe_build_select_ef(cmd, sizeof cmd, JPKI_EF_AUTH_CERT),
			      resp, sizeof resp, &rlen)))
		return ex;
	(*apdus)++;
	if ((ex = exchange_ok(s, "READ BINARY header", cmd,
			      probe_build_read_binary(cmd, sizeof cmd, 0, PROBE_CERT_HEADER_LEN),
			      resp, sizeof resp, &rlen)))
		return ex;
	(*apdus)++;
	if (rlen != PROBE_CERT_HEADER_LEN || probe_cert_total_len(resp, rlen, total) != 0) {
		fail("bad certificate header (%zu bytes)", rlen);
		return EX_DATA;
	}
	memcpy(der, resp, PROBE_CERT_HEADER_LEN);
	size_t have = PROBE_CERT_HEADER_LEN;
	while (have < *total) {
		size_t want = *total - have, clen;
		if (extended_le) {
			clen = probe_build_read_binary_ext(cmd, sizeof cmd, (uint16_t)have, want);
		} else {
			if (want > PROBE_SHORT_LE_MAX)
				want = PROBE_SHORT_LE_MAX;
			clen = probe_build_read_binary(cmd, sizeof cmd, (uint16_t)have, want);
		}
		if ((ex = exchange_ok(s, extended_le ? "READ BINARY (extended Le)" : "READ BINARY",
				      cmd, clen, resp, sizeof resp, &rlen)))
			return ex;
		(*apdus)++;
		if (rlen == 0 || rlen > want || (extended_le && rlen != want)) {
			fail("READ BINARY at %zu returned %zu bytes for %zu", have, rlen, want);
			return EX_DATA;
		}
		memcpy(der + have, resp, rlen);
		have += rlen;
	}
	return EX_OK;
}

static int cmd_read_cert(struct session *s, const struct options *o)
{
	static uint8_t first[PROBE_CERT_MAX], der[PROBE_CERT_MAX];
	static uint64_t samples[MAX_SAMPLES];
	size_t first_len = 0, len;
	unsigned apdus = 0, first_apdus = 0;
	struct bench_counters c;
	int ex = connect_card(s, o);
	if (ex)
		return ex;
	/* One untimed read: the card's first SELECT after power-on and the
	 * reference bytes every timed read must reproduce. */
	if ((ex = read_auth_cert(s, o->extended_le, first, &first_len, &first_apdus)))
		return ex;
	if (o->control && (ex = control_cmd(o->control, "reset-stats", (char[CONTROL_REPLY_MAX]){ 0 },
					    CONTROL_REPLY_MAX)))
		return ex;
	for (unsigned long i = 0; i < o->count; i++) {
		uint64_t t0 = now_ns();
		ex = read_auth_cert(s, o->extended_le, der, &len, &apdus);
		uint64_t t1 = now_ns();
		if (ex)
			return ex;
		if (len != first_len || apdus != first_apdus || memcmp(der, first, len) != 0) {
			fail("read %lu differs from the first read", i + 1);
			return EX_DATA;
		}
		samples[i] = t1 - t0;
	}
	if (o->control && (ex = control_counters(o->control, &c)))
		return ex;
	printf("reads=%lu\ncert_bytes=%zu\napdus_per_read=%u\n", o->count, first_len, first_apdus);
	print_stats("read", samples, o->count);
	if (o->control)
		print_counters(&c);
	return EX_OK;
}

/* ---- card events -------------------------------------------------------- */

/* Blocks until the reader state satisfies want_present (present and not
 * mute) or !want_present (empty).  st carries the last known state. */
static int wait_state(struct session *s, SCARD_READERSTATE *st, bool want_present,
		      long timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	for (;;) {
		DWORD cur = st->dwCurrentState;
		bool present = (cur & SCARD_STATE_PRESENT) && !(cur & SCARD_STATE_MUTE);
		bool empty = (cur & SCARD_STATE_EMPTY) != 0;
		if (!(cur & SCARD_STATE_UNAWARE) && (want_present ? present : empty))
			return EX_OK;
		uint64_t now = now_ns();
		if (now >= deadline) {
			fail("timeout waiting for card %s", want_present ? "insertion" : "removal");
			return EX_TIMEOUT;
		}
		LONG rv = SCardGetStatusChange(s->ctx, (DWORD)((deadline - now) / 1000000ULL + 1),
					       st, 1);
		if (rv == SCARD_E_TIMEOUT)
			continue;
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return EX_PCSC;
		}
		if (st->dwEventState & SCARD_STATE_UNKNOWN) {
			fail("reader vanished");
			return EX_PCSC;
		}
		st->dwCurrentState = st->dwEventState & ~SCARD_STATE_CHANGED;
	}
}

static int timed_event(struct session *s, const struct options *o, SCARD_READERSTATE *st,
		       const char *control, bool want_present, uint64_t *sample)
{
	char reply[CONTROL_REPLY_MAX];
	uint64_t t0 = now_ns();
	int ex = control_cmd(o->control, control, reply, sizeof reply);
	if (!ex)
		ex = wait_state(s, st, want_present, o->timeout_ms);
	*sample = now_ns() - t0;
	return ex;
}

static int cmd_insert_latency(struct session *s, const struct options *o)
{
	static uint64_t ins[MAX_SAMPLES], rem[MAX_SAMPLES];
	if (!o->control) {
		fail("insert-latency needs --control PATH (or ONSHI_CONTROL)");
		return EX_USAGE;
	}
	int ex = pick_reader(s, o);
	if (ex)
		return ex;
	SCARD_READERSTATE st = { .szReader = s->reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	/* Start from a card that pcscd reports present. */
	if ((ex = wait_state(s, &st, true, o->timeout_ms)))
		return ex;
	for (unsigned long i = 0; i < o->count; i++) {
		if ((ex = timed_event(s, o, &st, "remove", false, &rem[i])))
			return ex;
		if ((ex = timed_event(s, o, &st, "insert", true, &ins[i])))
			return ex;
	}
	print_stats("insert", ins, o->count);
	print_stats("remove", rem, o->count);
	return EX_OK;
}

static int cmd_idle(struct session *s, const struct options *o)
{
	int ex = pick_reader(s, o);
	if (ex)
		return ex;
	SCARD_READERSTATE st = { .szReader = s->reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	uint64_t deadline = now_ns() + (uint64_t)o->seconds * 1000000000ULL;
	unsigned long changes = 0;
	bool first = true;
	for (uint64_t now = now_ns(); now < deadline; now = now_ns()) {
		LONG rv = SCardGetStatusChange(s->ctx, (DWORD)((deadline - now) / 1000000ULL + 1),
					       &st, 1);
		if (rv == SCARD_E_TIMEOUT)
			continue;
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return EX_PCSC;
		}
		if (!first)
			changes++;
		first = false;
		st.dwCurrentState = st.dwEventState & ~SCARD_STATE_CHANGED;
	}
	printf("idle_seconds=%lu\nstate_changes=%lu\n", o->seconds, changes);
	return EX_OK;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: onshi-pcsc-bench [--reader N] [--control PATH] [--timeout MS] COMMAND\n"
	      "  rtt [--count N] [--warmup W] [--expect-len L] [--setup HEX]... APDU\n"
	      "  read-cert [--count N] [--extended-le]\n"
	      "  insert-latency [--count N]\n"
	      "  idle --seconds S\n", f);
}

static bool parse_ulong(const char *text, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || end == text || *end || v > max || text[0] == '-')
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct options *o, char **pos, int *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long v;
		bool ok = true;
		if (!strcmp(a, "--reader"))
			ok = val && parse_ulong(val, READERS_MAX, &v) && ((o->reader_index = (unsigned)v), true);
		else if (!strcmp(a, "--count"))
			ok = val && parse_ulong(val, MAX_SAMPLES, &v) && v > 0 && ((o->count = v), true);
		else if (!strcmp(a, "--warmup"))
			ok = val && parse_ulong(val, MAX_SAMPLES, &o->warmup);
		else if (!strcmp(a, "--expect-len"))
			ok = val && parse_ulong(val, MAX_BUFFER_SIZE_EXTENDED, &v) &&
			     ((o->expect_len = (long)v), true);
		else if (!strcmp(a, "--timeout"))
			ok = val && parse_ulong(val, 600000, &v) && v > 0 && ((o->timeout_ms = (long)v), true);
		else if (!strcmp(a, "--seconds"))
			ok = val && parse_ulong(val, 3600, &o->seconds) && o->seconds > 0;
		else if (!strcmp(a, "--control"))
			ok = val && ((o->control = val), true);
		else if (!strcmp(a, "--setup"))
			ok = val && o->nsetup < MAX_SETUP && ((o->setup[o->nsetup++] = val), true);
		else if (!strcmp(a, "--extended-le")) {
			o->extended_le = true;
			continue;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			exit(EX_OK);
		} else if (a[0] == '-' && a[1] == '-') {
			ok = false;
		} else {
			pos[(*npos)++] = argv[i];
			continue;
		}
		if (!ok) {
			fail("bad option or value: %s%s%s", a, val ? " " : "", val ? val : "");
			return EX_USAGE;
		}
		i++;
	}
	return EX_OK;
}

static int run(struct session *s, const struct options *o, char **pos, int npos)
{
	if (npos == 2 && !strcmp(pos[0], "rtt"))
		return cmd_rtt(s, o, pos[1]);
	if (npos == 1 && !strcmp(pos[0], "read-cert"))
		return cmd_read_cert(s, o);
	if (npos == 1 && !strcmp(pos[0], "insert-latency"))
		return cmd_insert_latency(s, o);
	if (npos == 1 && !strcmp(pos[0], "idle") && o->seconds > 0)
		return cmd_idle(s, o);
	usage(stderr);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	struct options o = { .count = 1, .expect_len = -1, .timeout_ms = 10000,
			     .control = getenv("ONSHI_CONTROL") };
	char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos = 0, ex;
	if (!pos)
		return EX_DATA;
	ex = parse_args(argc, argv, &o, pos, &npos);
	if (ex || npos == 0) {
		if (!ex)
			usage(stderr);
		free(pos);
		return EX_USAGE;
	}
	if (o.control && !*o.control)
		o.control = NULL;
	struct session s = { 0 };
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &s.ctx);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardEstablishContext: %s", pcsc_stringify_error(rv));
		free(pos);
		return EX_PCSC;
	}
	ex = run(&s, &o, pos, npos);
	if (s.connected)
		SCardDisconnect(s.card, SCARD_LEAVE_CARD);
	SCardReleaseContext(s.ctx);
	free(pos);
	fflush(stdout);
	return ex;
}

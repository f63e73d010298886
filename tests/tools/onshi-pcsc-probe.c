/* onshi-pcsc-probe — a small PC/SC client for the end-to-end tests and the
 * demo: lists readers, waits for card events, reads JPKI certificates, checks
 * PIN counters, signs with the auth/sign key (PIN from an environment
 * variable or typed on a Part 10 pinpad), and sends raw APDUs.
 *
 * This is test tooling, independent of the product daemon (daemon/): the
 * end-to-end tests compare both against the same card.
 *
 * Exit codes (one per failure class, so tests can assert which one):
 *   0 ok, 2 usage, 3 PC/SC service or reader, 4 no card, 5 transmit/control
 *   failed, 6 unexpected status word, 7 wrong PIN, 8 bad data or file,
 *   9 pinpad cancelled or timed out, 10 wait timed out, 11 PIN blocked.
 * Status words are printed as "SW=XXXX" on stderr with the failing step.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <PCSC/winscard.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <onshi/jpki-const.h>
#include <onshi/part10-const.h>
#include "tests/tools/probe-apdu.h"

enum exit_code {
	EX_OK = 0, EX_USAGE = 2, EX_PCSC = 3, EX_NOCARD = 4, EX_TRANSPORT = 5,
	EX_SW = 6, EX_PIN = 7, EX_DATA = 8, EX_PINPAD = 9, EX_TIMEOUT = 10,
	EX_BLOCKED = 11,
};

#define RESP_MAX MAX_BUFFER_SIZE_EXTENDED
#define READERS_MAX 16
#define PNP_READER "\\\\?PnP?\\Notification"

struct options {
	unsigned reader_index;
	long timeout_ms;
	unsigned count;
	bool count_set;
	bool extended_le;
	bool pinpad;
	bool at_least;
	const char *out;
	const char *data;
	const char *pin_env;
	const char *which;
	enum probe_key key;
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
	fputs("onshi-pcsc-probe: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int pcsc_exit(LONG rv)
{
	switch (rv) {
	case SCARD_E_NO_SMARTCARD: case SCARD_W_REMOVED_CARD:
	case SCARD_W_UNPOWERED_CARD: case SCARD_W_UNRESPONSIVE_CARD:
		return EX_NOCARD;
	case SCARD_E_TIMEOUT:
		return EX_TIMEOUT;
	case SCARD_E_NO_SERVICE: case SCARD_E_NO_READERS_AVAILABLE:
	case SCARD_E_UNKNOWN_READER: case SCARD_E_READER_UNAVAILABLE:
	case SCARD_E_SERVICE_STOPPED:
		return EX_PCSC;
	default:
		return EX_TRANSPORT;
	}
}

/* ---- readers ------------------------------------------------------------ */

/* Fills names[] with up to READERS_MAX reader names (pointers into buf). */
static LONG list_readers(SCARDCONTEXT ctx, char *buf, DWORD cap,
			 const char *names[READERS_MAX], unsigned *count)
{
	DWORD len = cap;
	*count = 0;
	LONG rv = SCardListReaders(ctx, NULL, buf, &len);
	if (rv == SCARD_E_NO_READERS_AVAILABLE)
		return SCARD_S_SUCCESS;
	if (rv != SCARD_S_SUCCESS)
		return rv;
	if (len == 0 || len > cap)
		return SCARD_E_INSUFFICIENT_BUFFER;
	buf[len - 1] = '\0';
	for (char *p = buf; *p && p < buf + len && *count < READERS_MAX; p += strlen(p) + 1)
		names[(*count)++] = p;
	return SCARD_S_SUCCESS;
}

static long elapsed_ms(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000L + (now.tv_nsec - start->tv_nsec) / 1000000L;
}

/* Blocks in SCardGetStatusChange on one reader state, at most `left` ms.
 * Re-arms with the last event state so every wake-up is a real change. */
static LONG wait_change(SCARDCONTEXT ctx, SCARD_READERSTATE *st, long left)
{
	DWORD slice = left > 2000 ? 2000 : (DWORD)(left > 0 ? left : 0);
	LONG rv = SCardGetStatusChange(ctx, slice, st, 1);
	if (rv == SCARD_S_SUCCESS)
		st->dwCurrentState = st->dwEventState & ~SCARD_STATE_CHANGED;
	return rv;
}

static int cmd_list(struct session *s)
{
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	const char *names[READERS_MAX];
	unsigned n;
	LONG rv = list_readers(s->ctx, buf, sizeof buf, names, &n);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardListReaders: %s", pcsc_stringify_error(rv));
		return pcsc_exit(rv);
	}
	for (unsigned i = 0; i < n; i++)
		printf("%u: %s\n", i, names[i]);
	printf("readers=%u\n", n);
	return EX_OK;
}

/* Waits until exactly `want` readers are listed (0 waits for unplug), or
 * with --at-least until there are `want` or more. */
static int cmd_wait_reader(struct session *s, const struct options *o)
{
	unsigned want = o->count_set ? o->count : 1;
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	const char *names[READERS_MAX];
	SCARD_READERSTATE st = { .szReader = PNP_READER, .dwCurrentState = SCARD_STATE_UNAWARE };
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		unsigned n;
		LONG rv = list_readers(s->ctx, buf, sizeof buf, names, &n);
		if (rv != SCARD_S_SUCCESS) {
			fail("SCardListReaders: %s", pcsc_stringify_error(rv));
			return pcsc_exit(rv);
		}
		if (n == want || (o->at_least && n > want)) {
			for (unsigned i = 0; i < n; i++)
				printf("%u: %s\n", i, names[i]);
			printf("readers=%u\n", n);
			return EX_OK;
		}
		long left = o->timeout_ms - elapsed_ms(&start);
		if (left <= 0) {
			fail("timeout: %u reader(s) present, waiting for %u", n, want);
			return EX_TIMEOUT;
		}
		rv = wait_change(s->ctx, &st, left);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return pcsc_exit(rv);
		}
	}
}

static int pick_reader(struct session *s, const struct options *o)
{
	char buf[READERS_MAX * (MAX_READERNAME + 1) + 1];
	const char *names[READERS_MAX];
	unsigned n;
	LONG rv = list_readers(s->ctx, buf, sizeof buf, names, &n);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardListReaders: %s", pcsc_stringify_error(rv));
		return pcsc_exit(rv);
	}
	if (o->reader_index >= n) {
		fail("no reader %u (%u present)", o->reader_index, n);
		return EX_PCSC;
	}
	snprintf(s->reader, sizeof s->reader, "%s", names[o->reader_index]);
	return EX_OK;
}

/* Waits for the card in the chosen reader to be present (or absent). */
static int cmd_wait_card(struct session *s, const struct options *o, bool present)
{
	int ex = pick_reader(s, o);
	if (ex)
		return ex;
	SCARD_READERSTATE st = { .szReader = s->reader, .dwCurrentState = SCARD_STATE_UNAWARE };
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		long left = o->timeout_ms - elapsed_ms(&start);
		LONG rv = wait_change(s->ctx, &st, left);
		if (rv != SCARD_S_SUCCESS && rv != SCARD_E_TIMEOUT) {
			fail("SCardGetStatusChange: %s", pcsc_stringify_error(rv));
			return pcsc_exit(rv);
		}
		DWORD ev = st.dwCurrentState;
		if (rv == SCARD_S_SUCCESS && (ev & SCARD_STATE_UNKNOWN)) {
			fail("reader vanished");
			return EX_PCSC;
		}
		bool is_present = (ev & SCARD_STATE_PRESENT) && !(ev & SCARD_STATE_MUTE);
		bool is_empty = (ev & SCARD_STATE_EMPTY) != 0;
		if (rv == SCARD_S_SUCCESS && (present ? is_present : is_empty)) {
			printf("%s\n", present ? "card present" : "card removed");
			return EX_OK;
		}
		if (o->timeout_ms - elapsed_ms(&start) <= 0) {
			fail("timeout waiting for card %s", present ? "insertion" : "removal");
			return EX_TIMEOUT;
		}
	}
}

/* ---- card I/O ----------------------------------------------------------- */

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
		return pcsc_exit(rv);
	}
	s->connected = true;
	s->pci = proto == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;
	return EX_OK;
}

/* One raw exchange: resp gets data ‖ SW (≥ 2 bytes on success). */
static int transmit_raw(struct session *s, const uint8_t *cmd, size_t len,
			uint8_t *resp, size_t cap, size_t *rlen)
{
	DWORD n = (DWORD)cap;
	LONG rv = SCardTransmit(s->card, s->pci, cmd, (DWORD)len, NULL, resp, &n);
	if (rv != SCARD_S_SUCCESS) {
		fail("SCardTransmit: %s", pcsc_stringify_error(rv));
		*rlen = 0;
		return pcsc_exit(rv);
	}
	if (n < 2 || n > cap) {
		fail("response of %lu bytes", (unsigned long)n);
		*rlen = 0;
		return EX_TRANSPORT;
	}
	*rlen = n;
	return EX_OK;
}

/* Exchange with 61xx (GET RESPONSE) and 6Cxx (repeat with Le) handled. */
static int transmit(struct session *s, const uint8_t *cmd, size_t len,
		    uint8_t *resp, size_t cap, size_t *rlen)
{
	int ex = transmit_raw(s, cmd, len, resp, cap, rlen);
	if (ex)
		return ex;
	uint16_t sw = probe_sw(resp, *rlen);
	if ((sw & 0xFF00) == 0x6C00 && len >= 5 && len <= 4 + 1 + 255 + 1) {
		uint8_t again[4 + 1 + 255 + 1];
		memcpy(again, cmd, len);
		if (len == 5)                       /* case 2: replace Le */
			again[4] = (uint8_t)(sw & 0xFF);
		else if (cmd[4] + 5u == len)        /* case 3: add an Le */
			again[len++] = (uint8_t)(sw & 0xFF);
		else if (cmd[4] + 6u == len)        /* case 4: replace Le */
			again[len - 1] = (uint8_t)(sw & 0xFF);
		ex = transmit_raw(s, again, len, resp, cap, rlen);
		if (ex)
			return ex;
		sw = probe_sw(resp, *rlen);
	}
	size_t have = *rlen - 2;
	for (int rounds = 0; (sw & 0xFF00) == SW_BYTES_REMAINING_BASE; rounds++) {
		if (rounds > 256) {
			fail("endless 61xx chain");
			return EX_DATA;
		}
		uint8_t gr[5], part[PROBE_SHORT_LE_MAX + 2];
		size_t plen, le = (sw & 0xFF) ? (sw & 0xFF) : 256;
		probe_build_get_response(gr, sizeof gr, le);
		ex = transmit_raw(s, gr, sizeof gr, part, sizeof part, &plen);
		if (ex)
			return ex;
		if (have + plen > cap) {
			fail("response exceeds %zu bytes", cap);
			return EX_DATA;
		}
		memcpy(resp + have, part, plen);
		have += plen - 2;
		sw = probe_sw(part, plen);
		*rlen = have + 2;
	}
	return EX_OK;
}

/* Sends cmd and requires 9000; prints the step and SW otherwise. */
static int expect_ok(struct session *s, const char *step, const uint8_t *cmd, size_t len,
		     uint8_t *resp, size_t cap, size_t *rlen)
{
	if (len == 0) {
		fail("%s: command does not fit", step);
		return EX_DATA;
	}
	int ex = transmit(s, cmd, len, resp, cap, rlen);
	if (ex)
		return ex;
	uint16_t sw = probe_sw(resp, *rlen);
	if (sw != SW_OK) {
		fail("%s: SW=%04X", step, sw);
		return EX_SW;
	}
	return EX_OK;
}

static int select_ef(struct session *s, uint16_t fid, bool select_ap)
{
	uint8_t cmd[32], resp[258];
	size_t rlen;
	int ex;
	if (select_ap) {
		ex = expect_ok(s, "SELECT JPKI AP", cmd, probe_build_select_jpki(cmd, sizeof cmd),
			       resp, sizeof resp, &rlen);
		if (ex)
			return ex;
	}
	char step[32];
	snprintf(step, sizeof step, "SELECT EF %04X", fid);
	return expect_ok(s, step, cmd, probe_build_select_ef(cmd, sizeof cmd, fid),
			 resp, sizeof resp, &rlen);
}

/* Reads a certificate EF into der[PROBE_CERT_MAX]; *len is its DER length. */
static int read_cert(struct session *s, enum probe_cert which, bool extended_le,
		     uint8_t *der, size_t *len)
{
	static uint8_t resp[RESP_MAX];
	uint8_t cmd[8];
	size_t rlen, total;
	int ex = select_ef(s, probe_cert_ef(which), true);
	if (ex)
		return ex;
	ex = expect_ok(s, "READ BINARY header", cmd,
		       probe_build_read_binary(cmd, sizeof cmd, 0, PROBE_CERT_HEADER_LEN),
		       resp, sizeof resp, &rlen);
	if (ex)
		return ex;
	if (rlen - 2 != PROBE_CERT_HEADER_LEN ||
	    probe_cert_total_len(resp, rlen - 2, &total) != 0) {
		fail("bad certificate header (%zu bytes)", rlen - 2);
		return EX_DATA;
	}
	memcpy(der, resp, PROBE_CERT_HEADER_LEN);
	size_t have = PROBE_CERT_HEADER_LEN;
	while (have < total) {
		size_t want = total - have;
		size_t clen;
		if (extended_le) {
			clen = probe_build_read_binary_ext(cmd, sizeof cmd, (uint16_t)have, want);
		} else {
			if (want > PROBE_SHORT_LE_MAX)
				want = PROBE_SHORT_LE_MAX;
			clen = probe_build_read_binary(cmd, sizeof cmd, (uint16_t)have, want);
		}
		ex = expect_ok(s, "READ BINARY", cmd, clen, resp, sizeof resp, &rlen);
		if (ex)
			return ex;
		size_t got = rlen - 2;
		if (got == 0 || got > want) {
			fail("READ BINARY at %zu returned %zu bytes for %zu", have, got, want);
			return EX_DATA;
		}
		memcpy(der + have, resp, got);
		have += got;
		if (extended_le && have < total) {
			fail("extended READ BINARY returned %zu of %zu bytes", have, total);
			return EX_DATA;
		}
	}
	*len = total;
	return EX_OK;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f) {
		fail("%s: %s", path, strerror(errno));
		return EX_DATA;
	}
	size_t w = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || w != len) {
		fail("%s: write failed", path);
		return EX_DATA;
	}
	return EX_OK;
}

static int print_cert_info(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	if (!x || p != der + len) {
		X509_free(x);
		fail("not a DER certificate");
		return EX_DATA;
	}
	BIO *out = BIO_new_fp(stdout, BIO_NOCLOSE);
	unsigned long flags = XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB;
	int ok = out != NULL;
	ok = ok && BIO_puts(out, "subject=") > 0;
	ok = ok && X509_NAME_print_ex(out, X509_get_subject_name(x), 0, flags) >= 0;
	ok = ok && BIO_puts(out, "\nissuer=") > 0;
	ok = ok && X509_NAME_print_ex(out, X509_get_issuer_name(x), 0, flags) >= 0;
	ok = ok && BIO_puts(out, "\nserial=") > 0;
	BIGNUM *bn = ok ? ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL) : NULL;
	char *hex = bn ? BN_bn2hex(bn) : NULL;
	ok = ok && hex && BIO_puts(out, hex) > 0;
	ok = ok && BIO_puts(out, "\nnotBefore=") > 0;
	ok = ok && ASN1_TIME_print(out, X509_get0_notBefore(x));
	ok = ok && BIO_puts(out, "\nnotAfter=") > 0;
	ok = ok && ASN1_TIME_print(out, X509_get0_notAfter(x));
	ok = ok && BIO_puts(out, "\n") > 0;
	OPENSSL_free(hex);
	BN_free(bn);
	BIO_free(out);
	X509_free(x);
	if (!ok) {
		fail("cannot print certificate");
		return EX_DATA;
	}
	return EX_OK;
}

static int read_file(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fail("%s: %s", path, strerror(errno));
		return EX_DATA;
	}
	*len = fread(buf, 1, cap, f);
	int extra = fgetc(f);
	bool err = ferror(f);
	fclose(f);
	if (err || extra != EOF) {
		fail("%s: unreadable or larger than %zu bytes", path, cap);
		return EX_DATA;
	}
	return EX_OK;
}

static int cmd_read_cert(struct session *s, const struct options *o, const char *name)
{
	static uint8_t der[PROBE_CERT_MAX];
	enum probe_cert which;
	size_t len;
	if (probe_cert_from_name(name, &which) != 0) {
		fail("unknown certificate '%s' (auth, sign, auth-ca, sign-ca)", name);
		return EX_USAGE;
	}
	int ex = connect_card(s, o);
	if (!ex)
		ex = read_cert(s, which, o->extended_le, der, &len);
	if (ex)
		return ex;
	if (o->out && (ex = write_file(o->out, der, len)) != EX_OK)
		return ex;
	printf("cert=%s bytes=%zu\n", name, len);
	return EX_OK;
}

static int cmd_info(struct session *s, const struct options *o, const char *file)
{
	static uint8_t der[PROBE_CERT_MAX];
	size_t len;
	int ex;
	if (o->which) {
		enum probe_cert which;
		if (probe_cert_from_name(o->which, &which) != 0) {
			fail("unknown certificate '%s'", o->which);
			return EX_USAGE;
		}
		ex = connect_card(s, o);
		if (!ex)
			ex = read_cert(s, which, o->extended_le, der, &len);
	} else if (file) {
		ex = read_file(file, der, sizeof der, &len);
	} else {
		fail("info needs FILE or --which CERT");
		return EX_USAGE;
	}
	return ex ? ex : print_cert_info(der, len);
}

static const char *pin_name(enum probe_key key)
{
	return key == PROBE_KEY_AUTH ? "auth-pin" : "sign-pin";
}

/* Maps a VERIFY status word to an exit code, printing what it means. */
static int verify_outcome(enum probe_key key, uint16_t sw)
{
	if (sw == SW_OK)
		return EX_OK;
	if ((sw & 0xFFF0) == SW_VERIFY_FAILED_BASE) {
		fail("%s: wrong PIN, SW=%04X tries-left=%u", pin_name(key), sw, sw & 0x0F);
		return (sw & 0x0F) ? EX_PIN : EX_BLOCKED;
	}
	if (sw == SW_AUTH_METHOD_BLOCKED || sw == SW_REF_DATA_BLOCKED) {
		fail("%s: blocked, SW=%04X", pin_name(key), sw);
		return EX_BLOCKED;
	}
	if (sw == PIN_SW_CANCELLED) {
		fail("%s: cancelled on the pinpad, SW=%04X", pin_name(key), sw);
		return EX_PINPAD;
	}
	if (sw == PIN_SW_TIMEOUT) {
		fail("%s: pinpad entry timed out, SW=%04X", pin_name(key), sw);
		return EX_PINPAD;
	}
	fail("%s: VERIFY SW=%04X", pin_name(key), sw);
	return EX_SW;
}

static int cmd_pin_status(struct session *s, const struct options *o)
{
	int ex = connect_card(s, o);
	if (ex)
		return ex;
	static const enum probe_key keys[] = { PROBE_KEY_AUTH, PROBE_KEY_SIGN };
	for (size_t i = 0; i < 2; i++) {
		uint8_t cmd[8], resp[258];
		size_t rlen;
		ex = select_ef(s, probe_key_pin_ef(keys[i]), i == 0);
		if (!ex)
			ex = transmit(s, cmd, probe_build_verify_query(cmd, sizeof cmd),
				      resp, sizeof resp, &rlen);
		if (ex)
			return ex;
		uint16_t sw = probe_sw(resp, rlen);
		if ((sw & 0xFFF0) == SW_VERIFY_FAILED_BASE)
			printf("%s tries=%u SW=%04X\n", pin_name(keys[i]), sw & 0x0F, sw);
		else if (sw == SW_OK)
			printf("%s verified SW=%04X\n", pin_name(keys[i]), sw);
		else if (sw == SW_AUTH_METHOD_BLOCKED || sw == SW_REF_DATA_BLOCKED)
			printf("%s blocked SW=%04X\n", pin_name(keys[i]), sw);
		else {
			fail("%s: retry-counter query SW=%04X", pin_name(keys[i]), sw);
			return EX_SW;
		}
	}
	return EX_OK;
}

/* VERIFY with the PIN held in an environment variable.  The variable's value
 * is wiped in place and unset afterwards; the PIN is never printed. */
static int verify_from_env(struct session *s, enum probe_key key, const char *var)
{
	char *pin = getenv(var);
	if (!pin) {
		fail("environment variable %s is not set", var);
		return EX_USAGE;
	}
	size_t len = strnlen(pin, JPKI_SIGN_PW_MAX + 1);
	if (!probe_pin_valid(key, pin, len)) {
		explicit_bzero(pin, strlen(pin));
		unsetenv(var);
		fail("%s: the value of %s has the wrong format", pin_name(key), var);
		return EX_USAGE;
	}
	uint8_t cmd[5 + JPKI_SIGN_PW_MAX], resp[258];
	size_t rlen;
	size_t clen = probe_build_verify(cmd, sizeof cmd, pin, len);
	explicit_bzero(pin, len);
	unsetenv(var);
	int ex = transmit(s, cmd, clen, resp, sizeof resp, &rlen);
	explicit_bzero(cmd, sizeof cmd);
	if (ex)
		return ex;
	return verify_outcome(key, probe_sw(resp, rlen));
}

/* VERIFY with the PIN typed on the reader's keypad (Part 10 VERIFY_PIN_DIRECT). */
static int verify_on_pinpad(struct session *s, enum probe_key key)
{
	uint8_t features[256], pvs[64], resp[64];
	DWORD flen = 0, rlen = 0;
	uint32_t ioctl_code;
	if (key != PROBE_KEY_AUTH) {
		fail("pinpad entry supports the 4-digit auth PIN only");
		return EX_USAGE;
	}
	LONG rv = SCardControl(s->card, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0,
			       features, sizeof features, &flen);
	if (rv != SCARD_S_SUCCESS) {
		fail("GET_FEATURE_REQUEST: %s", pcsc_stringify_error(rv));
		return pcsc_exit(rv);
	}
	int found = probe_find_feature(features, flen > sizeof features ? 0 : flen,
				       FEATURE_VERIFY_PIN_DIRECT, &ioctl_code);
	if (found != 0) {
		fail("reader offers no VERIFY_PIN_DIRECT (%s feature list)",
		     found < 0 ? "malformed" : "no such entry in the");
		return EX_PINPAD;
	}
	size_t plen = probe_build_pin_verify_direct(pvs, sizeof pvs, JPKI_AUTH_PIN_LEN, 30);
	rv = SCardControl(s->card, ioctl_code, pvs, (DWORD)plen, resp, sizeof resp, &rlen);
	if (rv != SCARD_S_SUCCESS) {
		fail("VERIFY_PIN_DIRECT: %s", pcsc_stringify_error(rv));
		return pcsc_exit(rv);
	}
	if (rlen != 2) {
		fail("VERIFY_PIN_DIRECT returned %lu bytes", (unsigned long)rlen);
		return EX_TRANSPORT;
	}
	return verify_outcome(key, probe_sw(resp, rlen));
}

static int hash_file(const char *path, uint8_t hash[32])
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		fail("%s: %s", path, strerror(errno));
		return EX_DATA;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool ok = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	uint8_t buf[4096];
	size_t n;
	while (ok && (n = fread(buf, 1, sizeof buf, f)) > 0)
		ok = EVP_DigestUpdate(md, buf, n);
	unsigned hlen = 0;
	ok = ok && !ferror(f) && EVP_DigestFinal_ex(md, hash, &hlen) && hlen == 32;
	EVP_MD_CTX_free(md);
	fclose(f);
	if (!ok) {
		fail("%s: cannot hash", path);
		return EX_DATA;
	}
	return EX_OK;
}

static int cmd_sign(struct session *s, const struct options *o)
{
	static uint8_t resp[RESP_MAX];
	uint8_t hash[32], cmd[64];
	size_t rlen;
	if (!o->data || !o->out || (!o->pin_env == !o->pinpad)) {
		fail("sign needs --data FILE --out FILE and one of --pin-env VAR / --pinpad");
		return EX_USAGE;
	}
	int ex = hash_file(o->data, hash);
	if (!ex)
		ex = connect_card(s, o);
	if (!ex)
		ex = select_ef(s, probe_key_pin_ef(o->key), true);
	if (!ex)
		ex = o->pinpad ? verify_on_pinpad(s, o->key) : verify_from_env(s, o->key, o->pin_env);
	if (!ex)
		ex = select_ef(s, probe_key_ef(o->key), false);
	if (!ex)
		ex = expect_ok(s, "COMPUTE DIGITAL SIGNATURE", cmd,
			       probe_build_sign_sha256(cmd, sizeof cmd, hash),
			       resp, sizeof resp, &rlen);
	if (ex)
		return ex;
	if (rlen - 2 != 256) {
		fail("signature of %zu bytes, expected 256", rlen - 2);
		return EX_DATA;
	}
	ex = write_file(o->out, resp, rlen - 2);
	if (!ex)
		printf("signature bytes=%zu SW=9000\n", rlen - 2);
	return ex;
}

static int cmd_atr(struct session *s, const struct options *o)
{
	int ex = connect_card(s, o);
	if (ex)
		return ex;
	uint8_t atr[MAX_ATR_SIZE];
	DWORD atr_len = sizeof atr, state = 0, proto = 0, name_len = 0;
	LONG rv = SCardStatus(s->card, NULL, &name_len, &state, &proto, atr, &atr_len);
	if (rv != SCARD_S_SUCCESS || atr_len > sizeof atr) {
		fail("SCardStatus: %s", pcsc_stringify_error(rv));
		return rv != SCARD_S_SUCCESS ? pcsc_exit(rv) : EX_TRANSPORT;
	}
	char hex[2 * MAX_ATR_SIZE + 1];
	probe_hex_format(atr, atr_len, hex);
	printf("ATR=%s\nprotocol=T=%d\n", hex, proto == SCARD_PROTOCOL_T0 ? 0 : 1);
	return EX_OK;
}

static int cmd_transmit(struct session *s, const struct options *o, char **apdus, int n)
{
	static uint8_t cmd[RESP_MAX], resp[RESP_MAX];
	static char hex[2 * RESP_MAX + 1];
	if (n == 0) {
		fail("transmit needs at least one APDU in hex");
		return EX_USAGE;
	}
	int ex = connect_card(s, o);
	for (int i = 0; !ex && i < n; i++) {
		long len = probe_hex_parse(apdus[i], cmd, sizeof cmd);
		if (len < 4) {
			fail("bad APDU '%s'", apdus[i]);
			return EX_USAGE;
		}
		size_t rlen;
		ex = transmit_raw(s, cmd, (size_t)len, resp, sizeof resp, &rlen);
		if (!ex) {
			probe_hex_format(resp, rlen, hex);
			printf("%s\n", hex);
		}
	}
	return ex;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	fputs("usage: onshi-pcsc-probe [--reader N] [--timeout MS] COMMAND [ARGS]\n"
	      "  list                         readers, one per line\n"
	      "  wait-reader [--count N] [--at-least]  until N (or more) readers exist (default 1)\n"
	      "  wait-card | wait-removal     until the card is present / removed\n"
	      "  atr                          connect and print the ATR\n"
	      "  read-cert auth|sign|auth-ca|sign-ca [--out FILE] [--extended-le]\n"
	      "  info FILE | info --which CERT   subject, serial, validity\n"
	      "  pin-status                   retry counters of the auth PIN and sign password\n"
	      "  sign [--key auth|sign] (--pin-env VAR | --pinpad) --data FILE --out SIG\n"
	      "  transmit HEX...              raw APDUs; prints each response\n", f);
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

/* Options may appear anywhere; the rest are positional. */
static int parse_args(int argc, char **argv, struct options *o, char **pos, int *npos)
{
	*npos = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;
		unsigned long v;
		bool takes = true;
		if (strcmp(a, "--reader") == 0 && val && parse_ulong(val, READERS_MAX, &v))
			o->reader_index = (unsigned)v;
		else if (strcmp(a, "--timeout") == 0 && val && parse_ulong(val, 86400000UL, &v))
			o->timeout_ms = (long)v;
		else if (strcmp(a, "--count") == 0 && val && parse_ulong(val, READERS_MAX, &v)) {
			o->count = (unsigned)v;
			o->count_set = true;
		} else if (strcmp(a, "--out") == 0 && val)
			o->out = val;
		else if (strcmp(a, "--data") == 0 && val)
			o->data = val;
		else if (strcmp(a, "--pin-env") == 0 && val)
			o->pin_env = val;
		else if (strcmp(a, "--which") == 0 && val)
			o->which = val;
		else if (strcmp(a, "--key") == 0 && val && (!strcmp(val, "auth") || !strcmp(val, "sign")))
			o->key = strcmp(val, "auth") == 0 ? PROBE_KEY_AUTH : PROBE_KEY_SIGN;
		else {
			takes = false;
			if (strcmp(a, "--extended-le") == 0)
				o->extended_le = true;
			else if (strcmp(a, "--pinpad") == 0)
				o->pinpad = true;
			else if (strcmp(a, "--at-least") == 0)
				o->at_least = true;
			else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
				usage(stdout);
				exit(EX_OK);
			} else if (a[0] == '-' && a[1] == '-') {
				fail("bad option or value: %s", a);
				return EX_USAGE;
			} else
				pos[(*npos)++] = argv[i];
		}
		if (takes)
			i++;
	}
	return EX_OK;
}

/* Commands and their positional-argument counts (the command included). */
static bool command_known(char **pos, int npos)
{
	static const struct { const char *name; int min, max; } cmds[] = {
		{ "list", 1, 1 }, { "wait-reader", 1, 1 }, { "wait-card", 1, 1 },
		{ "wait-removal", 1, 1 }, { "atr", 1, 1 }, { "read-cert", 2, 2 },
		{ "info", 1, 2 }, { "pin-status", 1, 1 }, { "sign", 1, 1 },
		{ "transmit", 2, INT_MAX },
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(pos[0], cmds[i].name))
			return npos >= cmds[i].min && npos <= cmds[i].max;
	return false;
}

static int run(struct session *s, const struct options *o, char **pos, int npos)
{
	const char *cmd = pos[0];
	if (!strcmp(cmd, "list") && npos == 1)
		return cmd_list(s);
	if (!strcmp(cmd, "wait-reader") && npos == 1)
		return cmd_wait_reader(s, o);
	if (!strcmp(cmd, "wait-card") && npos == 1)
		return cmd_wait_card(s, o, true);
	if (!strcmp(cmd, "wait-removal") && npos == 1)
		return cmd_wait_card(s, o, false);
	if (!strcmp(cmd, "atr") && npos == 1)
		return cmd_atr(s, o);
	if (!strcmp(cmd, "read-cert") && npos == 2)
		return cmd_read_cert(s, o, pos[1]);
	if (!strcmp(cmd, "info") && npos <= 2)
		return cmd_info(s, o, npos == 2 ? pos[1] : NULL);
	if (!strcmp(cmd, "pin-status") && npos == 1)
		return cmd_pin_status(s, o);
	if (!strcmp(cmd, "sign") && npos == 1)
		return cmd_sign(s, o);
	if (!strcmp(cmd, "transmit"))
		return cmd_transmit(s, o, pos + 1, npos - 1);
	usage(stderr);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	struct options o = { .timeout_ms = 10000, .key = PROBE_KEY_AUTH };
	char **pos = calloc((size_t)argc + 1, sizeof *pos);
	int npos, ex;
	if (!pos)
		return EX_DATA;
	ex = parse_args(argc, argv, &o, pos, &npos);
	if (ex || npos == 0 || !command_known(pos, npos)) {
		if (!ex)
			usage(stderr);
		free(pos);
		return EX_USAGE;
	}
	/* `info FILE` needs no PC/SC at all. */
	if (!strcmp(pos[0], "info") && npos == 2 && !o.which) {
		ex = cmd_info(NULL, &o, pos[1]);
		free(pos);
		return ex;
	}
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

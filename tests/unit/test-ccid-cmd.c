/* test-ccid-cmd.c — the CCID command layer over a scripted fake transport:
 * extended-APDU chaining both ways, stale frames, slot range checks, time
 * extensions and their bound (with the Abort handshake), read timeouts,
 * T=1 over TPDU, PIN-pad cancel.  The fake replaces usb-transport.c. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ccid-cmd.h"
#include "log.h"

/* ---- fake transport ------------------------------------------------------ */

#define MAX_FRAMES 256
#define FRAME_CAP 1100

typedef void (*responder_fn)(const uint8_t *cmd, size_t len);

struct usb_transport {
	struct ccid_interface_info iface;
	uint8_t in[MAX_FRAMES][FRAME_CAP];
	size_t in_len[MAX_FRAMES];
	unsigned in_head, in_tail;
	uint8_t out[MAX_FRAMES][FRAME_CAP];
	size_t out_len[MAX_FRAMES];
	unsigned nout;
	unsigned aborts;
	responder_fn responder;
};

static struct usb_transport fake;

const struct ccid_interface_info *usbt_interface(const struct usb_transport *t) { return &t->iface; }
bool usbt_removed(const struct usb_transport *t) { (void)t; return false; }
const char *usbt_strerror(enum usbt_status st) { (void)st; return "fake"; }

enum usbt_status usbt_control_abort(struct usb_transport *t, uint8_t slot, uint8_t seq)
{
	(void)slot; (void)seq;
	t->aborts++;
	return USBT_OK;
}

static void queue(const uint8_t *frame, size_t len)
{
	ck_assert_uint_lt(fake.in_tail, MAX_FRAMES);
	ck_assert_uint_le(len, FRAME_CAP);
	memcpy(fake.in[fake.in_tail], frame, len);
	fake.in_len[fake.in_tail++] = len;
}

enum usbt_status usbt_write(struct usb_transport *t, const uint8_t *buf, size_t len,
                            unsigned timeout_ms)
{
	(void)timeout_ms;
	ck_assert_uint_lt(t->nout, MAX_FRAMES);
	ck_assert_uint_le(len, FRAME_CAP);
	memcpy(t->out[t->nout], buf, len);
	t->out_len[t->nout++] = len;
	if (buf[0] == PC_TO_RDR_ABORT) {   /* the reader confirms the abort */
		uint8_t r[10] = { RDR_TO_PC_SLOT_STATUS, 0, 0, 0, 0, buf[5], buf[6], 0, 0, 0 };
		queue(r, sizeof r);
	} else if (t->responder) {
		t->responder(buf, len);
	}
	return USBT_OK;
}

enum usbt_status usbt_read(struct usb_transport *t, uint8_t *buf, size_t cap, size_t *got,
                           unsigned timeout_ms)
{
	(void)timeout_ms;
	if (t->in_head == t->in_tail)
		return USBT_TIMEOUT;
	size_t n = t->in_len[t->in_head];
	ck_assert_uint_le(n, cap);
	memcpy(buf, t->in[t->in_head++], n);
	*got = n;
	return USBT_OK;
}

/* ---- reader model ---------------------------------------------------------- */

static struct ccid_dev dev;
static struct ccid_slot_proto proto;

static void setup_reader(enum ccid_exchange_level level, unsigned max_msg, unsigned slots)
{
	memset(&fake, 0, sizeof fake);
	fake.iface.desc.level = level;
	fake.iface.desc.max_message_length = max_msg;
	fake.iface.desc.slots = slots;
	fake.iface.desc.max_slot_index = (uint8_t)(slots - 1);
	ck_assert(ccid_dev_init(&dev, &fake, 0));
	memset(&proto, 0, sizeof proto);
	proto.protocol = 1;
	proto.timeout_ms = 1000;
}

static void teardown_reader(void)
{
	ccid_dev_free(&dev);
}

/* A DataBlock answering cmd. */
static void answer(const uint8_t *cmd, uint8_t status, uint8_t error, uint8_t chain,
                   const uint8_t *data, size_t len)
{
	uint8_t f[FRAME_CAP];
	f[0] = RDR_TO_PC_DATA_BLOCK;
	f[1] = (uint8_t)len; f[2] = (uint8_t)(len >> 8); f[3] = 0; f[4] = 0;
	f[5] = cmd[5]; f[6] = cmd[6];
	f[7] = status; f[8] = error; f[9] = chain;
	if (len)
		memcpy(f + 10, data, len);
	queue(f, 10 + len);
}

/* Extended-APDU reader: collects a chained command, answers with a response
 * of 600 bytes in 3 pieces. */
static uint8_t ext_cmd[4096];
static size_t ext_cmd_len;
static uint8_t ext_resp[600];
static size_t ext_sent;

static void ext_responder(const uint8_t *cmd, size_t len)
{
	const uint16_t level = (uint16_t)(cmd[8] | cmd[9] << 8);
	const size_t piece = 261;
	if (level == CCID_CHAIN_EMPTY_NEXT) {
		size_t n = sizeof ext_resp - ext_sent > piece ? piece : sizeof ext_resp - ext_sent;
		ext_sent += n;
		answer(cmd, 0, 0, ext_sent == sizeof ext_resp ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE,
		       ext_resp + ext_sent - n, n);
		return;
	}
	memcpy(ext_cmd + ext_cmd_len, cmd + 10, len - 10);
	ext_cmd_len += len - 10;
	if (level == CCID_CHAIN_BEGIN || level == CCID_CHAIN_CONTINUE) {
		answer(cmd, 0, 0, CCID_CHAIN_EMPTY_NEXT, NULL, 0);
		return;
	}
	ext_sent = piece;
	answer(cmd, 0, 0, CCID_CHAIN_BEGIN, ext_resp, piece);
}

START_TEST(extended_chaining_both_ways)
{
	setup_reader(CCID_LEVEL_EXTENDED_APDU, 271, 1);
	fake.responder = ext_responder;
	ext_cmd_len = 0;
	for (size_t i = 0; i < sizeof ext_resp; i++)
		ext_resp[i] = (uint8_t)(i * 7);
	uint8_t apdu[600];
	for (size_t i = 0; i < sizeof apdu; i++)
		apdu[i] = (uint8_t)i;
	uint8_t resp[2048];
	size_t rlen = 0;
	enum ccid_result res;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, &res), CCIDC_OK);
	ck_assert_uint_eq(ext_cmd_len, sizeof apdu);
	ck_assert_mem_eq(ext_cmd, apdu, sizeof apdu);
	ck_assert_uint_eq(rlen, sizeof ext_resp);
	ck_assert_mem_eq(resp, ext_resp, sizeof ext_resp);
	/* wLevelParameter of the frames sent: 1, 3, 2, then 0x10 twice */
	const uint16_t want[] = { 1, 3, 2, 0x10, 0x10 };
	ck_assert_uint_eq(fake.nout, 5);
	for (unsigned i = 0; i < 5; i++)
		ck_assert_uint_eq(fake.out[i][8] | fake.out[i][9] << 8, want[i]);
	teardown_reader();
}
END_TEST

START_TEST(extended_response_too_big_for_caller)
{
	setup_reader(CCID_LEVEL_EXTENDED_APDU, 271, 1);
	fake.responder = ext_responder;
	ext_cmd_len = 0;
	const uint8_t apdu[] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x02, 0x58 };
	uint8_t resp[300];
	size_t rlen = 99;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_TOO_LONG);
	ck_assert_uint_eq(rlen, 0);
	teardown_reader();
}
END_TEST

static unsigned stale_before;
static uint8_t bad_slot_value = 0xFF;

static void short_apdu_responder(const uint8_t *cmd, size_t len)
{
	(void)len;
	uint8_t stale[10];
	memcpy(stale, cmd, 10);
	for (unsigned i = 0; i < stale_before; i++) {
		stale[6] = (uint8_t)(cmd[6] - 1 - i);   /* late answers to older commands */
		answer(stale, 0, 0, 0, (const uint8_t *)"\x6A\x82", 2);
	}
	if (bad_slot_value != 0xFF) {
		uint8_t c[10];
		memcpy(c, cmd, 10);
		c[5] = bad_slot_value;
		answer(c, 0, 0, 0, (const uint8_t *)"\x90\x00", 2);
		return;
	}
	answer(cmd, 0, 0, 0, (const uint8_t *)"\x90\x00", 2);
}

START_TEST(stale_frames_dropped_and_bounded)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 1);
	fake.responder = short_apdu_responder;
	bad_slot_value = 0xFF;
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA };
	uint8_t resp[64];
	size_t rlen = 0;
	stale_before = 3;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_OK);
	ck_assert_uint_eq(rlen, 2);
	ck_assert_uint_eq(resp[0], 0x90);
	stale_before = CCID_CMD_MAX_STALE + 1;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_BAD_FRAME);
	ck_assert_uint_eq(rlen, 0);
	stale_before = 0;
	teardown_reader();
}
END_TEST

START_TEST(slot_out_of_range_is_an_error)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 2);
	fake.responder = short_apdu_responder;
	stale_before = 0;
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA };
	uint8_t resp[64];
	size_t rlen = 0;
	bad_slot_value = 2;   /* the reader has slots 0 and 1 */
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_BAD_FRAME);
	bad_slot_value = 0xFF;
	teardown_reader();
}
END_TEST

static unsigned time_extensions;

static void slow_responder(const uint8_t *cmd, size_t len)
{
	(void)len;
	for (unsigned i = 0; i < time_extensions; i++)
		answer(cmd, CCID_CMD_TIME_EXTENSION, 2, 0, NULL, 0);
	answer(cmd, 0, 0, 0, (const uint8_t *)"\x90\x00", 2);
}

START_TEST(time_extensions_honoured_then_bounded)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 1);
	fake.responder = slow_responder;
	const uint8_t apdu[] = { 0x00, 0x2A, 0x00, 0x80, 0x01, 0x11, 0x00 };
	uint8_t resp[64];
	size_t rlen = 0;
	time_extensions = 5;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_OK);
	ck_assert_uint_eq(rlen, 2);
	ck_assert_uint_eq(fake.aborts, 0);
	time_extensions = CCID_MAX_TIME_EXTENSIONS + 1;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_TIMEOUT);
	/* the command was aborted: class request + PC_to_RDR_Abort with its bSeq */
	ck_assert_uint_eq(fake.aborts, 1);
	ck_assert_uint_eq(fake.out[fake.nout - 1][0], PC_TO_RDR_ABORT);
	ck_assert_uint_eq(fake.out[fake.nout - 1][6], fake.out[fake.nout - 2][6]);
	teardown_reader();
}
END_TEST

START_TEST(read_timeout_aborts)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 1);
	fake.responder = NULL;   /* mute reader */
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA };
	uint8_t resp[64];
	size_t rlen = 7;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_TIMEOUT);
	ck_assert_uint_eq(rlen, 0);
	ck_assert_uint_eq(fake.aborts, 1);
	teardown_reader();
}
END_TEST

static void malformed_responder(const uint8_t *cmd, size_t len)
{
	(void)len;
	uint8_t f[12];
	memcpy(f, cmd, 10);
	f[0] = RDR_TO_PC_DATA_BLOCK;
	f[1] = 0x40; f[2] = 0x01; f[3] = 0; f[4] = 0;   /* dwLength 320 > 261, 2 bytes sent */
	f[7] = 0; f[8] = 0; f[9] = 0;
	f[10] = 0x90; f[11] = 0x00;
	queue(f, sizeof f);
}

START_TEST(oversized_length_rejected)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 1);
	fake.responder = malformed_responder;
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA };
	uint8_t resp[64];
	size_t rlen = 0;
	ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp, sizeof resp,
					   &rlen, NULL), CCIDC_BAD_FRAME);
	teardown_reader();
}
END_TEST

/* TPDU reader with a T=1 card that answers each I-block with 90 00. */
static uint8_t card_ns;

static void t1_card_responder(const uint8_t *cmd, size_t len)
{
	const uint8_t *blk = cmd + 10;
	ck_assert_uint_ge(len, 14);
	uint8_t out[8];
	if ((blk[1] & 0x80) == 0) {   /* I-block: answer with an I-block */
		size_t n = t1_build_block(out, sizeof out, 0, (uint8_t)(card_ns ? T1_I_SEQ : 0),
					  (const uint8_t *)"\x90\x00", 2, T1_EDC_LRC);
		card_ns ^= 1;
		answer(cmd, 0, 0, 0, out, n);
	} else if ((blk[1] & 0xE0) == 0xC0) {   /* S request: echo as response */
		size_t n = t1_build_block(out, sizeof out, 0, (uint8_t)(blk[1] | T1_S_RESPONSE),
					  blk + 3, blk[2], T1_EDC_LRC);
		answer(cmd, 0, 0, 0, out, n);
	}
}

START_TEST(t1_over_tpdu)
{
	setup_reader(CCID_LEVEL_TPDU, 271, 1);
	fake.responder = t1_card_responder;
	card_ns = 0;
	struct t1_config cfg = { .ifsc = 254, .ifsd = 32, .nad = 0, .edc = T1_EDC_LRC };
	t1_init(&proto.t1, &cfg);
	enum ccid_result res;
	ck_assert_int_eq(ccid_cmd_t1_ifsd(&dev, 0, &proto, 254, &res), CCIDC_OK);
	const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x01, 0xAA };
	uint8_t resp[64];
	size_t rlen = 0;
	for (int i = 0; i < 3; i++) {   /* sequence numbers advance on both sides */
		ck_assert_int_eq(ccid_cmd_transmit(&dev, 0, &proto, apdu, sizeof apdu, resp,
						   sizeof resp, &rlen, &res), CCIDC_OK);
		ck_assert_uint_eq(rlen, 2);
		ck_assert_uint_eq(resp[0], 0x90);
	}
	teardown_reader();
}
END_TEST

static void pin_cancel_responder(const uint8_t *cmd, size_t len)
{
	(void)len;
	ck_assert_uint_eq(cmd[0], PC_TO_RDR_SECURE);
	answer(cmd, CCID_CMD_FAILED, CCID_ERR_PIN_CANCELLED, 0, NULL, 0);
}

START_TEST(pinpad_cancel_is_sw_6401)
{
	setup_reader(CCID_LEVEL_SHORT_APDU, 271, 1);
	fake.responder = pin_cancel_responder;
	uint8_t pv[PIN_VERIFY_HEADER_LEN + 5] = { 0x1E, 0x1E, 0x82, 0x04, 0x00, 0x08, 0x04, 0x02,
						  0x01, 0x04, 0x09, 0x00, 0, 0, 0, 5, 0, 0, 0,
						  0x00, 0x20, 0x00, 0x80, 0x00 };
	uint8_t resp[8];
	size_t rlen = 0;
	enum ccid_result res;
	ck_assert_int_eq(ccid_cmd_secure(&dev, 0, &proto, false, pv, sizeof pv, resp, sizeof resp,
					 &rlen, &res), CCIDC_OK);
	ck_assert_uint_eq(rlen, 2);
	ck_assert_uint_eq(resp[0], 0x64);
	ck_assert_uint_eq(resp[1], 0x01);
	teardown_reader();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ccid-cmd");
	TCase *tc = tcase_create("fake-transport");
	tcase_add_test(tc, extended_chaining_both_ways);
	tcase_add_test(tc, extended_response_too_big_for_caller);
	tcase_add_test(tc, stale_frames_dropped_and_bounded);
	tcase_add_test(tc, slot_out_of_range_is_an_error);
	tcase_add_test(tc, time_extensions_honoured_then_bounded);
	tcase_add_test(tc, read_timeout_aborts);
	tcase_add_test(tc, oversized_length_rejected);
	tcase_add_test(tc, t1_over_tpdu);
	tcase_add_test(tc, pinpad_cancel_is_sw_6401);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

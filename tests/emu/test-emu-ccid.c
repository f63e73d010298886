/* test-emu-ccid.c — the emulated reader's firmware, frame by frame.
 *
 * A scripted in-test card (fixed ATR, canned or patterned answers, records
 * what it was sent) sits in the slots; the environment records every bulk-IN
 * and interrupt frame and keeps virtual time, so waits cost nothing.
 * Every test asserts exact bytes.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "emu-ccid.h"
#include "emu-fw-apdu.h"
#include "emu-fw-atr.h"
#include "emu-fw-keypad.h"
#include "emu-fw-t1.h"

/* ---- environment ---------------------------------------------------------------- */

#define MAX_FRAMES 64
#define FRAME_MAX 600

typedef struct bench {
	uint8_t frame[MAX_FRAMES][FRAME_MAX];
	size_t frame_len[MAX_FRAMES];
	unsigned nframes;
	uint8_t intr[16][8];
	size_t intr_len[16];
	unsigned nintr;
	unsigned long waited_ms;
	unsigned long wait_limit_ms;   /* wait_ms() says "aborted" beyond this */
} bench;

static bench B;

static void env_bulk_in(void *user, const uint8_t *frame, size_t len)
{
	bench *b = user;
	ck_assert_uint_lt(b->nframes, MAX_FRAMES);
	ck_assert_uint_le(len, FRAME_MAX);
	memcpy(b->frame[b->nframes], frame, len);
	b->frame_len[b->nframes++] = len;
}

static void env_interrupt_in(void *user, const uint8_t *frame, size_t len)
{
	bench *b = user;
	ck_assert_uint_lt(b->nintr, 16);
	ck_assert_uint_le(len, 8);
	memcpy(b->intr[b->nintr], frame, len);
	b->intr_len[b->nintr++] = len;
}

static bool env_wait_ms(void *user, unsigned ms)
{
	bench *b = user;
	if (b->waited_ms + ms > b->wait_limit_ms)
		return false;
	b->waited_ms += ms;
	return true;
}

static const emu_ccid_env ENV = { &B, env_bulk_in, env_interrupt_in, env_wait_ms, NULL };

/* ---- the scripted card -------------------------------------------------------------- */

typedef struct tcard {
	emu_card base;
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len;
	uint8_t *last_cmd;
	size_t last_cmd_len;
	unsigned transmits, power_ons, warm_resets, power_offs;
	size_t pattern_len;         /* answer pattern_len bytes (i & 0xFF) + 90 00 */
	uint8_t answer[64];         /* ... or this fixed answer when answer_len != 0 */
	size_t answer_len;
	bool mute;
} tcard;

/* The My Number card's contact ATR: T=1, IFSC 251 (TA3 FB), TB3 46. */
static const uint8_t MYNUMBER_ATR[] = { 0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
					0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B };

static int tc_power_on(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *len)
{
	tcard *t = (tcard *)card;
	t->power_ons++;
	if (t->mute)
		return -1;
	memcpy(atr, t->atr, t->atr_len);
	*len = t->atr_len;
	return 0;
}

static int tc_warm_reset(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *len)
{
	tcard *t = (tcard *)card;
	t->warm_resets++;
	memcpy(atr, t->atr, t->atr_len);
	*len = t->atr_len;
	return 0;
}

static void tc_power_off(emu_card *card)
{
	((tcard *)card)->power_offs++;
}

static int tc_transmit(emu_card *card, const uint8_t *capdu, size_t len, uint8_t *rapdu, size_t *rlen)
{
	tcard *t = (tcard *)card;
	t->transmits++;
	memcpy(t->last_cmd, capdu, len);
	t->last_cmd_len = len;
	if (t->mute)
		return -1;
	if (t->answer_len) {
		memcpy(rapdu, t->answer, t->answer_len);
		*rlen = t->answer_len;
		return 0;
	}
	for (size_t i = 0; i < t->pattern_len; i++)
		rapdu[i] = (uint8_t)i;
	rapdu[t->pattern_len] = 0x90;
	rapdu[t->pattern_len + 1] = 0x00;
	*rlen = t->pattern_len + 2;
	return 0;
}

static unsigned destroyed;

static void tc_destroy(emu_card *card)
{
	tcard *t = (tcard *)card;
	destroyed++;
	free(t->last_cmd);
	free(t);
}

static const emu_card_ops TC_OPS = { tc_power_on, tc_warm_reset, tc_power_off, tc_transmit, tc_destroy };

/* A card that can block (like vicc): counts emu_ccid_abort_wait()'s interrupts. */
static unsigned tc_interrupts;

static void tc_interrupt(emu_card *card)
{
	(void)card;
	__atomic_add_fetch(&tc_interrupts, 1, __ATOMIC_SEQ_CST);
}

static const emu_card_ops TC_OPS_INTERRUPTIBLE = { tc_power_on, tc_warm_reset, tc_power_off, tc_transmit,
						    tc_destroy, tc_interrupt };

static tcard *new_card(const uint8_t *atr, size_t atr_len)
{
	tcard *t = calloc(1, sizeof(*t));
	ck_assert_ptr_nonnull(t);
	t->base.ops = &TC_OPS;
	t->base.kind = "test";
	memcpy(t->atr, atr, atr_len);
	t->atr_len = atr_len;
	t->last_cmd = malloc(EMU_CAPDU_MAX);
	ck_assert_ptr_nonnull(t->last_cmd);
	/* the JPKI card's ATQB application data, protocol info and MBLI */
	const uint8_t app[4] = { 0x00, 0x00, 0x05, 0xE0 }, proto[3] = { 0xB3, 0x81, 0xA1 };
	memcpy(t->base.atqb_app_data, app, 4);
	memcpy(t->base.atqb_protocol_info, proto, 3);
	t->base.atqb_mbli = 0x00;
	return t;
}

/* ---- helpers ----------------------------------------------------------------- */

static emu_ccid *reader(const char *profile)
{
	memset(&B, 0, sizeof(B));
	B.wait_limit_ms = ULONG_MAX;
	const emu_profile *p = emu_profile_find(profile);
	ck_assert_ptr_nonnull(p);
	emu_ccid *c = emu_ccid_new(p, &ENV);
	ck_assert_ptr_nonnull(c);
	return c;
}

static tcard *insert(emu_ccid *c, unsigned slot)
{
	tcard *t = new_card(MYNUMBER_ATR, sizeof(MYNUMBER_ATR));
	emu_ccid_insert(c, slot, &t->base);
	return t;
}

static uint8_t seq_no;

/* Send a PC_to_RDR message; returns the index its answer will have. */
static unsigned send_msg(emu_ccid *c, uint8_t type, uint8_t slot, uint8_t b7, uint8_t b8, uint8_t b9,
			 const uint8_t *data, size_t len)
{
	static uint8_t msg[CCID_HEADER_LEN + 70000];
	msg[0] = type;
	msg[1] = (uint8_t)len;
	msg[2] = (uint8_t)(len >> 8);
	msg[3] = (uint8_t)(len >> 16);
	msg[4] = 0;
	msg[5] = slot;
	msg[6] = seq_no++;
	msg[7] = b7;
	msg[8] = b8;
	msg[9] = b9;
	if (len)
		memcpy(msg + CCID_HEADER_LEN, data, len);
	unsigned first = B.nframes;
	emu_ccid_bulk_out(c, msg, CCID_HEADER_LEN + len);
	return first;
}

static void expect_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len)
{
	ck_assert_uint_eq(got_len, want_len);
	for (size_t i = 0; i < want_len; i++)
		ck_assert_msg(got[i] == want[i], "byte %zu: got %02X want %02X", i, got[i], want[i]);
}

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })
#define EXPECT_FRAME(i, ...) expect_bytes(B.frame[i], B.frame_len[i], BYTES(__VA_ARGS__))
#define LAST (B.nframes - 1)

static const uint8_t *payload(unsigned i)
{
	return B.frame[i] + CCID_HEADER_LEN;
}

static void expect_header(unsigned i, uint8_t type, uint32_t len, uint8_t slot, uint8_t status,
			  uint8_t error, uint8_t b9)
{
	ck_assert_uint_ge(B.frame_len[i], CCID_HEADER_LEN);
	ck_assert_uint_eq(B.frame[i][0], type);
	uint32_t dw = B.frame[i][1] | B.frame[i][2] << 8 | (uint32_t)B.frame[i][3] << 16 |
		      (uint32_t)B.frame[i][4] << 24;
	ck_assert_uint_eq(dw, len);
	ck_assert_uint_eq(B.frame_len[i], CCID_HEADER_LEN + len);
	ck_assert_uint_eq(B.frame[i][5], slot);
	ck_assert_uint_eq(B.frame[i][7], status);
	ck_assert_uint_eq(B.frame[i][8], error);
	ck_assert_uint_eq(B.frame[i][9], b9);
}

static unsigned power_on(emu_ccid *c, uint8_t slot)
{
	return send_msg(c, PC_TO_RDR_ICC_POWER_ON, slot, 0, 0, 0, NULL, 0);
}

static unsigned xfr(emu_ccid *c, uint8_t slot, uint16_t level, const uint8_t *data, size_t len)
{
	return send_msg(c, PC_TO_RDR_XFR_BLOCK, slot, 0, (uint8_t)level, (uint8_t)(level >> 8), data, len);
}

/* A host T=1 block with its LRC. */
static unsigned t1_send(emu_ccid *c, uint8_t pcb, const uint8_t *inf, size_t len)
{
	uint8_t blk[EMU_T1_BLOCK_MAX];
	size_t n = emu_t1_build(0, pcb, inf, len, blk);
	return xfr(c, 0, 0, blk, n);
}

/* ---- profiles -------------------------------------------------------------------- */

START_TEST(profiles_are_the_real_readers)
{
	static const struct { const char *name; uint16_t vid, pid; uint32_t level, max_msg; uint8_t slots, pin, cls; } want[] = {
		{ "tpdu-t1", 0x072F, 0xB100, CCID_FEAT_LEVEL_TPDU, 271, 1, 0, USB_CLASS_CCID },
		{ "short-apdu", 0x072F, 0x2200, CCID_FEAT_LEVEL_SHORT_APDU, 271, 1, 0, USB_CLASS_CCID },
		{ "extended-apdu", 0x054C, 0x0DC9, CCID_FEAT_LEVEL_EXTENDED_APDU, 522, 1, 0, USB_CLASS_CCID },
		{ "multi-slot", 0x04E6, 0x5120, CCID_FEAT_LEVEL_TPDU, 263, 2, 0, USB_CLASS_VENDOR },
		{ "pinpad", 0x04E6, 0xE003, CCID_FEAT_LEVEL_TPDU, 263, 1, 3, USB_CLASS_VENDOR },
	};
	unsigned n = 0;
	while (emu_profiles[n])
		n++;
	ck_assert_uint_eq(n, 5);
	for (unsigned i = 0; i < 5; i++) {
		const emu_profile *p = emu_profile_find(want[i].name);
		ck_assert_ptr_nonnull(p);
		ck_assert_ptr_eq(p, emu_profiles[i]);
		ck_assert_uint_eq(p->vid, want[i].vid);
		ck_assert_uint_eq(p->pid, want[i].pid);
		ck_assert_uint_eq(p->ccid_desc[CCID_DESC_bLength], 0x36);
		ck_assert_uint_eq(p->ccid_desc[CCID_DESC_bDescriptorType], 0x21);
		ck_assert_uint_eq(emu_desc_u32(p, CCID_DESC_dwFeatures) & CCID_FEAT_LEVEL_MASK, want[i].level);
		ck_assert_uint_eq(emu_desc_u32(p, CCID_DESC_dwMaxCCIDMessageLength), want[i].max_msg);
		ck_assert_uint_eq(p->nslots, want[i].slots);
		ck_assert_uint_eq(p->ccid_desc[CCID_DESC_bMaxSlotIndex] + 1u, want[i].slots);
		ck_assert_uint_eq(p->ccid_desc[CCID_DESC_bPINSupport], want[i].pin);
		ck_assert_uint_eq(p->interface_class, want[i].cls);
		ck_assert_ptr_nonnull(p->manufacturer);
		ck_assert_ptr_nonnull(p->product);
	}
	/* a few values straight from the readers' parse dumps */
	const emu_profile *acr39 = emu_profile_find("tpdu-t1");
	ck_assert_uint_eq(emu_desc_u32(acr39, CCID_DESC_dwFeatures), 0x000100B2);
	ck_assert_uint_eq(emu_desc_u32(acr39, CCID_DESC_dwMaxIFSD), 247);
	ck_assert_uint_eq(emu_desc_u32(emu_profile_find("extended-apdu"), CCID_DESC_dwFeatures), 0x0004007E);
	ck_assert_uint_ge(emu_profile_find("short-apdu")->bcd_device, 0x0206);
	ck_assert_ptr_null(emu_profile_find("no-such-reader"));
	ck_assert_ptr_null(emu_profile_find(NULL));
}
END_TEST

/* ---- slot status, power ------------------------------------------------------------ */

START_TEST(slot_status_absent_present_active)
{
	emu_ccid *c = reader("tpdu-t1");
	unsigned i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	EXPECT_FRAME(i, 0x81, 0, 0, 0, 0, 0x00, B.frame[i][6], 0x02, 0x00, 0x00);
	ck_assert_uint_eq(B.frame[i][6], seq_no - 1);   /* bSeq echoed */
	insert(c, 0);
	ck_assert(emu_ccid_card_present(c, 0));
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_PRESENT_INACTIVE, 0, 0);
	power_on(c, 0);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_PRESENT_ACTIVE, 0, 0);
	i = send_msg(c, PC_TO_RDR_ICC_POWER_OFF, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_PRESENT_INACTIVE, 0, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(power_on_contact_atr_frame)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	unsigned i = power_on(c, 0);
	EXPECT_FRAME(i, 0x80, 19, 0, 0, 0, 0x00, B.frame[i][6], 0x00, 0x00, 0x00,
		     0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
		     0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B);
	ck_assert_uint_eq(t->power_ons, 1);
	/* a second power-on while active is a warm reset */
	power_on(c, 0);
	ck_assert_uint_eq(t->warm_resets, 1);
	/* 1.8 V is in the ACR39U's bVoltageSupport (0x07): accepted; 4 is no voltage */
	i = send_msg(c, PC_TO_RDR_ICC_POWER_ON, 0, CCID_VOLTAGE_1_8V, 0, 0, NULL, 0);
	expect_header(i, 0x80, 19, 0, 0, 0, 0);
	i = send_msg(c, PC_TO_RDR_ICC_POWER_ON, 0, 4, 0, 0, NULL, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_ACTIVE, CCID_ERR_BAD_POWERSELECT, 0);
	emu_ccid_free(c);

	/* the SPR532 is a 5 V reader: 3 V is refused with the offset of bPowerSelect */
	c = reader("pinpad");
	insert(c, 0);
	i = send_msg(c, PC_TO_RDR_ICC_POWER_ON, 0, CCID_VOLTAGE_3V, 0, 0, NULL, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE, 7, 0);
	i = send_msg(c, PC_TO_RDR_ICC_POWER_ON, 0, CCID_VOLTAGE_5V, 0, 0, NULL, 0);
	expect_header(i, 0x80, 19, 0, 0, 0, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(power_on_atr_per_profile_and_slot)
{
	static const uint8_t pseudo[] = { 0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0,
					  0xB3, 0x81, 0xA1, 0x00, 0x7F };
	for (unsigned k = 0; emu_profiles[k]; k++) {
		const emu_profile *p = emu_profiles[k];
		emu_ccid *c = reader(p->name);
		for (unsigned slot = 0; slot < p->nslots; slot++) {
			insert(c, slot);
			unsigned i = power_on(c, (uint8_t)slot);
			const bool contactless = p->slot_kind[slot] == EMU_SLOT_CONTACTLESS;
			const uint8_t *atr = contactless ? pseudo : MYNUMBER_ATR;
			const size_t atr_len = contactless ? sizeof(pseudo) : sizeof(MYNUMBER_ATR);
			expect_header(i, 0x80, (uint32_t)atr_len, (uint8_t)slot, 0, 0, 0);
			expect_bytes(payload(i), atr_len, atr, atr_len);
		}
		emu_ccid_free(c);
	}
}
END_TEST

START_TEST(power_on_absent_and_mute)
{
	emu_ccid *c = reader("tpdu-t1");
	unsigned i = power_on(c, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_ABSENT, CCID_ERR_ICC_MUTE, 0);
	tcard *t = insert(c, 0);
	t->mute = true;
	i = power_on(c, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE, CCID_ERR_ICC_MUTE, 0);
	/* a card with a broken TCK: the reader reports it */
	t->mute = false;
	t->atr[t->atr_len - 1] ^= 1;
	i = power_on(c, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE, CCID_ERR_BAD_ATR_TCK, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(pseudo_atr_type_b_and_tck)
{
	emu_ccid *c = reader("short-apdu");
	tcard *t = insert(c, 0);
	unsigned i = power_on(c, 0);
	/* pcsc-tools lists exactly this ATR for the JPKI card over Type B */
	EXPECT_FRAME(i, 0x80, 13, 0, 0, 0, 0x00, B.frame[i][6], 0x00, 0x00, 0x00,
		     0x3B, 0x88, 0x80, 0x01, 0x00, 0x00, 0x05, 0xE0, 0xB3, 0x81, 0xA1, 0x00, 0x7F);
	ck_assert_uint_eq(t->power_ons, 1);     /* the field was switched on */
	/* TCK of another Type B card (the driving licence: 3B 88 80 01 00 00 00 00 91 81 C1 00 D8) */
	tcard *dl = new_card(MYNUMBER_ATR, sizeof(MYNUMBER_ATR));
	memset(dl->base.atqb_app_data, 0, 4);
	dl->base.atqb_protocol_info[0] = 0x91;
	dl->base.atqb_protocol_info[1] = 0x81;
	dl->base.atqb_protocol_info[2] = 0xC1;
	uint8_t atr[ATR_MAX_LEN];
	ck_assert_uint_eq(emu_pseudo_atr_type_b(&dl->base, atr), EMU_PSEUDO_ATR_LEN);
	expect_bytes(atr, EMU_PSEUDO_ATR_LEN, BYTES(0x3B, 0x88, 0x80, 0x01, 0, 0, 0, 0, 0x91, 0x81, 0xC1, 0x00, 0xD8));
	emu_atr_info info;
	ck_assert(emu_atr_parse(atr, EMU_PSEUDO_ATR_LEN, &info));
	ck_assert(info.offers_t1);
	tc_destroy(&dl->base);
	emu_ccid_free(c);
}
END_TEST

START_TEST(atr_parser_reads_ifsc_and_rejects_broken_atrs)
{
	emu_atr_info info;
	ck_assert(emu_atr_parse(MYNUMBER_ATR, sizeof(MYNUMBER_ATR), &info));
	ck_assert_uint_eq(info.ifsc, 0xFB);
	ck_assert_uint_eq(info.t1_waiting, 0x46);
	ck_assert_uint_eq(info.ta1, 0x13);
	ck_assert_uint_eq(info.tc1, 0xFF);
	ck_assert(info.offers_t1);
	ck_assert(!info.offers_t0);
	ck_assert(!emu_atr_parse(MYNUMBER_ATR, sizeof(MYNUMBER_ATR) - 1, &info));     /* no TCK */
	ck_assert(!emu_atr_parse(MYNUMBER_ATR, 5, &info));                              /* truncated */
	ck_assert(!emu_atr_parse(BYTES(0x3A, 0x00), &info));                            /* bad TS */
	ck_assert(emu_atr_parse(BYTES(0x3B, 0x00), &info));                             /* minimal T=0 */
	ck_assert(info.offers_t0 && !info.offers_t1);
}
END_TEST

/* ---- framing errors ----------------------------------------------------------------- */

START_TEST(bad_slot_is_error_5)
{
	emu_ccid *c = reader("tpdu-t1");
	insert(c, 0);
	unsigned i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 1, 0, 0, 0, NULL, 0);
	EXPECT_FRAME(i, 0x81, 0, 0, 0, 0, 0x01, B.frame[i][6], 0x42, 0x05, 0x00);
	i = power_on(c, 7);
	expect_header(i, 0x80, 0, 7, 0x42, CCID_ERR_BAD_SLOT, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(bad_dwlength_is_error_1)
{
	emu_ccid *c = reader("tpdu-t1");
	insert(c, 0);
	/* dwLength says 5, the transfer carries 3 */
	const uint8_t lying[] = { 0x6F, 5, 0, 0, 0, 0, 0x21, 0, 0, 0, 1, 2, 3 };
	emu_ccid_bulk_out(c, lying, sizeof(lying));
	EXPECT_FRAME(0 + B.nframes - 1, 0x80, 0, 0, 0, 0, 0x00, 0x21, 0x41, 0x01, 0x00);
	/* shorter than a header */
	const uint8_t stub[] = { 0x65, 0, 0, 0, 0, 0, 0x22 };
	emu_ccid_bulk_out(c, stub, sizeof(stub));
	EXPECT_FRAME(LAST, 0x81, 0, 0, 0, 0, 0x00, 0x22, 0x41, 0x01, 0x00);
	/* longer than dwMaxCCIDMessageLength (271) even though dwLength agrees */
	static uint8_t big[10 + 262];
	memset(big, 0, sizeof(big));
	big[0] = 0x6F;
	big[1] = 262 & 0xFF;
	big[2] = 262 >> 8;
	big[6] = 0x23;
	emu_ccid_bulk_out(c, big, sizeof(big));
	EXPECT_FRAME(LAST, 0x80, 0, 0, 0, 0, 0x00, 0x23, 0x41, 0x01, 0x00);
	emu_ccid_free(c);
}
END_TEST

START_TEST(unsupported_and_unknown_commands)
{
	emu_ccid *c = reader("tpdu-t1");
	insert(c, 0);
	static const struct { uint8_t cmd, resp; } cases[] = {
		{ PC_TO_RDR_ICC_CLOCK, 0x81 }, { PC_TO_RDR_T0_APDU, 0x81 }, { PC_TO_RDR_MECHANICAL, 0x81 },
		{ PC_TO_RDR_SET_DATA_RATE_CLOCK, 0x84 }, { 0x99, 0x81 },
		{ PC_TO_RDR_SECURE, 0x80 },   /* the ACR39U has no PIN pad */
	};
	for (unsigned k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		uint8_t data[8] = { 0 };
		unsigned i = send_msg(c, cases[k].cmd, 0, 0, 0, 0, data, cases[k].cmd == 0x73 ? 8 : 0);
		expect_header(i, cases[k].resp, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE,
			      CCID_ERR_CMD_NOT_SUPPORTED, 0);
	}
	emu_ccid_free(c);
}
END_TEST

START_TEST(escape_firmware_version)
{
	emu_ccid *c = reader("tpdu-t1");
	unsigned i = send_msg(c, PC_TO_RDR_ESCAPE, 0, 0, 0, 0, BYTES(0xE0, 0x00, 0x00, 0x18, 0x00));
	const char *fw = "ACR39U ICC Reader 2.16";
	expect_header(i, 0x83, 5 + strlen(fw), 0, CCID_ICC_ABSENT, 0, 0);
	expect_bytes(payload(i), 5, BYTES(0xE1, 0x00, 0x00, 0x00, (uint8_t)strlen(fw)));
	ck_assert_mem_eq(payload(i) + 5, fw, strlen(fw));
	i = send_msg(c, PC_TO_RDR_ESCAPE, 0, 0, 0, 0, BYTES(0x42));
	expect_header(i, 0x83, 0, 0, CCID_CMD_FAILED | CCID_ICC_ABSENT, CCID_ERR_CMD_NOT_SUPPORTED, 0);
	emu_ccid_free(c);
}
END_TEST

/* ---- parameters --------------------------------------------------------------------- */

START_TEST(get_set_reset_parameters)
{
	emu_ccid *c = reader("tpdu-t1");
	unsigned i = send_msg(c, PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x82, 0, 0, CCID_CMD_FAILED | CCID_ICC_ABSENT, CCID_ERR_ICC_MUTE, 0);
	insert(c, 0);
	/* before any ATR: the T=0 defaults of CCID 1.1 */
	i = send_msg(c, PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0);
	EXPECT_FRAME(i, 0x82, 5, 0, 0, 0, 0, B.frame[i][6], 0x01, 0x00, 0x00, 0x11, 0x00, 0x00, 0x0A, 0x00);
	power_on(c, 0);
	/* from the ATR: Fi/Di 13, LRC direct, TC1 FF, TB3 46, IFSC FB */
	i = send_msg(c, PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0);
	EXPECT_FRAME(i, 0x82, 7, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x01,
		     0x13, 0x10, 0xFF, 0x46, 0x00, 0xFB, 0x00);
	/* what libccid sends for this ATR */
	i = send_msg(c, PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, BYTES(0x13, 0x10, 0xFF, 0x46, 0x00, 0xFE, 0x00));
	EXPECT_FRAME(i, 0x82, 7, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x01,
		     0x13, 0x10, 0xFF, 0x46, 0x00, 0xFE, 0x00);
	/* wrong length for T=1 */
	i = send_msg(c, PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, BYTES(0x13, 0x10, 0xFF, 0x46, 0x00));
	expect_header(i, 0x82, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LENGTH, 0);
	/* T=0 is not what this card offers; protocol 2 does not exist */
	i = send_msg(c, PC_TO_RDR_SET_PARAMETERS, 0, 0, 0, 0, BYTES(0x11, 0x00, 0x00, 0x0A, 0x00));
	expect_header(i, 0x82, 0, 0, CCID_CMD_FAILED, 7, 0);
	i = send_msg(c, PC_TO_RDR_SET_PARAMETERS, 0, 2, 0, 0, BYTES(0x11, 0x00, 0x00, 0x0A, 0x00));
	expect_header(i, 0x82, 0, 0, CCID_CMD_FAILED, 7, 0);
	/* field by field: Fi/Di RFU, CRC, BWI 10, clock stop 4, IFSC 0, NAD 5 */
	static const struct { uint8_t p[7]; uint8_t offset; } bad[] = {
		{ { 0x70, 0x10, 0, 0x46, 0, 0x20, 0 }, 10 },
		{ { 0x11, 0x11, 0, 0x46, 0, 0x20, 0 }, 11 },
		{ { 0x11, 0x10, 0, 0xA6, 0, 0x20, 0 }, 13 },
		{ { 0x11, 0x10, 0, 0x46, 4, 0x20, 0 }, 14 },
		{ { 0x11, 0x10, 0, 0x46, 0, 0x00, 0 }, 15 },
		{ { 0x11, 0x10, 0, 0x46, 0, 0x20, 5 }, 16 },
	};
	for (unsigned k = 0; k < 6; k++) {
		i = send_msg(c, PC_TO_RDR_SET_PARAMETERS, 0, 1, 0, 0, bad[k].p, 7);
		expect_header(i, 0x82, 0, 0, CCID_CMD_FAILED, bad[k].offset, 0);
	}
	/* the rejected ones changed nothing; reset goes back to the ATR's values */
	i = send_msg(c, PC_TO_RDR_GET_PARAMETERS, 0, 0, 0, 0, NULL, 0);
	ck_assert_uint_eq(payload(i)[5], 0xFE);
	i = send_msg(c, PC_TO_RDR_RESET_PARAMETERS, 0, 0, 0, 0, NULL, 0);
	expect_bytes(payload(i), 7, BYTES(0x13, 0x10, 0xFF, 0x46, 0x00, 0xFB, 0x00));
	emu_ccid_free(c);
}
END_TEST

/* ---- TPDU level: the card side of T=1 ------------------------------------------------ */

static const uint8_t SELECT_MF[] = { 0x00, 0xA4, 0x00, 0x00, 0x02, 0x3F, 0x00 };

START_TEST(t1_i_block_exchange)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	unsigned i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	/* I(0,0) 90 00, LRC 0x92 */
	EXPECT_FRAME(i, 0x80, 6, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x90, 0x00, 0x92);
	expect_bytes(t->last_cmd, t->last_cmd_len, SELECT_MF, sizeof(SELECT_MF));
	/* the next command carries N(S) = 1, the answer too */
	i = t1_send(c, T1_I_SEQ, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x40, 0x02, 0x90, 0x00, 0xD2));
	ck_assert_uint_eq(t->transmits, 2);
	/* a repeated N(S) is an error: R-block "other error" naming the N(S) expected (0) */
	i = t1_send(c, T1_I_SEQ, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	ck_assert_uint_eq(t->transmits, 2);
	emu_ccid_stats st;
	emu_ccid_get_stats(c, &st);
	ck_assert_uint_eq(st.t1_blocks, 6);
	ck_assert_uint_eq(st.apdus, 2);
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_chaining_host_to_card)
{
	emu_ccid *c = reader("tpdu-t1");
	/* a card with IFSC 16: 3B 80 81 31 10 45 TCK */
	uint8_t atr[] = { 0x3B, 0x80, 0x81, 0x31, 0x10, 0x45, 0x00 };
	for (unsigned k = 1; k < 6; k++)
		atr[6] ^= atr[k];
	tcard *t = new_card(atr, sizeof(atr));
	emu_ccid_insert(c, 0, &t->base);
	power_on(c, 0);
	uint8_t apdu[25];
	for (unsigned k = 0; k < sizeof(apdu); k++)
		apdu[k] = (uint8_t)(0x10 + k);
	apdu[4] = 20;
	/* more than IFSC in one block is refused */
	unsigned i = t1_send(c, 0x00, apdu, 17);
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	/* 16 + 9 bytes: I(0,M) -> R(1) ; I(1) -> answer */
	i = t1_send(c, T1_I_MORE, apdu, 16);
	expect_bytes(payload(i), 4, BYTES(0x00, 0x90, 0x00, 0x90));
	ck_assert_uint_eq(t->transmits, 0);
	/* if the host missed our R-block and repeats I(0,M), we repeat R(1) */
	i = t1_send(c, T1_I_MORE, apdu, 16);
	expect_bytes(payload(i), 4, BYTES(0x00, 0x90, 0x00, 0x90));
	i = t1_send(c, T1_I_SEQ, apdu + 16, 9);
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	expect_bytes(t->last_cmd, t->last_cmd_len, apdu, sizeof(apdu));
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_chaining_card_to_host)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	t->pattern_len = 70;                 /* 72 bytes at IFSD 32: 32 + 32 + 8 */
	unsigned i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	ck_assert_uint_eq(B.frame_len[i], 10 + 36);
	ck_assert_uint_eq(payload(i)[1], T1_I_MORE);          /* I(0,M) */
	ck_assert_uint_eq(payload(i)[2], 32);
	ck_assert_uint_eq(payload(i)[3 + 31], 31);
	ck_assert_uint_eq(emu_t1_lrc(payload(i), 36), 0);
	i = t1_send(c, T1_R_BLOCK | T1_R_SEQ, NULL, 0);       /* R(1): next please */
	ck_assert_uint_eq(payload(i)[1], T1_I_SEQ | T1_I_MORE); /* I(1,M) */
	ck_assert_uint_eq(payload(i)[3], 32);
	/* R(1) again = "I did not get I(1)": the same block comes again */
	unsigned j = t1_send(c, T1_R_BLOCK | T1_R_SEQ | T1_R_EDC_ERROR, NULL, 0);
	expect_bytes(payload(j), 36, payload(i), 36);
	i = t1_send(c, T1_R_BLOCK, NULL, 0);                  /* R(0): next */
	expect_bytes(payload(i), 12, BYTES(0x00, 0x00, 0x08, 64, 65, 66, 67, 68, 69, 0x90, 0x00,
					   0x00 ^ 0x08 ^ 64 ^ 65 ^ 66 ^ 67 ^ 68 ^ 69 ^ 0x90));
	/* the host's next command continues with N(S) = 1 */
	t->pattern_len = 0;
	i = t1_send(c, T1_I_SEQ, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x40, 0x02, 0x90, 0x00, 0xD2));
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_ifs_negotiation)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	unsigned i = t1_send(c, T1_S_BLOCK | T1_S_IFS, BYTES(0xFE));
	expect_bytes(payload(i), 5, BYTES(0x00, 0xE1, 0x01, 0xFE, 0x1E));
	/* IFS 0 and IFS 255 are not values */
	i = t1_send(c, T1_S_BLOCK | T1_S_IFS, BYTES(0x00));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	/* now a 300-byte answer comes as 254 + 48 */
	t->pattern_len = 300;
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	ck_assert_uint_eq(payload(i)[2], 254);
	ck_assert_uint_eq(B.frame_len[i], 10 + 258);
	i = t1_send(c, T1_R_BLOCK | T1_R_SEQ, NULL, 0);
	ck_assert_uint_eq(payload(i)[2], 48);
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_bad_lrc_gets_r_block)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	uint8_t blk[EMU_T1_BLOCK_MAX];
	size_t n = emu_t1_build(0, 0x00, SELECT_MF, sizeof(SELECT_MF), blk);
	blk[n - 1] ^= 0xFF;
	unsigned i = xfr(c, 0, 0, blk, n);
	EXPECT_FRAME(i, 0x80, 4, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x81);
	ck_assert_uint_eq(t->transmits, 0);
	/* LEN that disagrees with the block, a NAD, a block too short */
	i = xfr(c, 0, 0, BYTES(0x00, 0x00, 0x05, 0x90, 0x95));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	i = xfr(c, 0, 0, BYTES(0x21, 0x00, 0x00, 0x21));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	i = xfr(c, 0, 0, BYTES(0x00, 0x00));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x82, 0x00, 0x82));
	/* nothing was lost: the good block works */
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_resynch_and_abort)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));       /* host N(S) now 1 */
	unsigned i = t1_send(c, T1_S_BLOCK | T1_S_RESYNCH, NULL, 0);
	expect_bytes(payload(i), 4, BYTES(0x00, 0xE0, 0x00, 0xE0));
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));   /* back to N(S) = 0 */
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	/* an abandoned chain: S(ABORT) answered, the command never reaches the card */
	unsigned before = t->transmits;
	t1_send(c, T1_I_SEQ | T1_I_MORE, SELECT_MF, 4);
	i = t1_send(c, T1_S_BLOCK | T1_S_ABORT, NULL, 0);
	expect_bytes(payload(i), 4, BYTES(0x00, 0xE2, 0x00, 0xE2));
	ck_assert_uint_eq(t->transmits, before);
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_wtx_for_a_slow_card)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	/* BWI 4 at 4.8 MHz: BWT = 16 x 960 x 372 / 4800 kHz = 1190 ms (+1) */
	emu_ccid_set_card_delay(c, 0, 5000);
	unsigned i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 5, BYTES(0x00, 0xC3, 0x01, 0x05, 0xC7));   /* S(WTX request) x5 */
	ck_assert_uint_eq(t->transmits, 0);
	/* the host must answer S(WTX response); anything else is an error */
	i = t1_send(c, T1_R_BLOCK, NULL, 0);
	expect_bytes(payload(i), 5, BYTES(0x00, 0xC3, 0x01, 0x05, 0xC7));   /* repeated */
	i = t1_send(c, T1_S_BLOCK | T1_S_RESPONSE | T1_S_WTX, BYTES(0x05));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	ck_assert_uint_eq(t->transmits, 1);
	ck_assert_uint_eq(B.waited_ms, 5000);
	emu_ccid_stats st;
	emu_ccid_get_stats(c, &st);
	ck_assert_uint_eq(st.time_extensions, 1);
	/* an unsolicited S(WTX response) is refused */
	i = t1_send(c, T1_S_BLOCK | T1_S_RESPONSE | T1_S_WTX, BYTES(0x05));
	expect_bytes(payload(i), 4, BYTES(0x00, 0x92, 0x00, 0x92));
	emu_ccid_free(c);
}
END_TEST

START_TEST(t1_extended_apdu_over_chaining)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	/* an extended case-3 APDU of 600 data bytes goes as 251 + 251 + 105 */
	static uint8_t apdu[7 + 600];
	apdu[0] = 0x00; apdu[1] = 0xD6; apdu[2] = 0x00; apdu[3] = 0x00;
	apdu[4] = 0x00; apdu[5] = 600 >> 8; apdu[6] = 600 & 0xFF;
	for (unsigned k = 7; k < sizeof(apdu); k++)
		apdu[k] = (uint8_t)k;
	size_t off = 0;
	uint8_t ns = 0;
	while (sizeof(apdu) - off > 251) {
		unsigned i = t1_send(c, (ns ? T1_I_SEQ : 0) | T1_I_MORE, apdu + off, 251);
		ns ^= 1;
		expect_bytes(payload(i), 4, BYTES(0x00, (uint8_t)(0x80 | (ns << 4)), 0x00, (uint8_t)(0x80 | (ns << 4))));
		off += 251;
	}
	unsigned i = t1_send(c, ns ? T1_I_SEQ : 0, apdu + off, sizeof(apdu) - off);
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	expect_bytes(t->last_cmd, t->last_cmd_len, apdu, sizeof(apdu));
	emu_ccid_free(c);
}
END_TEST

/* ---- APDU levels ----------------------------------------------------------------------- */

START_TEST(short_apdu_exchange_and_rejects_extended)
{
	emu_ccid *c = reader("short-apdu");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	unsigned i = xfr(c, 0, 0, SELECT_MF, sizeof(SELECT_MF));
	EXPECT_FRAME(i, 0x80, 2, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x90, 0x00);
	expect_bytes(t->last_cmd, t->last_cmd_len, SELECT_MF, sizeof(SELECT_MF));
	/* 00 B0 00 00 00 01 00: extended Le */
	i = xfr(c, 0, 0, BYTES(0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, 14, 0);
	ck_assert_uint_eq(t->transmits, 1);
	i = xfr(c, 0, 0, BYTES(0x00, 0xB0));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LENGTH, 0);
	/* a full short answer: 256 + SW fits in 271 */
	t->pattern_len = 256;
	i = xfr(c, 0, 0, BYTES(0x00, 0xB0, 0x00, 0x00, 0x00));
	expect_header(i, 0x80, 258, 0, 0, 0, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(contactless_get_uid_answered_by_reader)
{
	emu_ccid *c = reader("short-apdu");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	unsigned i = xfr(c, 0, 0, BYTES(0xFF, 0xCA, 0x00, 0x00, 0x00));
	expect_header(i, 0x80, 6, 0, 0, 0, 0);
	expect_bytes(payload(i) + 4, 2, BYTES(0x90, 0x00));
	uint8_t uid[4];
	memcpy(uid, payload(i), 4);
	ck_assert_uint_eq(t->transmits, 0);               /* never reached the card */
	i = xfr(c, 0, 0, BYTES(0xFF, 0xCA, 0x00, 0x00, 0x04));
	expect_bytes(payload(i), 4, uid, 4);              /* the same PUPI until the next activation */
	i = xfr(c, 0, 0, BYTES(0xFF, 0xCA, 0x00, 0x00, 0x02));
	expect_bytes(payload(i), 2, BYTES(0x6C, 0x04));
	i = xfr(c, 0, 0, BYTES(0xFF, 0xCA, 0x01, 0x00, 0x00));
	expect_bytes(payload(i), 2, BYTES(0x6A, 0x81));
	ck_assert_uint_eq(t->transmits, 0);
	/* contact slots pass FF CA to the card */
	emu_ccid_free(c);
	c = reader("multi-slot");
	tcard *contact = insert(c, 0);
	power_on(c, 0);
	t1_send(c, 0x00, BYTES(0xFF, 0xCA, 0x00, 0x00, 0x00));
	ck_assert_uint_eq(contact->transmits, 1);
	emu_ccid_free(c);
}
END_TEST

START_TEST(extended_apdu_chaining_round_trip)
{
	emu_ccid *c = reader("extended-apdu");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	t->pattern_len = 1536;                       /* 1.5 KiB + SW */
	/* command: extended READ BINARY with 600 bytes of data, in 512 + 95 */
	static uint8_t apdu[7 + 600];
	apdu[0] = 0x00; apdu[1] = 0xB1; apdu[4] = 0x00; apdu[5] = 600 >> 8; apdu[6] = 600 & 0xFF;
	for (unsigned k = 7; k < sizeof(apdu); k++)
		apdu[k] = (uint8_t)(k * 7);
	unsigned i = xfr(c, 0, CCID_CHAIN_BEGIN, apdu, 512);
	EXPECT_FRAME(i, 0x80, 0, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x10);
	i = xfr(c, 0, CCID_CHAIN_END, apdu + 512, sizeof(apdu) - 512);
	expect_bytes(t->last_cmd, t->last_cmd_len, apdu, sizeof(apdu));
	/* response: 512 (01), 512 (03), 512 (03), 2 (02) */
	static uint8_t got[1538];
	size_t got_len = 0;
	expect_header(i, 0x80, 512, 0, 0, 0, CCID_CHAIN_BEGIN);
	memcpy(got, payload(i), 512);
	got_len = 512;
	static const uint8_t chain[] = { CCID_CHAIN_CONTINUE, CCID_CHAIN_CONTINUE, CCID_CHAIN_END };
	static const uint32_t sizes[] = { 512, 512, 2 };
	for (unsigned k = 0; k < 3; k++) {
		i = xfr(c, 0, CCID_CHAIN_EMPTY_NEXT, NULL, 0);
		expect_header(i, 0x80, sizes[k], 0, 0, 0, chain[k]);
		memcpy(got + got_len, payload(i), sizes[k]);
		got_len += sizes[k];
	}
	ck_assert_uint_eq(got_len, 1538);
	for (unsigned k = 0; k < 1536; k++)
		ck_assert_uint_eq(got[k], (uint8_t)k);
	ck_assert_uint_eq(got[1536], 0x90);
	ck_assert_uint_eq(got[1537], 0x00);
	/* nothing left: "more" now is a wLevelParameter error */
	i = xfr(c, 0, CCID_CHAIN_EMPTY_NEXT, NULL, 0);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LEVEL_PARAMETER, 0);
	/* continue without a beginning, unknown level values */
	i = xfr(c, 0, CCID_CHAIN_CONTINUE, apdu, 10);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LEVEL_PARAMETER, 0);
	i = xfr(c, 0, 0x0007, apdu, 10);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LEVEL_PARAMETER, 0);
	/* a short exchange still works in one block */
	t->pattern_len = 0;
	i = xfr(c, 0, 0, SELECT_MF, sizeof(SELECT_MF));
	EXPECT_FRAME(i, 0x80, 2, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x90, 0x00);
	emu_ccid_free(c);
}
END_TEST

START_TEST(time_extensions_at_apdu_level)
{
	emu_ccid *c = reader("extended-apdu");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	emu_ccid_set_card_delay(c, 0, 1200);
	unsigned first = xfr(c, 0, 0, SELECT_MF, sizeof(SELECT_MF));
	/* 500 + 500 + 200 ms: three "time extension" frames, then the answer */
	ck_assert_uint_eq(B.nframes - first, 4);
	for (unsigned k = 0; k < 3; k++)
		EXPECT_FRAME(first + k, 0x80, 0, 0, 0, 0, 0, B.frame[first][6], 0x80, 0x01, 0x00);
	EXPECT_FRAME(first + 3, 0x80, 2, 0, 0, 0, 0, B.frame[first][6], 0x00, 0x00, 0x00, 0x90, 0x00);
	ck_assert_uint_eq(B.waited_ms, 1200);
	ck_assert_uint_eq(t->transmits, 1);
	emu_ccid_free(c);
}
END_TEST

/* ---- Secure (PIN pad) -------------------------------------------------------------------- */

/* PIN verify: ASCII, position 0 (bytes), 4-byte block, no length field, 4..4 digits,
 * the JPKI user-authentication PIN template 00 20 00 80 04 FF FF FF FF. */
static const uint8_t VERIFY_4_ASCII[] = {
	CCID_SECURE_PIN_VERIFY, 0x00, 0x82, 0x04, 0x00, 0x04, 0x04, 0x02, 0x00, 0x09, 0x04, 0x00,
	0x00, 0x00, 0x00,
	0x00, 0x20, 0x00, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF,
};

static unsigned secure(emu_ccid *c, const uint8_t *data, size_t len)
{
	return send_msg(c, PC_TO_RDR_SECURE, 0, 0, 0, 0, data, len);
}

START_TEST(secure_verify_inserts_pin)
{
	emu_ccid *c = reader("pinpad");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	emu_ccid_set_keypad(c, "1234");
	unsigned i = secure(c, VERIFY_4_ASCII, sizeof(VERIFY_4_ASCII));
	expect_bytes(t->last_cmd, t->last_cmd_len, BYTES(0x00, 0x20, 0x00, 0x80, 0x04, 0x31, 0x32, 0x33, 0x34));
	/* at TPDU level the answer is the card's T=1 block */
	EXPECT_FRAME(i, 0x80, 6, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x90, 0x00, 0x92);
	ck_assert_uint_eq(B.waited_ms, 5 * 50);   /* four digits and OK */
	/* the keys were used once: the next entry times out */
	B.waited_ms = 0;
	i = secure(c, (const uint8_t[]){ CCID_SECURE_PIN_VERIFY, 0x05, 0x82, 0x04, 0x00, 0x04, 0x04, 0x02, 0x00, 0x09,
					 0x04, 0x00, 0x00, 0x40, 0x00, 0x00, 0x20, 0x00, 0x80, 0x04, 0xFF, 0xFF, 0xFF, 0xFF },
		   sizeof(VERIFY_4_ASCII));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_PIN_TIMEOUT, 0);
	ck_assert_uint_eq(B.waited_ms, 5000);       /* bTimeOut 5 s */
	ck_assert_uint_eq(t->transmits, 1);
	emu_ccid_free(c);
}
END_TEST

START_TEST(secure_cancel_and_timeout)
{
	emu_ccid *c = reader("pinpad");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	emu_ccid_set_keypad(c, NULL);                 /* Cancel */
	unsigned i = secure(c, VERIFY_4_ASCII, sizeof(VERIFY_4_ASCII));
	EXPECT_FRAME(i, 0x80, 0, 0, 0, 0, 0, B.frame[i][6], 0x40, 0xEF, 0x00);
	emu_ccid_set_keypad(c, "");                   /* nobody types */
	B.waited_ms = 0;
	i = secure(c, VERIFY_4_ASCII, sizeof(VERIFY_4_ASCII));
	EXPECT_FRAME(i, 0x80, 0, 0, 0, 0, 0, B.frame[i][6], 0x40, 0xF0, 0x00);
	ck_assert_uint_eq(B.waited_ms, EMU_PIN_DEFAULT_TIMEOUT_S * 1000);  /* bTimeOut 0: default */
	emu_ccid_set_keypad(c, "12");                 /* too few digits: never validated */
	i = secure(c, VERIFY_4_ASCII, sizeof(VERIFY_4_ASCII));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_PIN_TIMEOUT, 0);
	/* an abort during the wait ends it with "aborted" */
	emu_ccid_set_keypad(c, "");
	B.wait_limit_ms = B.waited_ms + 1000;
	i = secure(c, VERIFY_4_ASCII, sizeof(VERIFY_4_ASCII));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0);
	ck_assert_uint_eq(t->transmits, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(secure_structure_checked)
{
	emu_ccid *c = reader("pinpad");
	insert(c, 0);
	power_on(c, 0);
	uint8_t m[sizeof(VERIFY_4_ASCII)];
	/* Lc that disagrees with the template: offset of Lc (10 + 15 + 4) */
	memcpy(m, VERIFY_4_ASCII, sizeof(m));
	m[19] = 0x05;
	emu_ccid_set_keypad(c, "1234");
	unsigned i = secure(c, m, sizeof(m));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, 29, 0);
	/* a 8-byte block does not fit 4 data bytes: offset of bmPINBlockString */
	memcpy(m, VERIFY_4_ASCII, sizeof(m));
	m[3] = 0x08;
	i = secure(c, m, sizeof(m));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, 13, 0);
	/* min > max */
	memcpy(m, VERIFY_4_ASCII, sizeof(m));
	m[6] = 0x05;
	i = secure(c, m, sizeof(m));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, 15, 0);
	/* bPINOperation 4 (cancel) is not offered */
	memcpy(m, VERIFY_4_ASCII, sizeof(m));
	m[0] = 0x04;
	i = secure(c, m, sizeof(m));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, 10, 0);
	/* truncated structure */
	i = secure(c, VERIFY_4_ASCII, 9);
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_BAD_LENGTH, 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(secure_modify_and_bcd_formats)
{
	/* modify: current + new + confirmation, ASCII, old at 0, new at 8 */
	emu_ccid *c = reader("pinpad");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	static const uint8_t modify[] = {
		CCID_SECURE_PIN_MODIFY, 0x00, 0x82, 0x08, 0x00, 0x00, 0x08, 0x08, 0x04, 0x03, 0x02,
		0x03, 0x09, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00,
		0x00, 0x24, 0x00, 0x80, 0x10,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	emu_ccid_set_keypad(c, "1234,56789,56789");
	secure(c, modify, sizeof(modify));
	expect_bytes(t->last_cmd, t->last_cmd_len,
		     BYTES(0x00, 0x24, 0x00, 0x80, 0x10, '1', '2', '3', '4', 0xFF, 0xFF, 0xFF, 0xFF,
			   '5', '6', '7', '8', '9', 0xFF, 0xFF, 0xFF));
	/* a confirmation that differs is refused before the card sees anything */
	emu_ccid_set_keypad(c, "1234,56789,56780");
	unsigned i = secure(c, modify, sizeof(modify));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_PIN_CANCELLED, 0);
	ck_assert_uint_eq(t->transmits, 1);
	emu_ccid_free(c);

	/* ISO 9564 format 2 with BCD digits and a 4-bit length at bit 4 */
	emu_pin_request r;
	static const uint8_t fmt2[] = {
		CCID_SECURE_PIN_VERIFY, 0x00, 0x89, 0x47, 0x04, 0x0C, 0x04, 0x02, 0x00, 0x09, 0x04, 0x00,
		0x00, 0x00, 0x00,
		0x00, 0x20, 0x00, 0x01, 0x08, 0x20, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
	};
	ck_assert_uint_eq(emu_pin_parse(fmt2, sizeof(fmt2), &r), 0);
	uint8_t out[sizeof(fmt2)];
	ck_assert_int_eq(emu_pin_build(&r, NULL, 0, "12345", 5, out), 0);
	expect_bytes(out, 13, BYTES(0x00, 0x20, 0x00, 0x01, 0x08, 0x25, 0x12, 0x34, 0x5F, 0xFF, 0xFF, 0xFF, 0xFF));
	/* right-justified binary digits in a 6-byte block */
	static const uint8_t right[] = {
		CCID_SECURE_PIN_VERIFY, 0x00, 0x84, 0x06, 0x00, 0x06, 0x04, 0x02, 0x00, 0x09, 0x04, 0x00,
		0x00, 0x00, 0x00,
		0x00, 0x20, 0x00, 0x01, 0x06, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	ck_assert_uint_eq(emu_pin_parse(right, sizeof(right), &r), 0);
	ck_assert_int_eq(emu_pin_build(&r, NULL, 0, "9876", 4, out), 0);
	expect_bytes(out, 11, BYTES(0x00, 0x20, 0x00, 0x01, 0x06, 0x00, 0x00, 0x09, 0x08, 0x07, 0x06));
	/* out-of-range PINs are refused by the builder */
	ck_assert_int_eq(emu_pin_build(&r, NULL, 0, "123", 3, out), -1);
	ck_assert_int_eq(emu_pin_build(&r, NULL, 0, "12a4", 4, out), -1);
}
END_TEST

/* ---- abort ------------------------------------------------------------------------- */

START_TEST(abort_request_and_message_pair)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	ck_assert_int_eq(emu_ccid_control(c, 0x21, CCID_REQ_ABORT, 0x3000, 0, NULL, 0), 0);
	/* until the matching PC_to_RDR_Abort, the slot only answers "aborted" */
	unsigned i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0);
	ck_assert_uint_eq(t->transmits, 0);
	seq_no = 0x31;
	i = send_msg(c, PC_TO_RDR_ABORT, 0, 0, 0, 0, NULL, 0);      /* bSeq 0x31: not the one */
	expect_header(i, 0x81, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0);
	seq_no = 0x30;
	i = send_msg(c, PC_TO_RDR_ABORT, 0, 0, 0, 0, NULL, 0);
	EXPECT_FRAME(i, 0x81, 0, 0, 0, 0, 0x00, 0x30, 0x00, 0x00, 0x00);
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	/* an Abort message nobody asked for */
	i = send_msg(c, PC_TO_RDR_ABORT, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_NOT_SUPPORTED, 0);
	/* class requests: bad slot, unknown request, rates/clocks not listed (STALL) */
	ck_assert_int_eq(emu_ccid_control(c, 0x21, CCID_REQ_ABORT, 0x0001, 0, NULL, 0), -1);
	ck_assert_int_eq(emu_ccid_control(c, 0x21, 0x09, 0, 0, NULL, 0), -1);
	uint8_t buf[16];
	ck_assert_int_eq(emu_ccid_control(c, 0xA1, CCID_REQ_GET_CLOCK_FREQUENCIES, 0, 0, buf, sizeof(buf)), -1);
	ck_assert_int_eq(emu_ccid_control(c, 0xA1, CCID_REQ_GET_DATA_RATES, 0, 0, buf, sizeof(buf)), -1);
	emu_ccid_free(c);
}
END_TEST

/* A command that comes while the reader is busy: CMD_SLOT_BUSY at once. */
static unsigned busy_msg(emu_ccid *c, uint8_t type, uint8_t slot, uint8_t seq, bool *answered)
{
	uint8_t msg[CCID_HEADER_LEN] = { type, 0, 0, 0, 0, slot, seq };
	unsigned first = B.nframes;
	*answered = emu_ccid_answer_busy(c, msg, sizeof(msg));
	return first;
}

START_TEST(busy_answer_is_slot_busy_at_once)
{
	emu_ccid *c = reader("multi-slot");
	bool answered = false;
	/* empty slots: SlotStatus, ICC absent */
	unsigned i = busy_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0x51, &answered);
	ck_assert(answered);
	EXPECT_FRAME(i, 0x81, 0, 0, 0, 0, 0x00, 0x51, CCID_CMD_FAILED | CCID_ICC_ABSENT,
		     CCID_ERR_CMD_SLOT_BUSY, 0x00);
	/* the status is the slot's own: slot 0 powered, slot 1 inserted only */
	insert(c, 0);
	insert(c, 1);
	power_on(c, 0);
	i = busy_msg(c, PC_TO_RDR_XFR_BLOCK, 0, 0x52, &answered);
	ck_assert(answered);
	EXPECT_FRAME(i, 0x80, 0, 0, 0, 0, 0x00, 0x52, CCID_CMD_FAILED | CCID_ICC_PRESENT_ACTIVE,
		     CCID_ERR_CMD_SLOT_BUSY, 0x00);
	i = busy_msg(c, PC_TO_RDR_SET_PARAMETERS, 1, 0x53, &answered);
	ck_assert(answered);
	EXPECT_FRAME(i, 0x82, 0, 0, 0, 0, 0x01, 0x53, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE,
		     CCID_ERR_CMD_SLOT_BUSY, 0x00);
	/* left to the firmware: Abort, a slot that does not exist, a short message */
	unsigned before = B.nframes;
	busy_msg(c, PC_TO_RDR_ABORT, 0, 0x54, &answered);
	ck_assert(!answered);
	busy_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 2, 0x55, &answered);
	ck_assert(!answered);
	const uint8_t shorty[5] = { PC_TO_RDR_GET_SLOT_STATUS };
	ck_assert(!emu_ccid_answer_busy(c, shorty, sizeof(shorty)));
	ck_assert_uint_eq(B.nframes, before);
	/* frame faults are the firmware's: a busy answer is never altered */
	emu_ccid_inject(c, EMU_FAULT_WRONG_SEQ, 1);
	i = busy_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0x56, &answered);
	ck_assert_uint_eq(B.frame[i][CCID_OFF_SEQ], 0x56);
	emu_ccid_free(c);
}
END_TEST

/* env.card_out: every card that leaves for good, once, powered off. */
static emu_card *cards_out[8];
static unsigned ncards_out;

static void env_card_out(void *user, emu_card *card)
{
	(void)user;
	ck_assert_uint_lt(ncards_out, 8);
	cards_out[ncards_out++] = card;
}

START_TEST(cards_leaving_go_to_card_out)
{
	memset(&B, 0, sizeof(B));
	B.wait_limit_ms = ULONG_MAX;
	ncards_out = 0;
	emu_ccid_env env = ENV;
	env.card_out = env_card_out;
	emu_ccid *c = emu_ccid_new(emu_profile_find("multi-slot"), &env);
	ck_assert_ptr_nonnull(c);
	tcard *a = insert(c, 0), *b = insert(c, 1);
	power_on(c, 0);
	unsigned before = destroyed;
	tcard *a2 = insert(c, 0);                     /* replaced: a leaves */
	ck_assert_uint_eq(ncards_out, 1);
	ck_assert_ptr_eq(cards_out[0], &a->base);
	ck_assert_uint_eq(a->power_offs, 1);          /* deactivated before it goes */
	emu_ccid_remove(c, 1);                        /* removed: b leaves */
	ck_assert_uint_eq(ncards_out, 2);
	ck_assert_ptr_eq(cards_out[1], &b->base);
	emu_ccid_take_out_cards(c);                   /* the end: a2 leaves */
	ck_assert_uint_eq(ncards_out, 3);
	ck_assert_ptr_eq(cards_out[2], &a2->base);
	ck_assert(!emu_ccid_card_present(c, 0) && !emu_ccid_card_present(c, 1));
	ck_assert_uint_eq(destroyed, before);         /* card_out owns them now */
	emu_ccid_free(c);
	ck_assert_uint_eq(destroyed, before);         /* nothing left to free twice */
	for (unsigned i = 0; i < ncards_out; i++)
		emu_card_destroy(cards_out[i]);
	ck_assert_uint_eq(destroyed, before + 3);
}
END_TEST

START_TEST(power_loss_deactivates_every_slot)
{
	emu_ccid *c = reader("multi-slot");
	tcard *t0 = insert(c, 0);
	tcard *t1 = insert(c, 1);
	power_on(c, 0);
	power_on(c, 1);
	ck_assert_int_eq(emu_ccid_control(c, 0x21, CCID_REQ_ABORT, 0x0900, 0, NULL, 0), 0);
	emu_ccid_set_card_delay(c, 0, 700);
	unsigned nintr = B.nintr;
	emu_ccid_power_loss(c);
	ck_assert_uint_eq(t0->power_offs, 1);
	ck_assert_uint_eq(t1->power_offs, 1);
	ck_assert_uint_eq(B.nintr, nintr);          /* the device is off: no notification */
	ck_assert(emu_ccid_card_present(c, 0) && emu_ccid_card_present(c, 1));
	/* inactive, and the pending Abort went with the power: no CMD_ABORTED */
	unsigned i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_PRESENT_INACTIVE, 0, 0);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 1, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 1, CCID_ICC_PRESENT_INACTIVE, 0, 0);
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED | CCID_ICC_PRESENT_INACTIVE, CCID_ERR_ICC_MUTE, 0);
	ck_assert_uint_eq(t0->transmits, 0);
	/* a cold start: power-on, not a warm reset; the card delay is a test setting and stays */
	i = power_on(c, 0);
	expect_header(i, 0x80, sizeof(MYNUMBER_ATR), 0, CCID_ICC_PRESENT_ACTIVE, 0, 0);
	ck_assert_uint_eq(t0->power_ons, 2);
	ck_assert_uint_eq(t0->warm_resets, 0);
	B.waited_ms = 0;
	t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	ck_assert_uint_eq(B.waited_ms, 700);
	emu_ccid_free(c);
}
END_TEST

/* ---- faults -------------------------------------------------------------------------- */

START_TEST(frame_faults)
{
	emu_ccid *c = reader("tpdu-t1");
	insert(c, 0);
	emu_ccid_inject(c, EMU_FAULT_SHORT_FRAME, 1);
	unsigned i = power_on(c, 0);
	ck_assert_uint_eq(B.frame_len[i], 10 + 19 / 2);            /* cut inside the ATR */
	ck_assert_uint_eq(B.frame[i][1], 19);                       /* dwLength still says 19 */
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	ck_assert_uint_eq(B.frame_len[i], 10);                      /* one response only */

	emu_ccid_inject(c, EMU_FAULT_WRONG_SEQ, 2);
	for (unsigned k = 0; k < 3; k++) {
		i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
		ck_assert_uint_eq(B.frame[i][6], (uint8_t)(seq_no - 1 + (k < 2 ? 1 : 0)));
	}
	emu_ccid_inject(c, EMU_FAULT_OVERSIZED_LENGTH, 1);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	ck_assert_uint_eq(B.frame_len[i], 10);
	ck_assert_uint_eq(B.frame[i][1] | B.frame[i][2] << 8, 272);

	emu_ccid_inject(c, EMU_FAULT_BAD_SLOT, 1);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	ck_assert_uint_eq(B.frame[i][5], 1);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	ck_assert_uint_eq(B.frame[i][5], 0);
	emu_ccid_free(c);
}
END_TEST

START_TEST(card_faults)
{
	emu_ccid *c = reader("tpdu-t1");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	/* mute: the next card operation gets no answer */
	emu_ccid_inject(c, EMU_FAULT_MUTE, 1);
	unsigned i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_header(i, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_ICC_MUTE, 0);
	/* T=1 garbage until cleared: bad LRC, then a PCB no block has */
	emu_ccid_inject(c, EMU_FAULT_T1_GARBAGE, 0);
	i = t1_send(c, T1_S_BLOCK | T1_S_RESYNCH, NULL, 0);
	ck_assert_uint_ne(emu_t1_lrc(payload(i), B.frame_len[i] - 10), 0);
	i = t1_send(c, T1_S_BLOCK | T1_S_RESYNCH, NULL, 0);
	ck_assert_uint_eq(payload(i)[1], 0xBF);
	emu_ccid_inject(c, EMU_FAULT_NONE, 0);
	i = t1_send(c, T1_S_BLOCK | T1_S_RESYNCH, NULL, 0);
	expect_bytes(payload(i), 4, BYTES(0x00, 0xE0, 0x00, 0xE0));
	/* hardware error: interrupt message now, the next command fails with 0xFB */
	emu_ccid_inject(c, EMU_FAULT_HARDWARE_ERROR, 1);
	ck_assert_uint_eq(B.nintr, 2);     /* [0] was the insertion */
	expect_bytes(B.intr[1], B.intr_len[1], BYTES(0x51, 0x00, (uint8_t)(seq_no - 1), 0x01));
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_CMD_FAILED, CCID_ERR_HW_ERROR, 0);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, 0, 0, 0);
	/* endless time extension: 0x80 frames until the wait is aborted */
	emu_ccid_inject(c, EMU_FAULT_ENDLESS_TIME_EXTENSION, 0);
	B.wait_limit_ms = B.waited_ms + 2000;
	unsigned first = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	ck_assert_uint_eq(B.nframes - first, 6);      /* 5 x (TE + 500 ms wait) until 2 s, then the error */
	for (unsigned k = 0; k < 5; k++)
		expect_header(first + k, 0x80, 0, 0, CCID_CMD_TIME_EXTENSION, 1, 0);
	expect_header(first + 5, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0);
	ck_assert_uint_eq(t->transmits, 0);
	emu_ccid_inject(c, EMU_FAULT_NONE, 0);
	B.wait_limit_ms = ULONG_MAX;
	i = t1_send(c, 0x00, SELECT_MF, sizeof(SELECT_MF));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	emu_ccid_free(c);
}
END_TEST

/* emu_ccid_abort_wait() from another thread ends a real wait (no wait_ms callback). */
static pthread_mutex_t rt_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rt_cond = PTHREAD_COND_INITIALIZER;
static unsigned rt_frames;

static void rt_bulk_in(void *user, const uint8_t *frame, size_t len)
{
	env_bulk_in(user, frame, len);
	pthread_mutex_lock(&rt_lock);
	rt_frames++;
	pthread_cond_broadcast(&rt_cond);
	pthread_mutex_unlock(&rt_lock);
}

static void *aborter(void *arg)
{
	pthread_mutex_lock(&rt_lock);
	while (rt_frames == 0)      /* the first time-extension frame is out: a wait is on */
		pthread_cond_wait(&rt_cond, &rt_lock);
	pthread_mutex_unlock(&rt_lock);
	emu_ccid_abort_wait(arg);
	return NULL;
}

START_TEST(abort_wait_from_another_thread)
{
	memset(&B, 0, sizeof(B));
	const emu_ccid_env env = { &B, rt_bulk_in, env_interrupt_in, NULL, NULL };
	emu_ccid *c = emu_ccid_new(emu_profile_find("extended-apdu"), &env);
	ck_assert_ptr_nonnull(c);
	tcard *t = insert(c, 0);
	t->base.ops = &TC_OPS_INTERRUPTIBLE;
	tc_interrupts = 0;
	power_on(c, 0);
	emu_ccid_inject(c, EMU_FAULT_ENDLESS_TIME_EXTENSION, 0);
	rt_frames = 0;
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, aborter, c), 0);
	unsigned first = xfr(c, 0, 0, SELECT_MF, sizeof(SELECT_MF));
	pthread_join(th, NULL);
	ck_assert_uint_ge(B.nframes - first, 2);
	expect_header(first, 0x80, 0, 0, CCID_CMD_TIME_EXTENSION, 1, 0);
	expect_header(LAST, 0x80, 0, 0, CCID_CMD_FAILED, CCID_ERR_CMD_ABORTED, 0);
	/* the card's own wait was interrupted too, once */
	ck_assert_uint_eq(__atomic_load_n(&tc_interrupts, __ATOMIC_SEQ_CST), 1);
	/* an abort outside a command is ignored (the card is not touched): the
	 * next one runs normally */
	emu_ccid_abort_wait(c);
	ck_assert_uint_eq(__atomic_load_n(&tc_interrupts, __ATOMIC_SEQ_CST), 1);
	emu_ccid_inject(c, EMU_FAULT_NONE, 0);
	unsigned i = xfr(c, 0, 0, SELECT_MF, sizeof(SELECT_MF));
	EXPECT_FRAME(i, 0x80, 2, 0, 0, 0, 0, B.frame[i][6], 0x00, 0x00, 0x00, 0x90, 0x00);
	emu_ccid_free(c);
}
END_TEST

/* ---- slot changes ------------------------------------------------------------------------ */

START_TEST(notify_slot_change_bits)
{
	emu_ccid *c = reader("tpdu-t1");
	insert(c, 0);
	expect_bytes(B.intr[0], B.intr_len[0], BYTES(0x50, 0x03));
	power_on(c, 0);
	emu_ccid_remove(c, 0);
	expect_bytes(B.intr[1], B.intr_len[1], BYTES(0x50, 0x02));
	ck_assert(!emu_ccid_card_present(c, 0));
	unsigned i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_ABSENT, 0, 0);
	emu_ccid_free(c);

	c = reader("multi-slot");
	insert(c, 0);
	expect_bytes(B.intr[0], B.intr_len[0], BYTES(0x50, 0x03));
	insert(c, 1);                                 /* slot 0 present, slot 1 present + changed */
	expect_bytes(B.intr[1], B.intr_len[1], BYTES(0x50, 0x0D));
	emu_ccid_remove(c, 0);                        /* slot 0 changed to absent, slot 1 present */
	expect_bytes(B.intr[2], B.intr_len[2], BYTES(0x50, 0x06));
	/* slot 1 answers on its own: contactless pseudo-ATR */
	i = power_on(c, 1);
	expect_header(i, 0x80, 13, 1, 0, 0, 0);
	ck_assert_uint_eq(payload(i)[1], 0x88);
	i = send_msg(c, PC_TO_RDR_GET_SLOT_STATUS, 0, 0, 0, 0, NULL, 0);
	expect_header(i, 0x81, 0, 0, CCID_ICC_ABSENT, 0, 0);
	/* replacing a card destroys the old one */
	unsigned before = destroyed;
	insert(c, 1);
	ck_assert_uint_eq(destroyed, before + 1);
	emu_ccid_free(c);
}
END_TEST

START_TEST(scm_firmware_accepts_271_byte_blocks)
{
	/* libccid sends T=1 blocks of IFSC 251 to SCM readers although they say 263 */
	emu_ccid *c = reader("multi-slot");
	tcard *t = insert(c, 0);
	power_on(c, 0);
	uint8_t inf[251];
	memset(inf, 0x5A, sizeof(inf));
	inf[4] = 246;
	unsigned i = t1_send(c, 0x00, inf, sizeof(inf));
	expect_bytes(payload(i), 6, BYTES(0x00, 0x00, 0x02, 0x90, 0x00, 0x92));
	ck_assert_uint_eq(t->last_cmd_len, 251);
	emu_ccid_free(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("emu-ccid");
	TCase *tc = tcase_create("firmware");
	tcase_add_test(tc, profiles_are_the_real_readers);
	tcase_add_test(tc, slot_status_absent_present_active);
	tcase_add_test(tc, power_on_contact_atr_frame);
	tcase_add_test(tc, power_on_atr_per_profile_and_slot);
	tcase_add_test(tc, power_on_absent_and_mute);
	tcase_add_test(tc, pseudo_atr_type_b_and_tck);
	tcase_add_test(tc, atr_parser_reads_ifsc_and_rejects_broken_atrs);
	tcase_add_test(tc, bad_slot_is_error_5);
	tcase_add_test(tc, bad_dwlength_is_error_1);
	tcase_add_test(tc, unsupported_and_unknown_commands);
	tcase_add_test(tc, escape_firmware_version);
	tcase_add_test(tc, get_set_reset_parameters);
	tcase_add_test(tc, t1_i_block_exchange);
	tcase_add_test(tc, t1_chaining_host_to_card);
	tcase_add_test(tc, t1_chaining_card_to_host);
	tcase_add_test(tc, t1_ifs_negotiation);
	tcase_add_test(tc, t1_bad_lrc_gets_r_block);
	tcase_add_test(tc, t1_resynch_and_abort);
	tcase_add_test(tc, t1_wtx_for_a_slow_card);
	tcase_add_test(tc, t1_extended_apdu_over_chaining);
	tcase_add_test(tc, short_apdu_exchange_and_rejects_extended);
	tcase_add_test(tc, contactless_get_uid_answered_by_reader);
	tcase_add_test(tc, extended_apdu_chaining_round_trip);
	tcase_add_test(tc, time_extensions_at_apdu_level);
	tcase_add_test(tc, secure_verify_inserts_pin);
	tcase_add_test(tc, secure_cancel_and_timeout);
	tcase_add_test(tc, secure_structure_checked);
	tcase_add_test(tc, secure_modify_and_bcd_formats);
	tcase_add_test(tc, abort_request_and_message_pair);
	tcase_add_test(tc, busy_answer_is_slot_busy_at_once);
	tcase_add_test(tc, power_loss_deactivates_every_slot);
	tcase_add_test(tc, cards_leaving_go_to_card_out);
	tcase_add_test(tc, frame_faults);
	tcase_add_test(tc, card_faults);
	tcase_add_test(tc, abort_wait_from_another_thread);
	tcase_add_test(tc, notify_slot_change_bits);
	tcase_add_test(tc, scm_firmware_accepts_271_byte_blocks);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

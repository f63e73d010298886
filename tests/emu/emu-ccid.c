/* emu-ccid.c — the emulated reader's firmware: CCID 1.1 command set on top
 * of the cards in its slots (see emu-ccid.h).
 *
 * Written from the CCID 1.1 specification and ISO/IEC 7816-3 as the device
 * side of the wire; it shares nothing with driver/ but the wire constants.
 * Modules: emu-fw-t1 (card side of T=1 at TPDU level), emu-fw-apdu
 * (extended-APDU chaining), emu-fw-keypad (PIN entry), emu-fw-atr.
 */
#include "emu-ccid.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "emu-fw-apdu.h"
#include "emu-fw-atr.h"
#include "emu-fw-keypad.h"
#include "emu-fw-t1.h"

/* Readers with SCM's 263-byte firmware take and send T=1 blocks up to the
 * 271-byte messages of their sibling firmwares: libccid knows and sends
 * them anyway ("SCM reader with bogus firmware?"), so we accept them too. */
#define SCM_BOGUS_MAX_MSG 263
#define SCM_REAL_MAX_MSG 271
/* How often the reader says "still working" while a slow card computes. */
#define TIME_EXTENSION_INTERVAL_MS 500
/* Waits are cut in slices so emu_ccid_abort_wait() is noticed promptly. */
#define WAIT_SLICE_MS 50
#define KEY_PRESS_MS 50
#define KEYPAD_BUF 128
/* bError offset of abData[4] of an XfrBlock: the Lc byte that makes an APDU extended. */
#define ERR_EXTENDED_APDU_OFFSET (CCID_HEADER_LEN + 4)
#define HW_ERROR_OVERCURRENT 0x01

typedef struct emu_slot {
	emu_ccid *ccid;
	unsigned index;
	emu_card *card;
	bool powered;
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len;
	emu_atr_info atr_info;
	uint8_t protocol;          /* 0 = T=0, 1 = T=1 */
	uint8_t params[7];         /* abProtocolDataStructure (5 bytes used for T=0) */
	uint8_t pupi[4];           /* contactless: the PUPI read at activation */
	unsigned delay_ms;
	bool abort_armed;
	uint8_t abort_seq;
	emu_t1 t1;
	emu_xapdu xapdu;
} emu_slot;

struct emu_ccid {
	const emu_profile *p;
	emu_ccid_env env;
	emu_slot slot[EMU_MAX_SLOTS];
	uint32_t max_msg;          /* dwMaxCCIDMessageLength */
	uint32_t accept_msg;       /* longest message accepted and sent */
	uint8_t *out;              /* one RDR_to_PC frame */
	uint8_t *capdu, *rapdu;    /* APDU-level exchanges */
	emu_ccid_fault fault;
	unsigned fault_count;
	char keys[KEYPAD_BUF];
	bool keys_set;             /* the user will type keys[] */
	bool keys_cancel;          /* the user will press Cancel */
	emu_ccid_stats stats;
	unsigned garbage_blocks;   /* blocks corrupted by EMU_FAULT_T1_GARBAGE */
	uint32_t prng;
	uint8_t last_seq;

	pthread_mutex_t lock;      /* guards busy/abort_requested/icc_snapshot, shared with */
	pthread_cond_t cond;       /* abort_wait() and answer_busy() */
	bool busy;
	bool abort_requested;
	uint8_t icc_snapshot[EMU_MAX_SLOTS]; /* bmICCStatus per slot when the last command began */
};

/* ---- small helpers ------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t exchange_level(const emu_ccid *c)
{
	return emu_desc_u32(c->p, CCID_DESC_dwFeatures) & CCID_FEAT_LEVEL_MASK;
}

static size_t max_payload(const emu_ccid *c)
{
	return c->max_msg - CCID_HEADER_LEN;
}

static uint32_t next_random(emu_ccid *c)
{
	uint32_t x = c->prng;      /* xorshift32: deterministic, good enough for a PUPI */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	c->prng = x;
	return x;
}

static uint8_t icc_status(const emu_ccid *c, unsigned slot)
{
	if (slot >= c->p->nslots || !c->slot[slot].card)
		return CCID_ICC_ABSENT;
	return c->slot[slot].powered ? CCID_ICC_PRESENT_ACTIVE : CCID_ICC_PRESENT_INACTIVE;
}

static uint8_t response_type(uint8_t command)
{
	switch (command) {
	case PC_TO_RDR_ICC_POWER_ON:
	case PC_TO_RDR_XFR_BLOCK:
	case PC_TO_RDR_SECURE:
		return RDR_TO_PC_DATA_BLOCK;
	case PC_TO_RDR_GET_PARAMETERS:
	case PC_TO_RDR_RESET_PARAMETERS:
	case PC_TO_RDR_SET_PARAMETERS:
		return RDR_TO_PC_PARAMETERS;
	case PC_TO_RDR_ESCAPE:
		return RDR_TO_PC_ESCAPE;
	case PC_TO_RDR_SET_DATA_RATE_CLOCK:
		return RDR_TO_PC_DATA_RATE_CLOCK;
	default:
		return RDR_TO_PC_SLOT_STATUS;
	}
}

static bool fault_active(const emu_ccid *c, emu_ccid_fault f)
{
	return c->fault == f;
}

/* A counted fault was applied once. */
static void fault_used(emu_ccid *c)
{
	if (c->fault_count > 1)
		c->fault_count--;
	else {
		c->fault = EMU_FAULT_NONE;
		c->fault_count = 0;
	}
}

/* Firmware thread: publish the slots' ICC status for emu_ccid_answer_busy(). */
static void snapshot_icc(emu_ccid *c)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->p->nslots; i++)
		c->icc_snapshot[i] = icc_status(c, i);
	pthread_mutex_unlock(&c->lock);
}

/* ---- waiting ---------------------------------------------------------------- */

static bool take_abort(emu_ccid *c)
{
	pthread_mutex_lock(&c->lock);
	bool aborted = c->abort_requested;
	pthread_mutex_unlock(&c->lock);
	return aborted;
}

/* Let time pass; false if emu_ccid_abort_wait() or the environment cut it short. */
static bool fw_wait(emu_ccid *c, unsigned ms)
{
	if (take_abort(c))
		return false;
	if (c->env.wait_ms) {
		while (ms > 0) {
			unsigned slice = ms < WAIT_SLICE_MS ? ms : WAIT_SLICE_MS;
			if (!c->env.wait_ms(c->env.user, slice) || take_abort(c))
				return false;
			ms -= slice;
		}
		return true;
	}
	struct timespec end;
	clock_gettime(CLOCK_REALTIME, &end);
	end.tv_sec += ms / 1000;
	end.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&c->lock);
	int rc = 0;
	while (!c->abort_requested && rc == 0)
		rc = pthread_cond_timedwait(&c->cond, &c->lock, &end);
	bool completed = !c->abort_requested;
	pthread_mutex_unlock(&c->lock);
	return completed;
}

void emu_ccid_abort_wait(emu_ccid *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->busy) {
		c->abort_requested = true;
		pthread_cond_broadcast(&c->cond);
		/* Cards change only between commands (insert/remove are firmware
		 * jobs of their own), so while busy they stay alive. */
		for (unsigned i = 0; i < c->p->nslots; i++) {
			emu_card *card = c->slot[i].card;
			if (card && card->ops->interrupt)
				card->ops->interrupt(card);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- frames out ------------------------------------------------------------- */

/* Hand a final response to the host, through any frame fault in force. */
static void emit_response(emu_ccid *c, uint8_t *frame, size_t len)
{
	switch (c->fault) {
	case EMU_FAULT_SHORT_FRAME:
		len = len > CCID_HEADER_LEN ? CCID_HEADER_LEN + (len - CCID_HEADER_LEN) / 2 : 7;
		fault_used(c);
		break;
	case EMU_FAULT_WRONG_SEQ:
		frame[CCID_OFF_SEQ] = (uint8_t)(frame[CCID_OFF_SEQ] + 1);
		fault_used(c);
		break;
	case EMU_FAULT_OVERSIZED_LENGTH:
		put_u32(frame + CCID_OFF_LENGTH, c->accept_msg + 1);
		fault_used(c);
		break;
	case EMU_FAULT_BAD_SLOT:
		frame[CCID_OFF_SLOT] = c->p->nslots;
		fault_used(c);
		break;
	default:
		break;
	}
	c->env.bulk_in(c->env.user, frame, len);
}

static size_t build_frame(emu_ccid *c, uint8_t type, const uint8_t *req, uint8_t status,
			  uint8_t error, uint8_t b9, const uint8_t *data, size_t len)
{
	if (len > c->accept_msg - CCID_HEADER_LEN)
		len = c->accept_msg - CCID_HEADER_LEN;   /* callers check; never overrun */
	uint8_t *f = c->out;
	f[CCID_OFF_TYPE] = type;
	put_u32(f + CCID_OFF_LENGTH, (uint32_t)len);
	f[CCID_OFF_SLOT] = req[CCID_OFF_SLOT];
	f[CCID_OFF_SEQ] = req[CCID_OFF_SEQ];
	f[CCID_OFF_STATUS] = status;
	f[CCID_OFF_ERROR] = error;
	f[CCID_OFF_CHAIN] = b9;
	if (len)
		memcpy(f + CCID_HEADER_LEN, data, len);
	return CCID_HEADER_LEN + len;
}

static void respond(emu_ccid *c, uint8_t type, const uint8_t *req, uint8_t error_or_ok,
		    bool failed, uint8_t b9, const uint8_t *data, size_t len)
{
	uint8_t status = icc_status(c, req[CCID_OFF_SLOT]) | (failed ? CCID_CMD_FAILED : CCID_CMD_OK);
	size_t n = build_frame(c, type, req, status, failed ? error_or_ok : 0, b9, data, len);
	emit_response(c, c->out, n);
}

static void ok(emu_ccid *c, const uint8_t *req, uint8_t b9, const uint8_t *data, size_t len)
{
	respond(c, response_type(req[CCID_OFF_TYPE]), req, 0, false, b9, data, len);
}

static void fail(emu_ccid *c, const uint8_t *req, uint8_t error)
{
	respond(c, response_type(req[CCID_OFF_TYPE]), req, error, true, 0, NULL, 0);
}

/* "Still working": bStatus 0x80, bError = BWT multiplier. */
static void time_extension(emu_ccid *c, const uint8_t *req)
{
	uint8_t status = icc_status(c, req[CCID_OFF_SLOT]) | CCID_CMD_TIME_EXTENSION;
	size_t n = build_frame(c, response_type(req[CCID_OFF_TYPE]), req, status, 1, 0, NULL, 0);
	c->stats.time_extensions++;
	c->env.bulk_in(c->env.user, c->out, n);
}

static bool wait_with_time_extensions(emu_ccid *c, const uint8_t *req, unsigned ms)
{
	while (ms > 0) {
		unsigned slice = ms < TIME_EXTENSION_INTERVAL_MS ? ms : TIME_EXTENSION_INTERVAL_MS;
		time_extension(c, req);
		if (!fw_wait(c, slice))
			return false;
		ms -= slice;
	}
	return true;
}

static void notify_slot_change(emu_ccid *c, unsigned changed)
{
	if (!c->p->has_interrupt_ep || !c->env.interrupt_in)
		return;
	uint8_t msg[1 + (EMU_MAX_SLOTS * 2 + 7) / 8] = { RDR_TO_PC_NOTIFY_SLOT_CHANGE };
	for (unsigned i = 0; i < c->p->nslots; i++) {
		if (c->slot[i].card)
			msg[1 + i / 4] |= (uint8_t)(1u << ((i % 4) * 2));
		if (i == changed)
			msg[1 + i / 4] |= (uint8_t)(2u << ((i % 4) * 2));
	}
	c->env.interrupt_in(c->env.user, msg, 1 + (c->p->nslots * 2 + 7) / 8);
}

/* ---- the card ------------------------------------------------------------------ */

static bool is_get_uid(const uint8_t *capdu, size_t len)
{
	return len >= 4 && capdu[0] == 0xFF && capdu[1] == 0xCA;
}

/* PC/SC Part 3 GET DATA, answered by a contactless reader itself. */
static size_t answer_get_uid(const emu_slot *s, const uint8_t *capdu, size_t len, uint8_t *rapdu)
{
	if (len != 5) {
		rapdu[0] = 0x67;
		rapdu[1] = 0x00;
		return 2;
	}
	if (capdu[2] != 0x00 || capdu[3] != 0x00) {
		rapdu[0] = 0x6A;       /* P1 01 (ATS historical bytes): none for Type B */
		rapdu[1] = 0x81;
		return 2;
	}
	if (capdu[4] != 0 && capdu[4] < sizeof(s->pupi)) {
		rapdu[0] = 0x6C;
		rapdu[1] = (uint8_t)sizeof(s->pupi);
		return 2;
	}
	memcpy(rapdu, s->pupi, sizeof(s->pupi));
	rapdu[4] = 0x90;
	rapdu[5] = 0x00;
	return 6;
}

/* One APDU to the card in slot s.  `req` is non-NULL at APDU levels: the
 * reader then sends time extensions while a slow card works. */
static int card_transmit(emu_ccid *c, emu_slot *s, const uint8_t *req,
			 const uint8_t *capdu, size_t len, uint8_t *rapdu, size_t *rlen)
{
	*rlen = 0;
	if (c->p->slot_kind[s->index] == EMU_SLOT_CONTACTLESS && is_get_uid(capdu, len)) {
		*rlen = answer_get_uid(s, capdu, len, rapdu);
		return EMU_T1_OK;
	}
	if (fault_active(c, EMU_FAULT_MUTE)) {
		fault_used(c);
		return EMU_T1_MUTE;
	}
	if (s->delay_ms) {
		bool waited = req ? wait_with_time_extensions(c, req, s->delay_ms) : fw_wait(c, s->delay_ms);
		if (!waited)
			return EMU_T1_ABORTED;
	}
	c->stats.apdus++;
	size_t n = 0;
	if (s->card->ops->transmit(s->card, capdu, len, rapdu, &n) != 0 || n < 2 || n > EMU_RAPDU_MAX)
		return EMU_T1_MUTE;
	*rlen = n;
	return EMU_T1_OK;
}

static unsigned bwt_ms(const emu_ccid *c, const emu_slot *s)
{
	unsigned bwi = s->params[3] >> 4;
	uint32_t khz = emu_desc_u32(c->p, CCID_DESC_dwDefaultClock);
	if (bwi > 9)
		bwi = 9;
	if (khz == 0)
		khz = 4000;
	/* BWT = 2^BWI x 960 x 372 / f (the 11 etu are noise at this scale) */
	return (unsigned)(((1u << bwi) * 960u * 372u) / khz) + 1;
}

static int t1_transmit(void *ctx, const uint8_t *capdu, size_t len, uint8_t *rapdu, size_t *rlen)
{
	emu_slot *s = ctx;
	return card_transmit(s->ccid, s, NULL, capdu, len, rapdu, rlen);
}

static uint8_t t1_wtx_multiplier(void *ctx, unsigned round)
{
	emu_slot *s = ctx;
	unsigned bwt = bwt_ms(s->ccid, s);
	if (round != 0 || s->delay_ms <= bwt)
		return 0;
	unsigned mult = (s->delay_ms + bwt - 1) / bwt;
	s->ccid->stats.time_extensions++;
	return (uint8_t)(mult > 255 ? 255 : mult);
}

static void set_default_parameters(emu_ccid *c, emu_slot *s)
{
	const emu_atr_info *a = &s->atr_info;
	const bool reader_t1 = emu_desc_u32(c->p, CCID_DESC_dwProtocols) & CCID_PROTOCOL_T1;
	s->protocol = (a->offers_t1 && reader_t1) ? 1 : 0;
	memset(s->params, 0, sizeof(s->params));
	s->params[0] = a->ta1;
	s->params[2] = a->tc1;
	if (s->protocol == 1) {
		s->params[1] = a->inverse ? 0x12 : 0x10;
		s->params[3] = a->t1_waiting;
		s->params[5] = a->ifsc;
	} else {
		s->params[1] = a->inverse ? 0x02 : 0x00;
		s->params[3] = 0x0A;   /* WI */
	}
}

static void slot_deactivate(emu_slot *s)
{
	if (s->card && s->powered && s->card->ops->power_off)
		s->card->ops->power_off(s->card);
	s->powered = false;
	s->atr_len = 0;
	emu_xapdu_reset(&s->xapdu);
	emu_t1_reset(&s->t1, T1_DEFAULT_IFS);
}

/* ---- commands ------------------------------------------------------------------ */

static void cmd_power_on(emu_ccid *c, emu_slot *s, const uint8_t *req)
{
	const uint8_t power_select = req[CCID_OFF_SPECIFIC];
	const uint8_t volt = c->p->ccid_desc[CCID_DESC_bVoltageSupport];
	if (power_select > CCID_VOLTAGE_1_8V ||
	    (power_select != CCID_VOLTAGE_AUTO && !(volt & (1u << (power_select - 1)))))
		return fail(c, req, CCID_ERR_BAD_POWERSELECT);
	if (!s->card)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	if (fault_active(c, EMU_FAULT_MUTE)) {
		fault_used(c);
		slot_deactivate(s);
		return fail(c, req, CCID_ERR_ICC_MUTE);
	}

	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0;
	const bool warm = s->powered && s->card->ops->warm_reset;
	int rc = warm ? s->card->ops->warm_reset(s->card, atr, &atr_len)
		      : s->card->ops->power_on(s->card, atr, &atr_len);
	if (rc != 0 || atr_len == 0 || atr_len > ATR_MAX_LEN) {
		s->powered = true;     /* contacts were activated: deactivate them */
		slot_deactivate(s);
		return fail(c, req, CCID_ERR_ICC_MUTE);
	}
	if (c->p->slot_kind[s->index] == EMU_SLOT_CONTACTLESS) {
		atr_len = emu_pseudo_atr_type_b(s->card, atr);
		uint32_t pupi = next_random(c);
		memcpy(s->pupi, &pupi, sizeof(s->pupi));
	}
	if (!emu_atr_parse(atr, atr_len, &s->atr_info)) {
		s->powered = true;
		slot_deactivate(s);
		return fail(c, req, (atr[0] == ATR_TS_DIRECT || atr[0] == ATR_TS_INVERSE)
					    ? CCID_ERR_BAD_ATR_TCK : CCID_ERR_BAD_ATR_TS);
	}
	memcpy(s->atr, atr, atr_len);
	s->atr_len = atr_len;
	s->powered = true;
	set_default_parameters(c, s);
	emu_t1_reset(&s->t1, s->atr_info.ifsc);
	emu_xapdu_reset(&s->xapdu);
	ok(c, req, 0, s->atr, s->atr_len);
}

static void cmd_power_off(emu_ccid *c, emu_slot *s, const uint8_t *req)
{
	slot_deactivate(s);
	ok(c, req, 0, NULL, 0);
}

static void xfr_tpdu_t1(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	const emu_t1_card_if card = { s, t1_transmit, t1_wtx_multiplier };
	uint8_t block[EMU_T1_BLOCK_MAX];
	size_t block_len = 0;
	int rc = emu_t1_host_block(&s->t1, &card, data, len, block, &block_len);
	c->stats.t1_blocks++;
	if (rc == EMU_T1_ABORTED)
		return fail(c, req, CCID_ERR_CMD_ABORTED);
	if (rc != EMU_T1_OK)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	if (fault_active(c, EMU_FAULT_T1_GARBAGE)) {
		/* alternate a broken LRC and a PCB no block type allows (with a good LRC) */
		if (c->garbage_blocks++ % 2 == 0)
			block[block_len - 1] ^= 0x5A;
		else {
			block[1] = 0xBF;
			block[block_len - 1] = emu_t1_lrc(block, block_len - 1);
		}
	}
	c->stats.t1_blocks++;
	ok(c, req, 0, block, block_len);
}

static bool is_extended_apdu(const uint8_t *apdu, size_t len)
{
	return len >= 7 && apdu[4] == 0x00;
}

static void xfr_short_apdu(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	if (len < 4)
		return fail(c, req, CCID_ERR_BAD_LENGTH);
	if (is_extended_apdu(data, len))
		return fail(c, req, ERR_EXTENDED_APDU_OFFSET);
	size_t rlen = 0;
	int rc = card_transmit(c, s, req, data, len, c->rapdu, &rlen);
	if (rc == EMU_T1_ABORTED)
		return fail(c, req, CCID_ERR_CMD_ABORTED);
	if (rc != EMU_T1_OK)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	if (rlen > max_payload(c))
		return fail(c, req, CCID_ERR_XFR_OVERRUN);
	ok(c, req, 0, c->rapdu, rlen);
}

static void send_next_piece(emu_ccid *c, emu_slot *s, const uint8_t *req)
{
	const uint8_t *piece;
	size_t piece_len;
	uint8_t chain;
	emu_xapdu_next_piece(&s->xapdu, max_payload(c), &piece, &piece_len, &chain);
	ok(c, req, chain, piece, piece_len);
}

static void xfr_extended_apdu(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	const uint16_t level = (uint16_t)(req[8] | req[9] << 8);
	switch (emu_xapdu_command(&s->xapdu, level, data, len)) {
	case EMU_XAPDU_NEED_MORE:
		return ok(c, req, CCID_CHAIN_EMPTY_NEXT, NULL, 0);
	case EMU_XAPDU_BAD_LEVEL:
		return fail(c, req, CCID_ERR_BAD_LEVEL_PARAMETER);
	case EMU_XAPDU_TOO_LONG:
		return fail(c, req, CCID_ERR_XFR_OVERRUN);
	case EMU_XAPDU_SEND_MORE:
		return send_next_piece(c, s, req);
	case EMU_XAPDU_COMPLETE:
		break;
	}
	if (s->xapdu.cmd_len < 4) {
		emu_xapdu_reset(&s->xapdu);
		return fail(c, req, CCID_ERR_BAD_LENGTH);
	}
	size_t rlen = 0;
	int rc = card_transmit(c, s, req, s->xapdu.cmd, s->xapdu.cmd_len, s->xapdu.resp, &rlen);
	if (rc != EMU_T1_OK) {
		explicit_bzero(s->xapdu.cmd, s->xapdu.cmd_len);
		emu_xapdu_reset(&s->xapdu);
		return fail(c, req, rc == EMU_T1_ABORTED ? CCID_ERR_CMD_ABORTED : CCID_ERR_ICC_MUTE);
	}
	explicit_bzero(s->xapdu.cmd, s->xapdu.cmd_len);   /* it may have carried a PIN */
	emu_xapdu_set_response(&s->xapdu, rlen);
	send_next_piece(c, s, req);
}

/* Fault: the reader keeps saying "time extension" until the host aborts. */
static void endless_time_extension(emu_ccid *c, const uint8_t *req)
{
	do
		time_extension(c, req);
	while (fw_wait(c, TIME_EXTENSION_INTERVAL_MS));
	fail(c, req, CCID_ERR_CMD_ABORTED);
}

static void cmd_xfr_block(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	if (!s->card || !s->powered)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	if (fault_active(c, EMU_FAULT_ENDLESS_TIME_EXTENSION))
		return endless_time_extension(c, req);
	switch (exchange_level(c)) {
	case CCID_FEAT_LEVEL_TPDU:
		if (s->protocol != 1)
			return fail(c, req, CCID_ERR_ICC_PROTOCOL_NOT_SUPPORTED);
		return xfr_tpdu_t1(c, s, req, data, len);
	case CCID_FEAT_LEVEL_SHORT_APDU:
		return xfr_short_apdu(c, s, req, data, len);
	case CCID_FEAT_LEVEL_EXTENDED_APDU:
		return xfr_extended_apdu(c, s, req, data, len);
	default:
		return fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	}
}

static void send_parameters(emu_ccid *c, emu_slot *s, const uint8_t *req)
{
	ok(c, req, s->protocol, s->params, s->protocol == 1 ? 7 : 5);
}

static bool valid_fi_di(uint8_t fidi)
{
	const unsigned fi = fidi >> 4, di = fidi & 0x0F;
	const bool fi_ok = fi <= 6 || (fi >= 9 && fi <= 13);
	const bool di_ok = di >= 1 && di <= 9;
	return fi_ok && di_ok;
}

/* 0, or the message offset of the first unacceptable parameter byte. */
static uint8_t check_parameters(uint8_t protocol, const uint8_t *p)
{
	const uint8_t at = CCID_HEADER_LEN;
	if (!valid_fi_di(p[0]))
		return at;
	if (protocol == 1) {
		if (p[1] != 0x10 && p[1] != 0x12)   /* LRC only, either convention */
			return at + 1;
		if ((p[3] >> 4) > 9)
			return at + 3;
		if (p[4] > 3)
			return at + 4;
		if (p[5] == 0x00 || p[5] == 0xFF)
			return at + 5;
		if (p[6] != 0)
			return at + 6;
		return 0;
	}
	if (p[1] != 0x00 && p[1] != 0x02)
		return at + 1;
	if (p[3] == 0)
		return at + 3;
	if (p[4] > 3)
		return at + 4;
	return 0;
}

static void cmd_parameters(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	if (!s->card)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	switch (req[CCID_OFF_TYPE]) {
	case PC_TO_RDR_GET_PARAMETERS:
		return send_parameters(c, s, req);
	case PC_TO_RDR_RESET_PARAMETERS:
		set_default_parameters(c, s);
		return send_parameters(c, s, req);
	default:
		break;
	}
	const uint8_t protocol = req[CCID_OFF_SPECIFIC];
	const uint32_t reader_protocols = emu_desc_u32(c->p, CCID_DESC_dwProtocols);
	const bool card_ok = !s->powered || (protocol == 1 ? s->atr_info.offers_t1 : s->atr_info.offers_t0);
	if (protocol > 1 || !(reader_protocols & (1u << protocol)) || !card_ok)
		return fail(c, req, CCID_OFF_SPECIFIC);
	if (len != (protocol == 1 ? 7u : 5u))
		return fail(c, req, CCID_ERR_BAD_LENGTH);
	uint8_t bad = check_parameters(protocol, data);
	if (bad)
		return fail(c, req, bad);
	s->protocol = protocol;
	memset(s->params, 0, sizeof(s->params));
	memcpy(s->params, data, len);
	send_parameters(c, s, req);
}

/* A vendor escape a real ACS reader answers: E0 00 00 18 00 = firmware version. */
static void cmd_escape(emu_ccid *c, const uint8_t *req, const uint8_t *data, size_t len)
{
	static const uint8_t get_firmware[] = { 0xE0, 0x00, 0x00, 0x18, 0x00 };
	if (len != sizeof(get_firmware) || memcmp(data, get_firmware, len) != 0)
		return fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	uint8_t answer[64] = { 0xE1, 0x00, 0x00, 0x00 };
	int n = snprintf((char *)answer + 5, sizeof(answer) - 5, "%s %x.%02x",
			 c->p->product ? c->p->product : "CCID",
			 c->p->bcd_device >> 8, c->p->bcd_device & 0xFF);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(answer) - 6)
		n = (int)(sizeof(answer) - 6);
	answer[4] = (uint8_t)n;
	ok(c, req, 0, answer, 5 + (size_t)n);
}

/* ---- Secure (PIN pad) ------------------------------------------------------------ */

typedef struct keypad_entries {
	char buf[KEYPAD_BUF];
	const char *entry[3];
	size_t len[3];
	unsigned count;
	unsigned digits;
} keypad_entries;

/* Split what the user types into entries ended by OK (','). */
static void read_keypad(emu_ccid *c, keypad_entries *k, uint8_t max_digits)
{
	memset(k, 0, sizeof(*k));
	if (!c->keys_set)
		return;
	memcpy(k->buf, c->keys, sizeof(k->buf));
	char *p = k->buf;
	while (*p && k->count < 3) {
		char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		k->entry[k->count] = p;
		/* the keypad takes no more than the maximum number of digits */
		k->len[k->count] = n > max_digits ? max_digits : n;
		k->digits += (unsigned)k->len[k->count];
		k->count++;
		if (!end)
			break;
		p = end + 1;
	}
}

static void wipe_keypad(emu_ccid *c)
{
	explicit_bzero(c->keys, sizeof(c->keys));
	c->keys_set = c->keys_cancel = false;
}

static bool entry_complete(const emu_pin_request *r, const keypad_entries *k, unsigned i)
{
	if (k->len[i] < r->min_digits)
		return false;
	for (size_t j = 0; j < k->len[i]; j++)
		if (k->entry[i][j] < '0' || k->entry[i][j] > '9')
			return false;
	return true;
}

/* The APDU with the PIN(s) goes to the card like any other command. */
static void secure_send(emu_ccid *c, emu_slot *s, const uint8_t *req, const emu_pin_request *r,
			const uint8_t *apdu)
{
	if (exchange_level(c) == CCID_FEAT_LEVEL_TPDU) {
		/* the reader wraps the APDU in the I-block the host prepared */
		uint8_t block[EMU_T1_BLOCK_MAX];
		size_t block_len = emu_t1_build(r->teo_prologue[0], r->teo_prologue[1], apdu,
						r->apdu_len, block);
		xfr_tpdu_t1(c, s, req, block, block_len);
		explicit_bzero(block, sizeof(block));
		return;
	}
	size_t rlen = 0;
	int rc = card_transmit(c, s, req, apdu, r->apdu_len, c->rapdu, &rlen);
	if (rc != EMU_T1_OK)
		return fail(c, req, rc == EMU_T1_ABORTED ? CCID_ERR_CMD_ABORTED : CCID_ERR_ICC_MUTE);
	if (rlen > max_payload(c))
		return fail(c, req, CCID_ERR_XFR_OVERRUN);
	ok(c, req, 0, c->rapdu, rlen);
}

static void cmd_secure(emu_ccid *c, emu_slot *s, const uint8_t *req, const uint8_t *data, size_t len)
{
	const uint8_t support = c->p->ccid_desc[CCID_DESC_bPINSupport];
	if (!support)
		return fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	if (!s->card || !s->powered)
		return fail(c, req, CCID_ERR_ICC_MUTE);
	if (len < 1 || (data[0] == CCID_SECURE_PIN_VERIFY && !(support & CCID_PIN_VERIFY)) ||
	    (data[0] == CCID_SECURE_PIN_MODIFY && !(support & CCID_PIN_MODIFY)) ||
	    data[0] > CCID_SECURE_PIN_MODIFY)
		return fail(c, req, len < 1 ? CCID_ERR_BAD_LENGTH : CCID_HEADER_LEN);
	emu_pin_request r;
	unsigned bad = emu_pin_parse(data, len, &r);
	if (bad)
		return fail(c, req, (uint8_t)(bad > 127 ? CCID_ERR_BAD_LENGTH : bad));
	if (exchange_level(c) == CCID_FEAT_LEVEL_TPDU && r.apdu_len > s->t1.ifsc)
		return fail(c, req, (uint8_t)(r.apdu_msg_offset + 4 > 127 ? CCID_ERR_BAD_LENGTH : r.apdu_msg_offset + 4));
	if (fault_active(c, EMU_FAULT_ENDLESS_TIME_EXTENSION))
		return endless_time_extension(c, req);

	if (c->keys_cancel) {
		wipe_keypad(c);
		if (!fw_wait(c, KEY_PRESS_MS))
			return fail(c, req, CCID_ERR_CMD_ABORTED);
		return fail(c, req, CCID_ERR_PIN_CANCELLED);
	}
	keypad_entries k;
	read_keypad(c, &k, r.max_digits);
	wipe_keypad(c);
	const unsigned needed = emu_pin_entries_needed(&r);
	bool complete = k.count >= needed;
	for (unsigned i = 0; complete && i < needed; i++)
		complete = entry_complete(&r, &k, i);
	if (!complete) {
		/* the user stops typing: the entry times out */
		explicit_bzero(&k, sizeof(k));
		if (!fw_wait(c, r.timeout_s * 1000u))
			return fail(c, req, CCID_ERR_CMD_ABORTED);
		return fail(c, req, CCID_ERR_PIN_TIMEOUT);
	}
	if (!fw_wait(c, KEY_PRESS_MS * (k.digits + k.count))) {
		explicit_bzero(&k, sizeof(k));
		return fail(c, req, CCID_ERR_CMD_ABORTED);
	}
	/* entries: verify = PIN; modify = [current], new, [confirmation] */
	const unsigned new_i = (r.modify && (r.confirm & 0x02)) ? 1 : 0;
	if (r.modify && (r.confirm & 0x01) &&
	    (k.len[new_i] != k.len[new_i + 1] || memcmp(k.entry[new_i], k.entry[new_i + 1], k.len[new_i]) != 0)) {
		explicit_bzero(&k, sizeof(k));
		return fail(c, req, CCID_ERR_PIN_CANCELLED);   /* confirmation differs: entry refused */
	}
	int built = emu_pin_build(&r, k.entry[0], k.len[0], k.entry[new_i], k.len[new_i], c->capdu);
	explicit_bzero(&k, sizeof(k));
	if (built != 0)
		return fail(c, req, CCID_ERR_PIN_TIMEOUT);
	secure_send(c, s, req, &r, c->capdu);
	explicit_bzero(c->capdu, r.apdu_len);
}

static void cmd_abort(emu_ccid *c, emu_slot *s, const uint8_t *req)
{
	if (!s->abort_armed)
		return fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	if (s->abort_seq != req[CCID_OFF_SEQ])
		return fail(c, req, CCID_ERR_CMD_ABORTED);
	s->abort_armed = false;
	ok(c, req, 0, NULL, 0);
}

static bool known_command(uint8_t type)
{
	switch (type) {
	case PC_TO_RDR_ICC_POWER_ON: case PC_TO_RDR_ICC_POWER_OFF:
	case PC_TO_RDR_GET_SLOT_STATUS: case PC_TO_RDR_XFR_BLOCK:
	case PC_TO_RDR_GET_PARAMETERS: case PC_TO_RDR_RESET_PARAMETERS:
	case PC_TO_RDR_SET_PARAMETERS: case PC_TO_RDR_ESCAPE:
	case PC_TO_RDR_ICC_CLOCK: case PC_TO_RDR_T0_APDU:
	case PC_TO_RDR_SECURE: case PC_TO_RDR_MECHANICAL:
	case PC_TO_RDR_ABORT: case PC_TO_RDR_SET_DATA_RATE_CLOCK:
		return true;
	default:
		return false;
	}
}

static void dispatch(emu_ccid *c, const uint8_t *req, const uint8_t *data, size_t len)
{
	emu_slot *s = &c->slot[req[CCID_OFF_SLOT]];
	if (s->abort_armed && req[CCID_OFF_TYPE] != PC_TO_RDR_ABORT)
		return fail(c, req, CCID_ERR_CMD_ABORTED);
	switch (req[CCID_OFF_TYPE]) {
	case PC_TO_RDR_ICC_POWER_ON:
		return cmd_power_on(c, s, req);
	case PC_TO_RDR_ICC_POWER_OFF:
		return cmd_power_off(c, s, req);
	case PC_TO_RDR_GET_SLOT_STATUS:
		return ok(c, req, 0, NULL, 0);
	case PC_TO_RDR_XFR_BLOCK:
		return cmd_xfr_block(c, s, req, data, len);
	case PC_TO_RDR_GET_PARAMETERS:
	case PC_TO_RDR_RESET_PARAMETERS:
	case PC_TO_RDR_SET_PARAMETERS:
		return cmd_parameters(c, s, req, data, len);
	case PC_TO_RDR_ESCAPE:
		return cmd_escape(c, req, data, len);
	case PC_TO_RDR_SECURE:
		return cmd_secure(c, s, req, data, len);
	case PC_TO_RDR_ABORT:
		return cmd_abort(c, s, req);
	default:   /* IccClock, T0APDU, Mechanical, SetDataRateAndClockFrequency */
		return fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	}
}

void emu_ccid_bulk_out(emu_ccid *c, const uint8_t *msg, size_t len)
{
	if (!c || (!msg && len))
		return;
	pthread_mutex_lock(&c->lock);
	c->busy = true;
	c->abort_requested = false;
	pthread_mutex_unlock(&c->lock);

	c->stats.commands++;
	uint8_t req[CCID_HEADER_LEN] = { 0 };
	memcpy(req, msg, len < sizeof(req) ? len : sizeof(req));
	c->last_seq = req[CCID_OFF_SEQ];
	const uint32_t dw_length = get_u32(req + CCID_OFF_LENGTH);

	if (len < CCID_HEADER_LEN || len > c->accept_msg || dw_length != len - CCID_HEADER_LEN)
		fail(c, req, CCID_ERR_BAD_LENGTH);
	else if (!known_command(req[CCID_OFF_TYPE]))
		fail(c, req, CCID_ERR_CMD_NOT_SUPPORTED);
	else if (req[CCID_OFF_SLOT] >= c->p->nslots)
		fail(c, req, CCID_ERR_BAD_SLOT);
	else if (fault_active(c, EMU_FAULT_HARDWARE_ERROR)) {
		fault_used(c);
		fail(c, req, CCID_ERR_HW_ERROR);
	} else
		dispatch(c, req, msg + CCID_HEADER_LEN, dw_length);

	pthread_mutex_lock(&c->lock);
	c->busy = false;
	c->abort_requested = false;
	pthread_mutex_unlock(&c->lock);
	snapshot_icc(c);
}

bool emu_ccid_answer_busy(emu_ccid *c, const uint8_t *msg, size_t len)
{
	if (!c || !msg || len < CCID_HEADER_LEN || msg[CCID_OFF_TYPE] == PC_TO_RDR_ABORT ||
	    msg[CCID_OFF_SLOT] >= c->p->nslots)
		return false;
	uint8_t frame[CCID_HEADER_LEN] = { 0 };
	frame[CCID_OFF_TYPE] = response_type(msg[CCID_OFF_TYPE]);
	frame[CCID_OFF_SLOT] = msg[CCID_OFF_SLOT];
	frame[CCID_OFF_SEQ] = msg[CCID_OFF_SEQ];
	pthread_mutex_lock(&c->lock);
	frame[CCID_OFF_STATUS] = c->icc_snapshot[msg[CCID_OFF_SLOT]] | CCID_CMD_FAILED;
	pthread_mutex_unlock(&c->lock);
	frame[CCID_OFF_ERROR] = CCID_ERR_CMD_SLOT_BUSY;
	/* never through emit_response(): the frame faults belong to the firmware thread */
	c->env.bulk_in(c->env.user, frame, sizeof(frame));
	return true;
}

/* ---- class requests ------------------------------------------------------------- */

static int describe_one(const emu_ccid *c, unsigned count_off, unsigned value_off,
			uint8_t *data, uint16_t wLength)
{
	if (c->p->ccid_desc[count_off] == 0)
		return -1;   /* "will use whatever is returned": the real readers STALL */
	uint8_t value[4];
	put_u32(value, emu_desc_u32(c->p, value_off));
	size_t n = wLength < sizeof(value) ? wLength : sizeof(value);
	if (data && n)
		memcpy(data, value, n);
	return (int)n;
}

int emu_ccid_control(emu_ccid *c, uint8_t bmRequestType, uint8_t bRequest,
		     uint16_t wValue, uint16_t wIndex, uint8_t *data, uint16_t wLength)
{
	if (!c || wIndex != 0)
		return -1;
	if (bmRequestType == 0x21 && bRequest == CCID_REQ_ABORT) {
		unsigned slot = wValue & 0xFF;
		if (slot >= c->p->nslots || wLength != 0)
			return -1;
		c->slot[slot].abort_armed = true;
		c->slot[slot].abort_seq = (uint8_t)(wValue >> 8);
		return 0;
	}
	if (bmRequestType == 0xA1 && bRequest == CCID_REQ_GET_CLOCK_FREQUENCIES)
		return describe_one(c, CCID_DESC_bNumClockSupported, CCID_DESC_dwDefaultClock, data, wLength);
	if (bmRequestType == 0xA1 && bRequest == CCID_REQ_GET_DATA_RATES)
		return describe_one(c, CCID_DESC_bNumDataRatesSupported, CCID_DESC_dwDataRate, data, wLength);
	return -1;
}

/* ---- cards, keypad, faults ------------------------------------------------------- */

static void retire_card(emu_ccid *c, emu_card *card)
{
	if (card && c->env.card_out)
		c->env.card_out(c->env.user, card);
	else
		emu_card_destroy(card);
}

void emu_ccid_insert(emu_ccid *c, unsigned slot, emu_card *card)
{
	if (!c || slot >= c->p->nslots) {
		emu_card_destroy(card);
		return;
	}
	emu_slot *s = &c->slot[slot];
	slot_deactivate(s);
	retire_card(c, s->card);
	s->card = card;
	/* until the first ATR, GetParameters reports the ISO defaults */
	(void)emu_atr_parse(NULL, 0, &s->atr_info);
	set_default_parameters(c, s);
	snapshot_icc(c);
	notify_slot_change(c, slot);
}

void emu_ccid_remove(emu_ccid *c, unsigned slot)
{
	if (!c || slot >= c->p->nslots)
		return;
	emu_slot *s = &c->slot[slot];
	slot_deactivate(s);
	retire_card(c, s->card);
	s->card = NULL;
	snapshot_icc(c);
	notify_slot_change(c, slot);
}

void emu_ccid_power_loss(emu_ccid *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->p->nslots; i++) {
		slot_deactivate(&c->slot[i]);
		c->slot[i].abort_armed = false;
	}
	snapshot_icc(c);
}

bool emu_ccid_card_present(const emu_ccid *c, unsigned slot)
{
	return c && slot < c->p->nslots && c->slot[slot].card;
}

void emu_ccid_set_keypad(emu_ccid *c, const char *keys)
{
	if (!c)
		return;
	wipe_keypad(c);
	if (!keys) {
		c->keys_cancel = true;
		return;
	}
	size_t n = strlen(keys);
	if (n >= sizeof(c->keys))
		n = sizeof(c->keys) - 1;
	memcpy(c->keys, keys, n);
	c->keys[n] = '\0';
	c->keys_set = true;
}

void emu_ccid_set_card_delay(emu_ccid *c, unsigned slot, unsigned ms)
{
	if (c && slot < c->p->nslots)
		c->slot[slot].delay_ms = ms;
}

void emu_ccid_inject(emu_ccid *c, emu_ccid_fault fault, unsigned count)
{
	if (!c)
		return;
	c->fault = fault;
	c->fault_count = count ? count : 1;
	if (fault == EMU_FAULT_NONE)
		c->fault_count = 0;
	if (fault == EMU_FAULT_HARDWARE_ERROR && c->p->has_interrupt_ep && c->env.interrupt_in) {
		const uint8_t msg[4] = { RDR_TO_PC_HARDWARE_ERROR, 0, c->last_seq, HW_ERROR_OVERCURRENT };
		c->env.interrupt_in(c->env.user, msg, sizeof(msg));
	}
}

void emu_ccid_get_stats(const emu_ccid *c, emu_ccid_stats *out)
{
	if (c && out)
		*out = c->stats;
}

/* ---- life cycle ---------------------------------------------------------------- */

static bool profile_usable(const emu_profile *p)
{
	const uint32_t max_msg = emu_desc_u32(p, CCID_DESC_dwMaxCCIDMessageLength);
	return p->nslots >= 1 && p->nslots <= EMU_MAX_SLOTS &&
	       p->ccid_desc[CCID_DESC_bMaxSlotIndex] + 1u == p->nslots &&
	       max_msg >= CCID_HEADER_LEN + 5 && max_msg <= CCID_HEADER_LEN + EMU_RAPDU_MAX;
}

emu_ccid *emu_ccid_new(const emu_profile *profile, const emu_ccid_env *env)
{
	if (!profile || !env || !env->bulk_in || !profile_usable(profile))
		return NULL;
	emu_ccid *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->p = profile;
	c->env = *env;
	c->max_msg = emu_desc_u32(profile, CCID_DESC_dwMaxCCIDMessageLength);
	c->accept_msg = c->max_msg == SCM_BOGUS_MAX_MSG ? SCM_REAL_MAX_MSG : c->max_msg;
	c->prng = 0x4F4E5348u;   /* "ONSH": the same PUPIs every run */
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	snapshot_icc(c);
	c->out = malloc(c->accept_msg);
	c->capdu = malloc(EMU_CAPDU_MAX);
	c->rapdu = malloc(EMU_RAPDU_MAX);
	bool good = c->out && c->capdu && c->rapdu;
	for (unsigned i = 0; i < EMU_MAX_SLOTS; i++) {
		c->slot[i].ccid = c;
		c->slot[i].index = i;
		if (good)
			good = emu_t1_init(&c->slot[i].t1) == 0 && emu_xapdu_init(&c->slot[i].xapdu) == 0;
	}
	if (!good) {
		emu_ccid_free(c);
		return NULL;
	}
	return c;
}

void emu_ccid_take_out_cards(emu_ccid *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < EMU_MAX_SLOTS; i++) {
		if (c->slot[i].card) {
			slot_deactivate(&c->slot[i]);
			retire_card(c, c->slot[i].card);
			c->slot[i].card = NULL;
		}
	}
}

void emu_ccid_free(emu_ccid *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < EMU_MAX_SLOTS; i++) {
		if (c->slot[i].card) {
			slot_deactivate(&c->slot[i]);
			emu_card_destroy(c->slot[i].card);
		}
		emu_t1_free(&c->slot[i].t1);
		emu_xapdu_free(&c->slot[i].xapdu);
	}
	wipe_keypad(c);
	free(c->out);
	if (c->capdu)
		explicit_bzero(c->capdu, EMU_CAPDU_MAX);
	free(c->capdu);
	free(c->rapdu);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

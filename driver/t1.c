/* t1.c — host side of ISO/IEC 7816-3 T=1; see t1.h for the contract. */
#include "t1.h"

#include <string.h>

uint8_t t1_lrc(const uint8_t *data, size_t len)
{
	uint8_t x = 0;

	for (size_t i = 0; i < len; i++)
		x ^= data[i];
	return x;
}

uint16_t t1_crc(const uint8_t *data, size_t len)
{
	uint16_t crc = 0xFFFF;

	for (size_t i = 0; i < len; i++) {
		crc ^= data[i];
		for (int b = 0; b < 8; b++)
			crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
	}
	return crc;
}

static size_t edc_len(enum t1_edc edc)
{
	return edc == T1_EDC_CRC ? 2 : 1;
}

size_t t1_build_block(uint8_t *out, size_t cap, uint8_t nad, uint8_t pcb,
                      const uint8_t *inf, size_t len, enum t1_edc edc)
{
	size_t total = T1_PROLOGUE_LEN + len + edc_len(edc);

	if (!out || len > T1_MAX_INF || total > cap || (len && !inf))
		return 0;
	out[0] = nad;
	out[1] = pcb;
	out[2] = (uint8_t)len;
	if (len)
		memcpy(out + T1_PROLOGUE_LEN, inf, len);
	if (edc == T1_EDC_CRC) {
		uint16_t crc = t1_crc(out, T1_PROLOGUE_LEN + len);

		out[T1_PROLOGUE_LEN + len] = (uint8_t)(crc >> 8);
		out[T1_PROLOGUE_LEN + len + 1] = (uint8_t)crc;
	} else {
		out[T1_PROLOGUE_LEN + len] = t1_lrc(out, T1_PROLOGUE_LEN + len);
	}
	return total;
}

const char *t1_strerror(enum t1_error e)
{
	switch (e) {
	case T1_ERR_NONE: return "no error";
	case T1_ERR_ARGUMENT: return "invalid argument";
	case T1_ERR_STATE: return "no exchange in progress";
	case T1_ERR_TX_BUFFER: return "transmit buffer too small";
	case T1_ERR_RESPONSE_TOO_LONG: return "card response too long";
	case T1_ERR_RESYNCH_FAILED: return "T=1 error recovery failed";
	case T1_ERR_IFS_FAILED: return "IFSD negotiation failed";
	case T1_ERR_ABORTED_BY_CARD: return "card aborted the exchange";
	case T1_ERR_S_FLOOD: return "too many S-block requests from the card";
	}
	return "unknown T=1 error";
}

void t1_init(struct t1_state *st, const struct t1_config *cfg)
{
	if (!st)
		return;
	memset(st, 0, sizeof(*st));
	if (cfg)
		st->cfg = *cfg;
	if (st->cfg.ifsc == 0 || st->cfg.ifsc > T1_MAX_INF)
		st->cfg.ifsc = T1_DEFAULT_IFS;
	if (st->cfg.ifsd == 0 || st->cfg.ifsd > T1_MAX_INF)
		st->cfg.ifsd = T1_DEFAULT_IFS;
	if (st->cfg.edc != T1_EDC_CRC)
		st->cfg.edc = T1_EDC_LRC;
	st->ifsc_initial = st->cfg.ifsc;
}

static void reset_exchange(struct t1_state *st)
{
	st->offset = 0;
	st->chunk = 0;
	st->resp_len = 0;
	st->got_first_block = false;
	st->retries = 0;
	st->resynchs = 0;
	st->s_requests = 0;
	st->wtx = 0;
	st->error = T1_ERR_NONE;
	st->last_len = 0;
	st->last_i_len = 0;
}

bool t1_begin(struct t1_state *st, const uint8_t *apdu, size_t len,
              uint8_t *resp, size_t resp_cap)
{
	if (!st || !apdu || len == 0 || (!resp && resp_cap))
		return false;
	reset_exchange(st);
	st->apdu = apdu;
	st->apdu_len = len;
	st->resp = resp;
	st->resp_cap = resp_cap;
	st->phase = T1_PHASE_START;
	return true;
}

bool t1_begin_ifs(struct t1_state *st, uint8_t ifsd)
{
	if (!st || ifsd == 0 || ifsd > T1_MAX_INF)
		return false;
	reset_exchange(st);
	st->apdu = NULL;
	st->apdu_len = 0;
	st->ifs_wanted = ifsd;
	st->phase = T1_PHASE_IFS_START;
	return true;
}

const uint8_t *t1_response(const struct t1_state *st, size_t *len)
{
	if (!st || st->phase != T1_PHASE_DONE) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = st->resp_len;
	return st->resp;
}

uint8_t t1_wtx(const struct t1_state *st) { return st ? st->wtx : 0; }
enum t1_error t1_error(const struct t1_state *st) { return st ? st->error : T1_ERR_ARGUMENT; }

/* ---- emitting blocks ------------------------------------------------------ */

struct t1_out {
	uint8_t *tx;
	size_t cap;
	size_t *len;
};

static enum t1_action fail(struct t1_state *st, enum t1_error e)
{
	st->phase = T1_PHASE_FAILED;
	st->error = e;
	return T1_ACT_ERROR;
}

/* Builds a block into st->last and copies it to the caller. */
static enum t1_action emit(struct t1_state *st, const struct t1_out *o, uint8_t pcb,
                           const uint8_t *inf, size_t len, enum t1_action act)
{
	size_t n = t1_build_block(st->last, sizeof(st->last), st->cfg.nad, pcb, inf, len, st->cfg.edc);

	if (n == 0 || n > o->cap)
		return fail(st, T1_ERR_TX_BUFFER);
	st->last_len = n;
	memcpy(o->tx, st->last, n);
	*o->len = n;
	return act;
}

static enum t1_action resend_last(struct t1_state *st, const struct t1_out *o)
{
	if (st->last_len == 0 || st->last_len > o->cap)
		return fail(st, T1_ERR_TX_BUFFER);
	memcpy(o->tx, st->last, st->last_len);
	*o->len = st->last_len;
	return T1_ACT_SEND;
}

static enum t1_action send_i_block(struct t1_state *st, const struct t1_out *o)
{
	size_t remain = st->apdu_len - st->offset;
	bool more = remain > st->cfg.ifsc;
	uint8_t pcb;
	enum t1_action act;

	st->chunk = more ? st->cfg.ifsc : remain;
	pcb = (uint8_t)(T1_I_BLOCK | (st->ns ? T1_I_SEQ : 0) | (more ? T1_I_MORE : 0));
	act = emit(st, o, pcb, st->apdu + st->offset, st->chunk, T1_ACT_SEND);
	if (act != T1_ACT_SEND)
		return act;
	memcpy(st->last_i, st->last, st->last_len);
	st->last_i_len = st->last_len;
	st->phase = more ? T1_PHASE_SENDING : T1_PHASE_LAST_SENT;
	return act;
}

static enum t1_action resend_last_i(struct t1_state *st, const struct t1_out *o)
{
	if (st->last_i_len == 0 || st->last_i_len > o->cap)
		return fail(st, T1_ERR_TX_BUFFER);
	memcpy(st->last, st->last_i, st->last_i_len);
	st->last_len = st->last_i_len;
	memcpy(o->tx, st->last_i, st->last_i_len);
	*o->len = st->last_i_len;
	return T1_ACT_SEND;
}

static enum t1_action send_r_block(struct t1_state *st, const struct t1_out *o, uint8_t err)
{
	uint8_t pcb = (uint8_t)(T1_R_BLOCK | (st->nr ? T1_R_SEQ : 0) | (err & T1_R_ERR_MASK));

	return emit(st, o, pcb, NULL, 0, T1_ACT_SEND);
}

static enum t1_action send_resynch(struct t1_state *st, const struct t1_out *o)
{
	if (st->resynchs >= T1_MAX_RESYNCH)
		return fail(st, T1_ERR_RESYNCH_FAILED);
	st->resynchs++;
	st->retries = 0;
	st->phase = T1_PHASE_RESYNCH;
	return emit(st, o, T1_S_BLOCK | T1_S_RESYNCH, NULL, 0, T1_ACT_SEND);
}

static enum t1_action send_ifs_request(struct t1_state *st, const struct t1_out *o)
{
	st->phase = T1_PHASE_IFS;
	return emit(st, o, T1_S_BLOCK | T1_S_IFS, &st->ifs_wanted, 1, T1_ACT_SEND);
}

/* ---- receiving ------------------------------------------------------------ */

enum rx_kind { RX_NONE, RX_BAD_EDC, RX_BAD_OTHER, RX_I, RX_R, RX_S };

struct rx_block {
	enum rx_kind kind;
	uint8_t pcb;
	const uint8_t *inf;
	size_t len;
};

static enum rx_kind classify_pcb(uint8_t pcb, size_t len)
{
	if ((pcb & 0x80) == T1_I_BLOCK)
		return (pcb & 0x1F) ? RX_BAD_OTHER : RX_I;
	if ((pcb & T1_BLOCK_TYPE_MASK) == T1_R_BLOCK) {
		if ((pcb & 0x20) || (pcb & T1_R_ERR_MASK) > T1_R_OTHER_ERROR || len != 0)
			return RX_BAD_OTHER;
		return RX_R;
	}
	if (pcb & 0x1C)
		return RX_BAD_OTHER;
	switch (pcb & 0x03) {
	case T1_S_IFS:
	case T1_S_WTX:
		return len == 1 ? RX_S : RX_BAD_OTHER;
	default:
		return len == 0 ? RX_S : RX_BAD_OTHER;
	}
}

static struct rx_block decode(const struct t1_state *st, const uint8_t *rx, size_t rxlen)
{
	struct rx_block b = { RX_NONE, 0, NULL, 0 };
	size_t el = edc_len(st->cfg.edc);
	size_t len;

	if (!rx || rxlen == 0)
		return b;
	b.kind = RX_BAD_OTHER;
	if (rxlen < T1_PROLOGUE_LEN + el)
		return b;
	len = rx[2];
	if (len == 0xFF || len > st->cfg.ifsd || rxlen != T1_PROLOGUE_LEN + len + el)
		return b;
	if (st->cfg.edc == T1_EDC_CRC) {
		uint16_t crc = t1_crc(rx, rxlen - 2);

		if (rx[rxlen - 2] != (uint8_t)(crc >> 8) || rx[rxlen - 1] != (uint8_t)crc) {
			b.kind = RX_BAD_EDC;
			return b;
		}
	} else if (t1_lrc(rx, rxlen) != 0) {
		b.kind = RX_BAD_EDC;
		return b;
	}
	b.pcb = rx[1];
	b.inf = rx + T1_PROLOGUE_LEN;
	b.len = len;
	b.kind = classify_pcb(b.pcb, len);
	return b;
}

/* Invalid or missing block: R-block with error bits, or repeat the pending
 * S-request; after T1_MAX_RETRIES escalate to resynchronisation. */
static enum t1_action recover(struct t1_state *st, const struct t1_out *o, uint8_t err)
{
	if (st->phase == T1_PHASE_RESYNCH)
		return send_resynch(st, o);
	if (++st->retries > T1_MAX_RETRIES) {
		if (st->phase == T1_PHASE_IFS)
			return fail(st, T1_ERR_IFS_FAILED);
		return send_resynch(st, o);
	}
	if (st->phase == T1_PHASE_IFS)
		return resend_last(st, o);
	return send_r_block(st, o, err);
}

/* The card asked to get our last I-block again. */
static enum t1_action retransmit(struct t1_state *st, const struct t1_out *o)
{
	if (++st->retries > T1_MAX_RETRIES)
		return send_resynch(st, o);
	return resend_last_i(st, o);
}

static enum t1_action on_i_block(struct t1_state *st, const struct t1_out *o,
                                 const struct rx_block *b)
{
	size_t limit = st->resp_cap < T1_MAX_RESPONSE ? st->resp_cap : T1_MAX_RESPONSE;
	uint8_t seq = (b->pcb & T1_I_SEQ) ? 1 : 0;

	if (st->phase != T1_PHASE_LAST_SENT && st->phase != T1_PHASE_RECEIVING)
		return recover(st, o, T1_R_OTHER_ERROR);
	if (seq != st->nr)
		return recover(st, o, T1_R_OTHER_ERROR);
	if (b->len > limit - st->resp_len)
		return fail(st, T1_ERR_RESPONSE_TOO_LONG);
	if (b->len)
		memcpy(st->resp + st->resp_len, b->inf, b->len);
	st->resp_len += b->len;
	if (!st->got_first_block) {
		/* The card's first I-block acknowledges our last one. */
		st->got_first_block = true;
		st->ns ^= 1;
	}
	st->nr ^= 1;
	st->retries = 0;
	if (b->pcb & T1_I_MORE) {
		st->phase = T1_PHASE_RECEIVING;
		return send_r_block(st, o, T1_R_OK);
	}
	st->phase = T1_PHASE_DONE;
	*o->len = 0;
	return T1_ACT_DONE;
}

static enum t1_action on_r_block(struct t1_state *st, const struct t1_out *o,
                                 const struct rx_block *b)
{
	uint8_t nr = (b->pcb & T1_R_SEQ) ? 1 : 0;
	bool error_bits = (b->pcb & T1_R_ERR_MASK) != 0;

	switch (st->phase) {
	case T1_PHASE_SENDING:
		if (nr != st->ns && !error_bits) {
			/* Acknowledged: move to the next chunk. */
			st->offset += st->chunk;
			st->ns ^= 1;
			st->retries = 0;
			return send_i_block(st, o);
		}
		return retransmit(st, o);
	case T1_PHASE_LAST_SENT:
		/* N(R) == N(S): the card wants our block again.  N(R) != N(S)
		 * acknowledges a block that did not ask for it; repeating the
		 * block is the useful answer, and the retry bound stops a card
		 * that insists (libccid issue #72). */
		return retransmit(st, o);
	case T1_PHASE_RECEIVING:
		/* Our R-block was lost or garbled: repeat it. */
		if (++st->retries > T1_MAX_RETRIES)
			return send_resynch(st, o);
		return resend_last(st, o);
	default:
		return recover(st, o, T1_R_OTHER_ERROR);
	}
}

static enum t1_action on_s_block(struct t1_state *st, const struct t1_out *o,
                                 const struct rx_block *b)
{
	uint8_t type = b->pcb & 0x03;
	bool response = (b->pcb & T1_S_RESPONSE) != 0;

	if (!response) {
		switch (type) {
		case T1_S_WTX:
			if (b->inf[0] == 0)
				return recover(st, o, T1_R_OTHER_ERROR);
			if (++st->s_requests > T1_MAX_S_REQUESTS)
				return fail(st, T1_ERR_S_FLOOD);
			st->wtx = b->inf[0];
			return emit(st, o, T1_S_BLOCK | T1_S_RESPONSE | T1_S_WTX, b->inf, 1, T1_ACT_WTX);
		case T1_S_IFS:
			if (b->inf[0] == 0 || b->inf[0] > T1_MAX_INF)
				return recover(st, o, T1_R_OTHER_ERROR);
			if (++st->s_requests > T1_MAX_S_REQUESTS)
				return fail(st, T1_ERR_S_FLOOD);
			st->cfg.ifsc = b->inf[0];
			return emit(st, o, T1_S_BLOCK | T1_S_RESPONSE | T1_S_IFS, b->inf, 1, T1_ACT_SEND);
		case T1_S_ABORT:
			st->error = T1_ERR_ABORTED_BY_CARD;
			if (emit(st, o, T1_S_BLOCK | T1_S_RESPONSE | T1_S_ABORT, NULL, 0, T1_ACT_SEND) != T1_ACT_SEND)
				return T1_ACT_ERROR;
			st->phase = T1_PHASE_FAILED;
			return T1_ACT_ABORTED;
		default:   /* only the terminal may request RESYNCH */
			return recover(st, o, T1_R_OTHER_ERROR);
		}
	}
	if (type == T1_S_RESYNCH && st->phase == T1_PHASE_RESYNCH) {
		/* 7816-3 §11.6.3.2: sequence numbers and IFSC go back to their
		 * initial values and the exchange restarts from the beginning. */
		st->ns = 0;
		st->nr = 0;
		st->cfg.ifsc = st->ifsc_initial;
		st->retries = 0;
		st->got_first_block = false;
		st->resp_len = 0;
		/* Resynchronisation only starts inside an APDU exchange (an IFS
		 * negotiation gives up instead), but never trust that blindly. */
		if (st->apdu == NULL)
			return fail(st, T1_ERR_STATE);
		st->offset = 0;
		return send_i_block(st, o);
	}
	if (type == T1_S_IFS && st->phase == T1_PHASE_IFS && b->inf[0] == st->ifs_wanted) {
		st->cfg.ifsd = st->ifs_wanted;
		st->phase = T1_PHASE_DONE;
		*o->len = 0;
		return T1_ACT_DONE;
	}
	return recover(st, o, T1_R_OTHER_ERROR);
}

enum t1_action t1_next(struct t1_state *st, const uint8_t *rx, size_t rxlen,
                       uint8_t *tx, size_t txcap, size_t *txlen)
{
	struct t1_out o = { tx, txcap, txlen };
	struct rx_block b;

	if (!st)
		return T1_ACT_ERROR;
	if (!tx || !txlen)
		return fail(st, T1_ERR_ARGUMENT);
	*txlen = 0;
	switch (st->phase) {
	case T1_PHASE_START:
		return send_i_block(st, &o);
	case T1_PHASE_IFS_START:
		return send_ifs_request(st, &o);
	case T1_PHASE_SENDING:
	case T1_PHASE_LAST_SENT:
	case T1_PHASE_RECEIVING:
	case T1_PHASE_IFS:
	case T1_PHASE_RESYNCH:
		break;
	default:
		if (st->error == T1_ERR_NONE)
			st->error = T1_ERR_STATE;
		return T1_ACT_ERROR;
	}
	b = decode(st, rx, rxlen);
	switch (b.kind) {
	case RX_NONE:
	case RX_BAD_OTHER:
		return recover(st, &o, T1_R_OTHER_ERROR);
	case RX_BAD_EDC:
		return recover(st, &o, T1_R_EDC_ERROR);
	case RX_I:
		if (st->phase == T1_PHASE_RESYNCH || st->phase == T1_PHASE_IFS)
			return recover(st, &o, T1_R_OTHER_ERROR);
		return on_i_block(st, &o, &b);
	case RX_R:
		return on_r_block(st, &o, &b);
	case RX_S:
		return on_s_block(st, &o, &b);
	}
	return fail(st, T1_ERR_STATE);
}

/* ---- PIN pad on TPDU readers --------------------------------------------- */

void t1_teo_prologue(const struct t1_state *st, uint8_t prologue[3])
{
	if (!st || !prologue)
		return;
	prologue[0] = st->cfg.nad;
	prologue[1] = (uint8_t)(T1_I_BLOCK | (st->ns ? T1_I_SEQ : 0));
	prologue[2] = 0;
}

bool t1_secure_response(struct t1_state *st, const uint8_t *rx, size_t rxlen,
                        const uint8_t **inf, size_t *len)
{
	struct rx_block b;

	if (!st || !inf || !len)
		return false;
	b = decode(st, rx, rxlen);
	if (b.kind != RX_I || (b.pcb & T1_I_MORE) || ((b.pcb & T1_I_SEQ) ? 1 : 0) != st->nr)
		return false;
	*inf = b.inf;
	*len = b.len;
	st->ns ^= 1;
	st->nr ^= 1;
	return true;
}

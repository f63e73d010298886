/* emu-fw-t1.c — card side of T=1 (see emu-fw-t1.h). */
#include "emu-fw-t1.h"

#include <stdlib.h>
#include <string.h>
#include "emu-card.h"

uint8_t emu_t1_lrc(const uint8_t *data, size_t len)
{
	uint8_t lrc = 0;
	for (size_t i = 0; i < len; i++)
		lrc ^= data[i];
	return lrc;
}

size_t emu_t1_build(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t inf_len, uint8_t *out)
{
	if (inf_len > T1_MAX_INF)
		inf_len = T1_MAX_INF;
	out[0] = nad;
	out[1] = pcb;
	out[2] = (uint8_t)inf_len;
	if (inf_len)
		memcpy(out + T1_PROLOGUE_LEN, inf, inf_len);
	out[T1_PROLOGUE_LEN + inf_len] = emu_t1_lrc(out, T1_PROLOGUE_LEN + inf_len);
	return T1_PROLOGUE_LEN + inf_len + 1;
}

int emu_t1_init(emu_t1 *t1)
{
	memset(t1, 0, sizeof(*t1));
	t1->cmd = malloc(EMU_CAPDU_MAX);
	t1->resp = malloc(EMU_RAPDU_MAX);
	if (!t1->cmd || !t1->resp) {
		emu_t1_free(t1);
		return EMU_T1_NOMEM;
	}
	emu_t1_reset(t1, T1_DEFAULT_IFS);
	return 0;
}

void emu_t1_free(emu_t1 *t1)
{
	free(t1->cmd);
	free(t1->resp);
	t1->cmd = t1->resp = NULL;
}

void emu_t1_reset(emu_t1 *t1, uint8_t ifsc)
{
	t1->ifsc = (ifsc >= 1 && ifsc <= T1_MAX_INF) ? ifsc : T1_DEFAULT_IFS;
	t1->ifsd = T1_DEFAULT_IFS;
	if (t1->cmd && t1->cmd_len)
		explicit_bzero(t1->cmd, t1->cmd_len);
	t1->host_ns = t1->card_ns = 0;
	t1->state = EMU_T1_IDLE;
	t1->wtx_round = 0;
	t1->cmd_len = t1->resp_len = t1->resp_off = t1->resp_chunk = 0;
	t1->last_len = 0;
}

/* A block we may have to send again if the host asks for it. */
static size_t send_kept(emu_t1 *t1, uint8_t pcb, const uint8_t *inf, size_t inf_len, uint8_t *out)
{
	size_t n = emu_t1_build(0, pcb, inf, inf_len, out);
	memcpy(t1->last, out, n);
	t1->last_len = n;
	return n;
}

/* An error R-block: never kept, the host may still ask for our last block. */
static size_t send_error(const emu_t1 *t1, uint8_t err, uint8_t *out)
{
	return emu_t1_build(0, T1_R_BLOCK | (t1->host_ns ? T1_R_SEQ : 0) | err, NULL, 0, out);
}

static size_t resend_last(const emu_t1 *t1, uint8_t *out)
{
	if (t1->last_len == 0)
		return send_error(t1, T1_R_OTHER_ERROR, out);
	memcpy(out, t1->last, t1->last_len);
	return t1->last_len;
}

static size_t send_response_piece(emu_t1 *t1, uint8_t *out)
{
	size_t left = t1->resp_len - t1->resp_off;
	size_t chunk = left < t1->ifsd ? left : t1->ifsd;
	bool more = chunk < left;
	uint8_t pcb = T1_I_BLOCK | (t1->card_ns ? T1_I_SEQ : 0) | (more ? T1_I_MORE : 0);
	t1->card_ns ^= 1;
	t1->resp_chunk = chunk;
	t1->state = more ? EMU_T1_SENDING : EMU_T1_IDLE;
	return send_kept(t1, pcb, t1->resp + t1->resp_off, chunk, out);
}

static int run_command(emu_t1 *t1, const emu_t1_card_if *card, uint8_t *out, size_t *out_len)
{
	size_t rlen = 0;
	int rc = card->transmit(card->ctx, t1->cmd, t1->cmd_len, t1->resp, &rlen);
	explicit_bzero(t1->cmd, t1->cmd_len);   /* a VERIFY leaves no PIN behind */
	t1->cmd_len = 0;
	t1->state = EMU_T1_IDLE;
	if (rc != 0)
		return rc;
	t1->resp_len = rlen <= EMU_RAPDU_MAX ? rlen : EMU_RAPDU_MAX;
	t1->resp_off = 0;
	*out_len = send_response_piece(t1, out);
	return EMU_T1_OK;
}

/* The command is complete: ask for time first if the card needs it. */
static int command_complete(emu_t1 *t1, const emu_t1_card_if *card, uint8_t *out, size_t *out_len)
{
	uint8_t mult = card->wtx_multiplier ? card->wtx_multiplier(card->ctx, 0) : 0;
	if (mult) {
		t1->state = EMU_T1_WTX;
		t1->wtx_round = 1;
		*out_len = send_kept(t1, T1_S_BLOCK | T1_S_WTX, &mult, 1, out);
		return EMU_T1_OK;
	}
	return run_command(t1, card, out, out_len);
}

static int on_i_block(emu_t1 *t1, const emu_t1_card_if *card, uint8_t pcb,
		      const uint8_t *inf, size_t inf_len, uint8_t *out, size_t *out_len)
{
	uint8_t ns = (pcb & T1_I_SEQ) ? 1 : 0;
	if (pcb & 0x1F) {                       /* reserved bits must be 0 */
		*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
		return EMU_T1_OK;
	}
	if (t1->state == EMU_T1_RECEIVING && ns != t1->host_ns) {
		/* the host did not get our acknowledgement: say it again */
		*out_len = resend_last(t1, out);
		return EMU_T1_OK;
	}
	if (ns != t1->host_ns || t1->state == EMU_T1_WTX || t1->state == EMU_T1_SENDING ||
	    inf_len > t1->ifsc || t1->cmd_len + inf_len > EMU_CAPDU_MAX) {
		*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
		return EMU_T1_OK;
	}
	memcpy(t1->cmd + t1->cmd_len, inf, inf_len);
	t1->cmd_len += inf_len;
	t1->host_ns ^= 1;
	if (pcb & T1_I_MORE) {
		t1->state = EMU_T1_RECEIVING;
		*out_len = send_kept(t1, T1_R_BLOCK | (t1->host_ns ? T1_R_SEQ : 0), NULL, 0, out);
		return EMU_T1_OK;
	}
	return command_complete(t1, card, out, out_len);
}

static int on_r_block(emu_t1 *t1, uint8_t pcb, size_t inf_len, uint8_t *out, size_t *out_len)
{
	uint8_t nr = (pcb & T1_R_SEQ) ? 1 : 0;
	if ((pcb & 0x20) || inf_len != 0) {
		*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
		return EMU_T1_OK;
	}
	if (t1->state == EMU_T1_SENDING && nr == t1->card_ns && (pcb & T1_R_ERR_MASK) == 0) {
		t1->resp_off += t1->resp_chunk;  /* acknowledged: next piece */
		*out_len = send_response_piece(t1, out);
		return EMU_T1_OK;
	}
	*out_len = resend_last(t1, out);
	return EMU_T1_OK;
}

static int on_s_block(emu_t1 *t1, const emu_t1_card_if *card, uint8_t pcb,
		      const uint8_t *inf, size_t inf_len, uint8_t *out, size_t *out_len)
{
	switch (pcb) {
	case T1_S_BLOCK | T1_S_RESYNCH:
		if (inf_len != 0)
			break;
		emu_t1_reset(t1, t1->ifsc);
		*out_len = emu_t1_build(0, T1_S_BLOCK | T1_S_RESPONSE | T1_S_RESYNCH, NULL, 0, out);
		return EMU_T1_OK;
	case T1_S_BLOCK | T1_S_IFS:
		if (inf_len != 1 || inf[0] == 0 || inf[0] > T1_MAX_INF)
			break;
		t1->ifsd = inf[0];
		*out_len = send_kept(t1, T1_S_BLOCK | T1_S_RESPONSE | T1_S_IFS, inf, 1, out);
		return EMU_T1_OK;
	case T1_S_BLOCK | T1_S_ABORT:
		if (inf_len != 0)
			break;
		t1->state = EMU_T1_IDLE;
		explicit_bzero(t1->cmd, t1->cmd_len);
		t1->cmd_len = 0;
		*out_len = send_kept(t1, T1_S_BLOCK | T1_S_RESPONSE | T1_S_ABORT, NULL, 0, out);
		return EMU_T1_OK;
	case T1_S_BLOCK | T1_S_RESPONSE | T1_S_WTX: {
		if (inf_len != 1 || t1->state != EMU_T1_WTX)
			break;
		uint8_t mult = card->wtx_multiplier ? card->wtx_multiplier(card->ctx, t1->wtx_round) : 0;
		if (mult) {
			t1->wtx_round++;
			*out_len = send_kept(t1, T1_S_BLOCK | T1_S_WTX, &mult, 1, out);
			return EMU_T1_OK;
		}
		return run_command(t1, card, out, out_len);
	}
	default:
		break;
	}
	*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
	return EMU_T1_OK;
}

int emu_t1_host_block(emu_t1 *t1, const emu_t1_card_if *card,
		      const uint8_t *blk, size_t blk_len,
		      uint8_t out[EMU_T1_BLOCK_MAX], size_t *out_len)
{
	*out_len = 0;
	if (blk_len < T1_PROLOGUE_LEN + 1 || blk_len > EMU_T1_BLOCK_MAX) {
		*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
		return EMU_T1_OK;
	}
	if (emu_t1_lrc(blk, blk_len) != 0) {
		*out_len = send_error(t1, T1_R_EDC_ERROR, out);
		return EMU_T1_OK;
	}
	const uint8_t nad = blk[0], pcb = blk[1], len = blk[2];
	if (nad != 0 || len == 0xFF || (size_t)len + T1_PROLOGUE_LEN + 1 != blk_len) {
		*out_len = send_error(t1, T1_R_OTHER_ERROR, out);
		return EMU_T1_OK;
	}
	const uint8_t *inf = blk + T1_PROLOGUE_LEN;
	switch (pcb & T1_BLOCK_TYPE_MASK) {
	case T1_S_BLOCK:
		return on_s_block(t1, card, pcb, inf, len, out, out_len);
	case T1_R_BLOCK:
		return on_r_block(t1, pcb, len, out, out_len);
	default:
		return on_i_block(t1, card, pcb, inf, len, out, out_len);
	}
}

/* emu-fw-apdu.c — extended-APDU chaining (see emu-fw-apdu.h). */
#include "emu-fw-apdu.h"

#include <stdlib.h>
#include <string.h>
#include <onshi/ccid-const.h>
#include "emu-card.h"

int emu_xapdu_init(emu_xapdu *x)
{
	memset(x, 0, sizeof(*x));
	x->cmd = malloc(EMU_CAPDU_MAX);
	x->resp = malloc(EMU_RAPDU_MAX);
	if (!x->cmd || !x->resp) {
		emu_xapdu_free(x);
		return -1;
	}
	return 0;
}

void emu_xapdu_free(emu_xapdu *x)
{
	free(x->cmd);
	free(x->resp);
	x->cmd = x->resp = NULL;
}

void emu_xapdu_reset(emu_xapdu *x)
{
	x->cmd_len = 0;
	x->cmd_open = false;
	x->resp_len = x->resp_off = 0;
	x->resp_open = false;
}

static emu_xapdu_step append(emu_xapdu *x, const uint8_t *data, size_t len)
{
	if (len > EMU_CAPDU_MAX - x->cmd_len) {
		emu_xapdu_reset(x);
		return EMU_XAPDU_TOO_LONG;
	}
	if (len)
		memcpy(x->cmd + x->cmd_len, data, len);
	x->cmd_len += len;
	return EMU_XAPDU_NEED_MORE;
}

emu_xapdu_step emu_xapdu_command(emu_xapdu *x, uint16_t level, const uint8_t *data, size_t len)
{
	switch (level) {
	case CCID_CHAIN_BEGIN_AND_END:
	case CCID_CHAIN_BEGIN:
		if (x->cmd_open) {          /* the previous chain never ended */
			emu_xapdu_reset(x);
			return EMU_XAPDU_BAD_LEVEL;
		}
		emu_xapdu_reset(x);         /* a new command drops an unread response */
		if (append(x, data, len) == EMU_XAPDU_TOO_LONG)
			return EMU_XAPDU_TOO_LONG;
		if (level == CCID_CHAIN_BEGIN) {
			x->cmd_open = true;
			return EMU_XAPDU_NEED_MORE;
		}
		return EMU_XAPDU_COMPLETE;
	case CCID_CHAIN_CONTINUE:
	case CCID_CHAIN_END:
		if (!x->cmd_open) {
			emu_xapdu_reset(x);
			return EMU_XAPDU_BAD_LEVEL;
		}
		if (append(x, data, len) == EMU_XAPDU_TOO_LONG)
			return EMU_XAPDU_TOO_LONG;
		if (level == CCID_CHAIN_CONTINUE)
			return EMU_XAPDU_NEED_MORE;
		x->cmd_open = false;
		return EMU_XAPDU_COMPLETE;
	case CCID_CHAIN_EMPTY_NEXT:
		if (len != 0 || !x->resp_open || x->cmd_open) {
			emu_xapdu_reset(x);
			return EMU_XAPDU_BAD_LEVEL;
		}
		return EMU_XAPDU_SEND_MORE;
	default:
		emu_xapdu_reset(x);
		return EMU_XAPDU_BAD_LEVEL;
	}
}

void emu_xapdu_set_response(emu_xapdu *x, size_t len)
{
	x->cmd_len = 0;
	x->resp_len = len <= EMU_RAPDU_MAX ? len : EMU_RAPDU_MAX;
	x->resp_off = 0;
	x->resp_open = false;
}

void emu_xapdu_next_piece(emu_xapdu *x, size_t piece_max,
			  const uint8_t **piece, size_t *piece_len, uint8_t *chain)
{
	const bool first = x->resp_off == 0 && !x->resp_open;
	const size_t left = x->resp_len - x->resp_off;
	const size_t n = left < piece_max ? left : piece_max;
	const bool last = n == left;

	*piece = x->resp + x->resp_off;
	*piece_len = n;
	if (first)
		*chain = last ? CCID_CHAIN_BEGIN_AND_END : CCID_CHAIN_BEGIN;
	else
		*chain = last ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;
	x->resp_off += n;
	x->resp_open = !last;
}

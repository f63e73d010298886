/* xchg-ext.c — extended-APDU chaining planner; see xchg-ext.h. */
#include "xchg-ext.h"

#include <string.h>

#include <onshi/ccid-const.h>

static enum xchg_ext_action fail(struct xchg_ext *x, enum xchg_ext_error e)
{
	x->phase = XCHG_EXT_FAILED;
	x->error = e;
	return XCHG_EXT_ERROR;
}

const char *xchg_ext_strerror(enum xchg_ext_error e)
{
	switch (e) {
	case XCHG_EXT_ERR_NONE: return "no error";
	case XCHG_EXT_ERR_ARGUMENT: return "invalid argument";
	case XCHG_EXT_ERR_STATE: return "call out of order";
	case XCHG_EXT_ERR_PROTOCOL: return "unexpected chaining from the reader";
	case XCHG_EXT_ERR_TOO_LONG: return "response longer than 65538 bytes";
	case XCHG_EXT_ERR_TOO_MANY_PARTS: return "too many response parts";
	}
	return "unknown error";
}

bool xchg_ext_begin(struct xchg_ext *x, const uint8_t *apdu, size_t len,
                    uint32_t max_message_length, uint8_t *resp, size_t resp_cap)
{
	if (!x)
		return false;
	memset(x, 0, sizeof(*x));
	if (!apdu || len == 0 || max_message_length <= CCID_HEADER_LEN || (!resp && resp_cap)) {
		x->phase = XCHG_EXT_FAILED;
		x->error = XCHG_EXT_ERR_ARGUMENT;
		return false;
	}
	x->apdu = apdu;
	x->apdu_len = len;
	x->max_block = max_message_length - CCID_HEADER_LEN;
	x->resp = resp;
	x->resp_cap = resp_cap;
	x->phase = XCHG_EXT_TO_SEND;
	return true;
}

bool xchg_ext_command(struct xchg_ext *x, const uint8_t **data, size_t *len, uint16_t *level)
{
	size_t remain, chunk;

	if (!x || !data || !len || !level)
		return false;
	if (x->phase == XCHG_EXT_TO_REQUEST) {
		*data = NULL;
		*len = 0;
		*level = CCID_CHAIN_EMPTY_NEXT;
		x->phase = XCHG_EXT_WAIT_PART;
		return true;
	}
	if (x->phase != XCHG_EXT_TO_SEND) {
		fail(x, XCHG_EXT_ERR_STATE);
		return false;
	}
	remain = x->apdu_len - x->sent;
	chunk = remain > x->max_block ? x->max_block : remain;
	if (x->sent == 0)
		*level = chunk == remain ? CCID_CHAIN_BEGIN_AND_END : CCID_CHAIN_BEGIN;
	else
		*level = chunk == remain ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;
	*data = x->apdu + x->sent;
	*len = chunk;
	x->sent += chunk;
	x->phase = chunk == remain ? XCHG_EXT_WAIT_PART : XCHG_EXT_WAIT_ACK;
	return true;
}

static enum xchg_ext_action on_part(struct xchg_ext *x, const uint8_t *data, size_t len,
                                    uint8_t chain)
{
	bool first = x->parts == 0;
	bool last;

	if (first && chain == CCID_CHAIN_BEGIN_AND_END)
		last = true;
	else if (first && chain == CCID_CHAIN_BEGIN)
		last = false;
	else if (!first && chain == CCID_CHAIN_END)
		last = true;
	else if (!first && chain == CCID_CHAIN_CONTINUE)
		last = false;
	else
		return fail(x, XCHG_EXT_ERR_PROTOCOL);
	if (++x->parts > XCHG_EXT_MAX_PARTS)
		return fail(x, XCHG_EXT_ERR_TOO_MANY_PARTS);
	if (len > XCHG_EXT_MAX_RESPONSE - x->total)
		return fail(x, XCHG_EXT_ERR_TOO_LONG);
	x->total += len;
	if (!x->overflow && len <= x->resp_cap - x->resp_len) {
		if (len)
			memcpy(x->resp + x->resp_len, data, len);
		x->resp_len += len;
	} else {
		/* Keep draining so the reader stays in step; report later. */
		x->overflow = true;
	}
	if (last) {
		x->phase = XCHG_EXT_FINISHED;
		return XCHG_EXT_DONE;
	}
	x->phase = XCHG_EXT_TO_REQUEST;
	return XCHG_EXT_SEND;
}

enum xchg_ext_action xchg_ext_response(struct xchg_ext *x, const uint8_t *data, size_t len,
                                       uint8_t chain)
{
	if (!x)
		return XCHG_EXT_ERROR;
	if (len && !data)
		return fail(x, XCHG_EXT_ERR_ARGUMENT);
	switch (x->phase) {
	case XCHG_EXT_WAIT_ACK:
		/* A reader acknowledges a command block with an empty
		 * DataBlock, bChainParameter 0x10 (some firmwares send 0x00). */
		if (len != 0 || (chain != CCID_CHAIN_EMPTY_NEXT && chain != CCID_CHAIN_BEGIN_AND_END))
			return fail(x, XCHG_EXT_ERR_PROTOCOL);
		x->phase = XCHG_EXT_TO_SEND;
		return XCHG_EXT_SEND;
	case XCHG_EXT_WAIT_PART:
		return on_part(x, data, len, chain);
	default:
		return fail(x, XCHG_EXT_ERR_STATE);
	}
}

size_t xchg_ext_response_len(const struct xchg_ext *x)
{
	return x && x->phase == XCHG_EXT_FINISHED ? x->resp_len : 0;
}

bool xchg_ext_overflowed(const struct xchg_ext *x)
{
	return x && x->overflow;
}

enum xchg_ext_error xchg_ext_error(const struct xchg_ext *x)
{
	return x ? x->error : XCHG_EXT_ERR_ARGUMENT;
}

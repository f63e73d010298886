/* libFuzzer target: CCID response parser, interrupt messages, PIN builders. */
#include <stdint.h>
#include <stdlib.h>

#include "ccid-frame.h"
#include "xchg-ext.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t commands[] = {
	PC_TO_RDR_ICC_POWER_ON, PC_TO_RDR_ICC_POWER_OFF, PC_TO_RDR_GET_SLOT_STATUS,
	PC_TO_RDR_XFR_BLOCK, PC_TO_RDR_GET_PARAMETERS, PC_TO_RDR_SET_PARAMETERS,
	PC_TO_RDR_ESCAPE, PC_TO_RDR_SECURE, PC_TO_RDR_ABORT,
};

/* Drives the extended-APDU planner with reader replies taken from the input:
 * each reply is [chain byte][length byte] followed by that many bytes. */
static void fuzz_xchg(const uint8_t *data, size_t size, uint32_t maxlen)
{
	static const uint8_t apdu[700];
	uint8_t resp[300];
	struct xchg_ext x;
	enum xchg_ext_action act = XCHG_EXT_SEND;
	size_t pos = 0;

	if (!xchg_ext_begin(&x, apdu, 1 + (size ? data[0] : 0) * 3u, maxlen, resp, sizeof(resp)))
		abort();
	while (act == XCHG_EXT_SEND && pos + 2 <= size) {
		const uint8_t *d;
		size_t n, rlen;
		uint16_t lvl;

		if (!xchg_ext_command(&x, &d, &n, &lvl))
			abort();
		if (n > maxlen - CCID_HEADER_LEN)
			abort();
		rlen = data[pos + 1];
		if (rlen > size - pos - 2)
			rlen = size - pos - 2;
		act = xchg_ext_response(&x, data + pos + 2, rlen, data[pos]);
		pos += 2 + rlen;
	}
	if (act == XCHG_EXT_DONE && xchg_ext_response_len(&x) > sizeof(resp))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccid_response r;
	struct ccid_params p;
	struct ccid_hw_error hw;
	uint32_t maxlen;
	size_t cap;
	uint8_t cmd;

	if (size < 4)
		return 0;
	cmd = commands[data[0] % sizeof(commands)];
	maxlen = 64u + (uint32_t)data[1] * 4u;
	cap = (size_t)data[2] * 2u;
	data += 3;
	size -= 3;
	fuzz_xchg(data, size, maxlen);
	if (ccid_parse_response(data, size, cmd, data[CCID_OFF_SLOT % size], data[CCID_OFF_SEQ % size],
	                        maxlen, cap, &r) == CCID_PARSE_OK) {
		if (r.data_len > cap || r.data_len > maxlen || r.data_len > size - CCID_HEADER_LEN)
			abort();
		if (r.data_len && r.data[r.data_len - 1] != data[CCID_HEADER_LEN + r.data_len - 1])
			abort();
		(void)ccid_result_name(r.result);
		if (r.type == RDR_TO_PC_PARAMETERS)
			(void)ccid_params_parse(r.chain, r.data, r.data_len, &p);
	}
	for (unsigned slots = 1; slots <= 20; slots += 7)
		if (ccid_notify_valid(data, size, slots))
			for (unsigned s = 0; s < slots; s++) {
				bool present, changed;

				if (!ccid_notify_slot(data, size, s, &present, &changed))
					abort();
			}
	(void)ccid_parse_hardware_error(data, size, &hw);
	{
		uint8_t t, sl, sq;

		if (ccid_peek_header(data, size, 4, &t, &sl, &sq) && sl >= 4)
			abort();
	}
	{
		/* Exact-size heap buffer so that ASan sees any write past `cap`. */
		size_t ocap = cap + 1;
		uint8_t *out = malloc(ocap);
		ssize_t n;

		if (!out)
			return 0;
		n = ccid_build_secure_verify(out, ocap, 0, 1, 0, data, size);
		if (n > (ssize_t)ocap)
			abort();
		n = ccid_build_secure_modify(out, ocap, 0, 1, 0, data, size);
		if (n > (ssize_t)ocap)
			abort();
		n = ccid_build_xfr_block(out, ocap, 0, 1, 0, 0, data, size);
		if (n > (ssize_t)ocap || (n > 0 && (size_t)n != size + CCID_HEADER_LEN))
			abort();
		free(out);
	}
	return 0;
}

/* libFuzzer target: T=1 state machine fed with arbitrary card blocks.
 * Input: [cfg byte][ifsc][apdu len][apdu...] then blocks as [len][bytes]. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t1.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct t1_state st;
	struct t1_config cfg;
	uint8_t resp[600], tx[T1_MAX_BLOCK];
	size_t txlen, pos, alen, steps = 0;
	enum t1_action act;

	if (size < 3)
		return 0;
	memset(&cfg, 0, sizeof(cfg));
	cfg.edc = (data[0] & 1) ? T1_EDC_CRC : T1_EDC_LRC;
	cfg.ifsd = (data[0] & 2) ? 254 : 32;
	cfg.ifsc = data[1];
	t1_init(&st, &cfg);
	alen = data[2];
	pos = 3;
	if (alen == 0 || alen > size - pos) {
		if (!t1_begin_ifs(&st, cfg.ifsd))
			abort();
	} else {
		if (!t1_begin(&st, data + pos, alen, resp, (data[0] & 4) ? 40 : sizeof(resp)))
			abort();
		pos += alen;
	}
	act = t1_next(&st, NULL, 0, tx, sizeof(tx), &txlen);
	while (act == T1_ACT_SEND || act == T1_ACT_WTX) {
		size_t blen;

		if (txlen == 0 || txlen > T1_MAX_BLOCK)
			abort();
		if (++steps > 10000)
			abort();       /* the machine must not loop without input */
		if (pos >= size) {
			/* Out of input: the card goes mute; recovery must end. */
			act = t1_next(&st, NULL, 0, tx, sizeof(tx), &txlen);
			continue;
		}
		blen = data[pos++];
		if (blen > size - pos)
			blen = size - pos;
		act = t1_next(&st, data + pos, blen, tx, sizeof(tx), &txlen);
		pos += blen;
	}
	if (act == T1_ACT_DONE) {
		size_t rlen;

		if (t1_response(&st, &rlen) && rlen > sizeof(resp))
			abort();
	} else if (act == T1_ACT_ERROR && t1_error(&st) == T1_ERR_NONE) {
		abort();
	}
	return 0;
}

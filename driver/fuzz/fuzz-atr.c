/* libFuzzer target: ATR parser, contactless recogniser and timing helpers. */
#include <stdint.h>
#include <stdlib.h>

#include "atr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct atr_info info;
	struct atr_contactless cl;
	enum atr_status st = atr_parse(data, size, &info);
	uint8_t req[ATR_PPS_MAX_LEN], fidi = 0;
	size_t reqlen;

	/* PPS answer checking sees arbitrary card bytes. */
	reqlen = atr_pps_build(req, sizeof(req), size ? data[0] & 0x0F : 1, size > 1 ? data[1] : 0x13);
	if (reqlen && atr_pps_response_ok(req, reqlen, data, size, &fidi)
	    && fidi != 0x11 && fidi != req[2])
		abort();
	if (st != ATR_OK)
		return 0;
	/* Invariants of a successful parse. */
	if (info.len != size || size > ATR_MAX_LEN || info.nhistorical > ATR_MAX_HISTORICAL
	    || info.ngroups > ATR_MAX_GROUPS || info.ifsc == 0 || info.ifsc == 0xFF
	    || info.bwi > 9 || info.protocols == 0)
		abort();
	(void)atr_contactless(&info, &cl);
	for (unsigned p = 0; p < 2; p++) {
		uint32_t t = atr_read_timeout_ms(&info, p, info.fi, info.di, size ? data[size - 1] * 100u : 0);

		if (t < ATR_READ_TIMEOUT_MIN_MS || t > ATR_READ_TIMEOUT_CAP_MS)
			abort();
		if (atr_apply_multiplier_ms(t, data[0]) > ATR_READ_TIMEOUT_CAP_MS)
			abort();
	}
	{
		uint32_t rates[4];
		size_t nrates = size / 8 < 4 ? size / 8 : 4;

		for (size_t i = 0; i < nrates; i++)
			rates[i] = (uint32_t)data[i] * 1000u;
		if (atr_select_fidi(&info, 4800, data[size - 1] * 4000u, rates, nrates, &fidi)
		    && fidi != 0x11 && atr_fidi_rate_bps(fidi, 4800) == 0)
			abort();
	}
	(void)atr_t1_bwt_ms(info.bwi, info.fi, info.di, 1);
	(void)atr_t1_cwt_ms(info.cwi, info.fi, info.di, 1);
	(void)atr_t0_wwt_ms(info.wi, info.fi, 1);
	return 0;
}

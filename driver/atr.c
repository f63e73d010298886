/* atr.c — ISO/IEC 7816-3 ATR parser; see atr.h for the contract. */
#include "atr.h"

#include <string.h>

/* ISO 7816-3 table 7: Fi and f(max) per TA1 high nibble; 0 = reserved. */
static const uint16_t fi_table[16] = {
	372, 372, 558, 744, 1116, 1488, 1860, 0,
	0, 512, 768, 1024, 1536, 2048, 0, 0,
};
static const uint32_t fmax_khz_table[16] = {
	4000, 5000, 6000, 8000, 12000, 16000, 20000, 0,
	0, 5000, 7500, 10000, 15000, 20000, 0, 0,
};
/* ISO 7816-3 table 8: Di per TA1 low nibble; 0 = reserved. */
static const uint8_t di_table[16] = {
	0, 1, 2, 4, 8, 16, 32, 64, 12, 20, 0, 0, 0, 0, 0, 0,
};

#define ATR_DEFAULT_TA1  0x11
#define ATR_DEFAULT_WI   10
#define ATR_DEFAULT_BWI  4
#define ATR_DEFAULT_CWI  13
#define ATR_MAX_BWI      9
#define ATR_FD           372   /* default Fd, used in BWT */

bool atr_fi_lookup(uint8_t fi_index, uint16_t *fi, uint32_t *fmax_khz)
{
	if (fi_index > 15 || fi_table[fi_index] == 0)
		return false;
	if (fi)
		*fi = fi_table[fi_index];
	if (fmax_khz)
		*fmax_khz = fmax_khz_table[fi_index];
	return true;
}

bool atr_di_lookup(uint8_t di_index, uint8_t *di)
{
	if (di_index > 15 || di_table[di_index] == 0)
		return false;
	if (di)
		*di = di_table[di_index];
	return true;
}

bool atr_offers(const struct atr_info *info, unsigned t)
{
	return info && t < 15 && (info->protocols & (1u << t));
}

const char *atr_strerror(enum atr_status st)
{
	switch (st) {
	case ATR_OK: return "ok";
	case ATR_ERR_NULL: return "no ATR buffer";
	case ATR_ERR_TOO_SHORT: return "ATR shorter than TS+T0";
	case ATR_ERR_TOO_LONG: return "ATR longer than 33 bytes";
	case ATR_ERR_BAD_TS: return "TS is neither 0x3B nor 0x3F";
	case ATR_ERR_TRUNCATED: return "ATR truncated: announced bytes missing";
	case ATR_ERR_TRAILING: return "bytes after the end of the ATR";
	case ATR_ERR_TCK_MISSING: return "TCK missing although T!=0 is indicated";
	case ATR_ERR_TCK_MISMATCH: return "TCK check failed";
	case ATR_ERR_BAD_TD: return "inconsistent TD chain";
	case ATR_ERR_BAD_IFSC: return "reserved IFSC value (0x00 or 0xFF)";
	case ATR_ERR_BAD_BWI: return "reserved BWI value (>9)";
	case ATR_ERR_BAD_TA2: return "TA2 names a reserved protocol";
	}
	return "unknown ATR error";
}

/* Walks T0 and the TDi chain, filling groups[], historical bytes and TCK.
 * Only structure is checked here; meaning is derived afterwards. */
static enum atr_status parse_structure(const uint8_t *buf, size_t len,
                                       struct atr_info *info)
{
	size_t pos = 2;
	uint8_t y = buf[1] >> 4;           /* presence indicator of group i */
	uint8_t prev_protocol = 0;         /* T named by TD(i-1) */
	bool need_tck = false;
	unsigned i = 0;
	/* A byte is announced but missing: past the 33-byte limit the structure
	 * itself is too long, otherwise the ATR was cut short. */
#define ATR_NEED_BYTE() \
	do { if (pos >= len) return pos >= ATR_MAX_LEN ? ATR_ERR_TOO_LONG : ATR_ERR_TRUNCATED; } while (0)

	info->nhistorical = buf[1] & 0x0F;
	for (;;) {
		struct atr_group *g;

		if (i >= ATR_MAX_GROUPS)
			return ATR_ERR_TOO_LONG;
		g = &info->groups[i];
		g->protocol = prev_protocol;
		if (y & 0x1) { ATR_NEED_BYTE(); g->ta_present = true; g->ta = buf[pos++]; }
		if (y & 0x2) { ATR_NEED_BYTE(); g->tb_present = true; g->tb = buf[pos++]; }
		if (y & 0x4) { ATR_NEED_BYTE(); g->tc_present = true; g->tc = buf[pos++]; }
		i++;
		if (!(y & 0x8))
			break;
		ATR_NEED_BYTE();
		g->td_present = true;
		g->td = buf[pos++];
		{
			uint8_t t = g->td & 0x0F;

			/* T=15 only qualifies global bytes, never in TD1; and
			 * 7816-3 §8.2.3 requires ascending protocol order. */
			if (i == 1 && t == 15)
				return ATR_ERR_BAD_TD;
			if (i > 1 && t < prev_protocol)
				return ATR_ERR_BAD_TD;
			if (i == 1)
				info->default_protocol = t;
			if (t != 15)
				info->protocols |= (uint16_t)(1u << t);
			if (t != 0)
				need_tck = true;
			prev_protocol = t;
		}
		y = g->td >> 4;
	}
	info->ngroups = i;
	if (info->protocols == 0)
		info->protocols = 1u << 0;

	if (pos + info->nhistorical > len)
		return pos + info->nhistorical > ATR_MAX_LEN ? ATR_ERR_TOO_LONG : ATR_ERR_TRUNCATED;
	memcpy(info->historical, buf + pos, info->nhistorical);
	pos += info->nhistorical;

	if (need_tck) {
		uint8_t x = 0;

		if (pos >= len)
			return pos >= ATR_MAX_LEN ? ATR_ERR_TOO_LONG : ATR_ERR_TCK_MISSING;
		info->tck_present = true;
		info->tck = buf[pos++];
		for (size_t k = 1; k < pos; k++)
			x ^= buf[k];
		if (x != 0)
			return ATR_ERR_TCK_MISMATCH;
	}
#undef ATR_NEED_BYTE
	if (pos != len)
		return ATR_ERR_TRAILING;
	return ATR_OK;
}

static void derive_global(struct atr_info *info)
{
	const struct atr_group *g1 = &info->groups[0];

	info->ta1_present = g1->ta_present;
	info->ta1 = g1->ta_present ? g1->ta : ATR_DEFAULT_TA1;
	info->fi_index = info->ta1 >> 4;
	info->di_index = info->ta1 & 0x0F;
	info->ta1_valid = atr_fi_lookup(info->fi_index, &info->fi, &info->fmax_khz)
	                  && atr_di_lookup(info->di_index, &info->di);
	if (!info->ta1_valid) {
		/* Run at the default rate: Fd=372, Dd=1, f(max) 5 MHz. */
		info->fi = 372;
		info->di = 1;
		info->fmax_khz = 5000;
	}
	info->n = g1->tc_present ? g1->tc : 0;
}

static enum atr_status derive_specific(struct atr_info *info)
{
	info->wi = ATR_DEFAULT_WI;
	info->ifsc = T1_DEFAULT_IFS;
	info->bwi = ATR_DEFAULT_BWI;
	info->cwi = ATR_DEFAULT_CWI;
	info->edc = ATR_EDC_LRC;

	if (info->ngroups >= 2) {
		const struct atr_group *g2 = &info->groups[1];

		if (g2->ta_present) {
			info->specific_mode = true;
			info->specific_protocol = g2->ta & 0x0F;
			info->specific_can_change = !(g2->ta & 0x80);
			info->specific_implicit = (g2->ta & 0x10) != 0;
			if (info->specific_protocol == 15)
				return ATR_ERR_BAD_TA2;
		}
		/* TC2 is specific to T=0 (7816-3 §10.2). */
		if (g2->tc_present && g2->tc != 0)
			info->wi = g2->tc;
	}
	/* Groups i >= 3 carry bytes specific to the T named by TD(i-1); the
	 * first TA/TB/TC for T=1 counts (7816-3 §11.4). */
	for (unsigned i = 2; i < info->ngroups; i++) {
		const struct atr_group *g = &info->groups[i];

		if (g->protocol == 1) {
			if (g->ta_present && !info->ifsc_present) {
				if (g->ta == 0x00 || g->ta == 0xFF)
					return ATR_ERR_BAD_IFSC;
				info->ifsc_present = true;
				info->ifsc = g->ta;
			}
			if (g->tb_present && !info->bwi_cwi_present) {
				info->bwi_cwi_present = true;
				info->bwi = g->tb >> 4;
				info->cwi = g->tb & 0x0F;
				if (info->bwi > ATR_MAX_BWI)
					return ATR_ERR_BAD_BWI;
			}
			if (g->tc_present && !info->edc_present) {
				info->edc_present = true;
				info->edc = (g->tc & 0x01) ? ATR_EDC_CRC : ATR_EDC_LRC;
			}
		} else if (g->protocol == 15 && g->ta_present && info->t15_ta == 0) {
			info->t15_ta = g->ta;
		}
	}
	return ATR_OK;
}

enum atr_status atr_parse(const uint8_t *buf, size_t len, struct atr_info *info)
{
	enum atr_status st;

	if (!buf || !info)
		return ATR_ERR_NULL;
	memset(info, 0, sizeof(*info));
	if (len < 2)
		return ATR_ERR_TOO_SHORT;
	if (len > ATR_MAX_LEN)
		return ATR_ERR_TOO_LONG;
	if (buf[0] != ATR_TS_DIRECT && buf[0] != ATR_TS_INVERSE)
		return ATR_ERR_BAD_TS;
	info->inverse_convention = buf[0] == ATR_TS_INVERSE;
	info->t0 = buf[1];

	st = parse_structure(buf, len, info);
	if (st != ATR_OK)
		return st;
	derive_global(info);
	st = derive_specific(info);
	if (st != ATR_OK)
		return st;
	memcpy(info->raw, buf, len);
	info->len = len;
	return ATR_OK;
}

/* ---- PPS ---------------------------------------------------------------- */

uint32_t atr_fidi_rate_bps(uint8_t fidi, uint32_t clock_khz)
{
	uint16_t fi;
	uint8_t di;

	if (!atr_fi_lookup(fidi >> 4, &fi, NULL) || !atr_di_lookup(fidi & 0x0F, &di))
		return 0;
	return (uint32_t)((uint64_t)clock_khz * 1000u * di / fi);
}

static bool rate_supported(uint32_t rate, uint32_t max_rate_bps, const uint32_t *rates,
                           size_t nrates)
{
	if (rate == 0 || (max_rate_bps && rate > max_rate_bps))
		return false;
	if (nrates == 0 || !rates)
		return true;
	for (size_t i = 0; i < nrates; i++)
		if (rate + 2 >= rates[i] && rate <= rates[i] + 2)
			return true;
	return false;
}

bool atr_select_fidi(const struct atr_info *info, uint32_t clock_khz, uint32_t max_rate_bps,
                     const uint32_t *rates, size_t nrates, uint8_t *fidi)
{
	uint8_t fi_index;

	if (!info || !fidi)
		return false;
	*fidi = 0x11;
	if (!info->ta1_present || !info->ta1_valid)
		return true;
	if (rate_supported(atr_fidi_rate_bps(info->ta1, clock_khz), max_rate_bps, rates, nrates)) {
		*fidi = info->ta1;
		return true;
	}
	/* Specific mode with explicit parameters: TA1 or nothing. */
	if (info->specific_mode && !info->specific_implicit)
		return false;
	fi_index = info->fi_index;
	/* Step D down keeping Fi: the card accepts any D up to its own at the
	 * same F.  Di codes in ascending order of D (1 2 4 8 12 16 20 32 64). */
	{
		static const uint8_t by_value[] = { 1, 2, 3, 4, 8, 5, 9, 6, 7 };
		size_t pos = 0;

		while (pos < sizeof(by_value) && by_value[pos] != info->di_index)
			pos++;
		while (pos-- > 0) {
			uint8_t candidate = (uint8_t)(fi_index << 4 | by_value[pos]);

			if (rate_supported(atr_fidi_rate_bps(candidate, clock_khz), max_rate_bps,
			                   rates, nrates)) {
				*fidi = candidate;
				return true;
			}
		}
	}
	return true;
}

bool atr_pps_needed(const struct atr_info *info, unsigned protocol, uint8_t fidi)
{
	if (!info || info->specific_mode)
		return false;
	return protocol != info->default_protocol || fidi != 0x11;
}

size_t atr_pps_build(uint8_t *out, size_t cap, unsigned protocol, uint8_t fidi)
{
	size_t n = 0;
	uint8_t pck = 0;
	bool with_pps1 = fidi != 0x11;

	if (!out || protocol > 14 || cap < (with_pps1 ? 4u : 3u))
		return 0;
	out[n++] = 0xFF;
	out[n++] = (uint8_t)((with_pps1 ? 0x10 : 0x00) | protocol);
	if (with_pps1)
		out[n++] = fidi;
	for (size_t i = 0; i < n; i++)
		pck ^= out[i];
	out[n++] = pck;
	return n;
}

bool atr_pps_response_ok(const uint8_t *req, size_t reqlen, const uint8_t *resp, size_t resplen,
                         uint8_t *fidi)
{
	size_t pos = 2;
	uint8_t x = 0;

	if (!req || !resp || reqlen < 3 || resplen < 3 || resplen > ATR_PPS_MAX_LEN)
		return false;
	if (resp[0] != 0xFF || (resp[1] & 0x0F) != (req[1] & 0x0F))
		return false;
	/* The card may drop PPS1/2/3 but never add one we did not ask for. */
	if ((resp[1] & 0x70) & ~(req[1] & 0x70))
		return false;
	for (uint8_t bit = 0x10; bit <= 0x40; bit <<= 1)
		if (resp[1] & bit)
			pos++;
	if (resplen != pos + 1)
		return false;
	for (size_t i = 0; i < resplen; i++)
		x ^= resp[i];
	if (x != 0)
		return false;
	if (resp[1] & 0x10) {
		/* PPS1 must echo ours (§9.3). */
		if (reqlen < 4 || resp[2] != req[2])
			return false;
		if (fidi)
			*fidi = resp[2];
	} else if (fidi) {
		*fidi = 0x11;
	}
	return true;
}

/* ---- contactless ------------------------------------------------------- */

/* PC/SC Part 3: a contactless pseudo-ATR is 3B 8n 80 01 <n historical> TCK:
 * TD1 = 0x80 (only TD2 follows, T=0), TD2 = 0x01 (T=1, nothing follows). */
static bool is_part3_shape(const struct atr_info *info)
{
	return info->raw[0] == ATR_TS_DIRECT && (info->t0 & 0xF0) == 0x80
	       && info->ngroups == 3
	       && info->groups[0].td_present && info->groups[0].td == 0x80
	       && info->groups[1].td_present && info->groups[1].td == 0x01
	       && !info->groups[2].td_present && !info->groups[2].ta_present
	       && !info->groups[2].tb_present && !info->groups[2].tc_present;
}

bool atr_contactless(const struct atr_info *info, struct atr_contactless *cl)
{
	static const uint8_t storage_prefix[] = { 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06 };
	const uint8_t *h;

	if (!info || !cl)
		return false;
	memset(cl, 0, sizeof(*cl));
	if (info->len == 0 || !is_part3_shape(info))
		return false;
	h = info->historical;
	if (info->nhistorical >= 11
	    && memcmp(h, storage_prefix, sizeof(storage_prefix)) == 0) {
		cl->kind = ATR_CL_STORAGE;
		cl->standard = h[8];
		cl->card_name = (uint16_t)(h[9] << 8 | h[10]);
		return true;
	}
	/* Type B: 4 bytes ATQB application data, 3 bytes protocol info, 1 byte
	 * MBLI (high nibble) with the low nibble RFU = 0.  Protocol info byte 2
	 * low nibble is the Protocol_Type whose b1 says "ISO 14443-4 compliant",
	 * which a PC/SC reader only reports for such cards; b4 is RFU (0).  A
	 * Type A ATS may also have 8 historical bytes, so this is a heuristic:
	 * an ATS usually starts with category indicator 0x00, 0x10 or 0x80. */
	if (info->nhistorical == 8 && (h[7] & 0x0F) == 0 && (h[5] & 0x09) == 0x01
	    && h[0] != 0x80 && h[0] != 0x10) {
		cl->kind = ATR_CL_TYPE_B;
		cl->type_b_max_frame = h[5] >> 4;
		cl->type_b_fwi = h[6] >> 4;
		return true;
	}
	cl->kind = ATR_CL_ISO14443_4;
	return true;
}

/* ---- timing ------------------------------------------------------------ */

uint64_t atr_etu_ns(uint16_t f, uint8_t d, uint32_t clock_khz)
{
	if (f == 0 || d == 0 || clock_khz == 0)
		return 0;
	/* F / (D * f[kHz] * 1000) s = F * 1e6 / (D * f[kHz]) ns */
	return ((uint64_t)f * 1000000u + (uint64_t)d * clock_khz - 1)
	       / ((uint64_t)d * clock_khz);
}

static uint32_t ns_to_ms_ceil(uint64_t ns)
{
	uint64_t ms = (ns + 999999u) / 1000000u;

	return ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
}

static uint64_t bwt_ns(uint8_t bwi, uint16_t f, uint8_t d, uint32_t clock_khz)
{
	if (clock_khz == 0)
		return 0;
	if (bwi > 15)
		bwi = 15;
	return 11 * atr_etu_ns(f, d, clock_khz)
	       + (((uint64_t)1 << bwi) * 960u * ATR_FD * 1000000u + clock_khz - 1) / clock_khz;
}

uint32_t atr_t1_bwt_ms(uint8_t bwi, uint16_t f, uint8_t d, uint32_t clock_khz)
{
	return ns_to_ms_ceil(bwt_ns(bwi, f, d, clock_khz));
}

static uint64_t cwt_ns(uint8_t cwi, uint16_t f, uint8_t d, uint32_t clock_khz)
{
	if (cwi > 15)
		cwi = 15;
	return (11 + ((uint64_t)1 << cwi)) * atr_etu_ns(f, d, clock_khz);
}

uint32_t atr_t1_cwt_ms(uint8_t cwi, uint16_t f, uint8_t d, uint32_t clock_khz)
{
	return ns_to_ms_ceil(cwt_ns(cwi, f, d, clock_khz));
}

static uint64_t wwt_ns(uint8_t wi, uint16_t fi, uint32_t clock_khz)
{
	if (clock_khz == 0)
		return 0;
	return ((uint64_t)wi * 960u * fi * 1000000u + clock_khz - 1) / clock_khz;
}

uint32_t atr_t0_wwt_ms(uint8_t wi, uint16_t fi, uint32_t clock_khz)
{
	return ns_to_ms_ceil(wwt_ns(wi, fi, clock_khz));
}

static uint32_t clamp_timeout(uint64_t ms)
{
	if (ms < ATR_READ_TIMEOUT_MIN_MS)
		return ATR_READ_TIMEOUT_MIN_MS;
	if (ms > ATR_READ_TIMEOUT_CAP_MS)
		return ATR_READ_TIMEOUT_CAP_MS;
	return (uint32_t)ms;
}

uint32_t atr_read_timeout_ms(const struct atr_info *info, unsigned protocol,
                             uint16_t f, uint8_t d, uint32_t clock_khz)
{
	uint64_t etu, guard, ns;

	if (!info || clock_khz == 0 || f == 0 || d == 0)
		return ATR_READ_TIMEOUT_CAP_MS;
	etu = atr_etu_ns(f, d, clock_khz);
	/* 12 etu per character, plus N extra etu of guard time (N=255 means
	 * the minimum, i.e. no extra). */
	guard = (uint64_t)(12 + (info->n == 255 ? 0 : info->n)) * etu;
	if (protocol == 1) {
		/* Reader's first byte within BWT, then up to 259 more characters
		 * each within CWT of the previous one. */
		ns = bwt_ns(info->bwi, f, d, clock_khz)
		     + 260 * (cwt_ns(info->cwi, f, d, clock_khz) + guard);
	} else {
		/* Each of up to 260 characters may come WWT after the last. */
		ns = 260 * (wwt_ns(info->wi, info->fi, clock_khz) + guard);
	}
	return clamp_timeout((uint64_t)ns_to_ms_ceil(ns) + ATR_READ_TIMEOUT_MARGIN_MS);
}

uint32_t atr_apply_multiplier_ms(uint32_t base_ms, unsigned multiplier)
{
	uint64_t ms = (uint64_t)base_ms * (multiplier ? multiplier : 1);

	return ms > ATR_READ_TIMEOUT_CAP_MS ? ATR_READ_TIMEOUT_CAP_MS : (uint32_t)ms;
}

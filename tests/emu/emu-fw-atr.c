/* emu-fw-atr.c — ATR reading and the Type B pseudo-ATR (see emu-fw-atr.h). */
#include "emu-fw-atr.h"

#include <string.h>

static unsigned popcount4(uint8_t nibble)
{
	unsigned n = 0;
	for (unsigned bit = 0; bit < 4; bit++)
		n += (nibble >> bit) & 1u;
	return n;
}

bool emu_atr_parse(const uint8_t *atr, size_t atr_len, emu_atr_info *info)
{
	memset(info, 0, sizeof(*info));
	info->ta1 = 0x11;
	info->ifsc = T1_DEFAULT_IFS;
	info->t1_waiting = 0x4D;

	if (atr_len < 2 || atr_len > ATR_MAX_LEN)
		return false;
	if (atr[0] != ATR_TS_DIRECT && atr[0] != ATR_TS_INVERSE)
		return false;
	info->inverse = atr[0] == ATR_TS_INVERSE;

	size_t pos = 1;
	uint8_t y = atr[1] >> 4;
	const unsigned historical = atr[1] & 0x0F;
	unsigned level = 1;               /* i of the interface bytes TAi..TDi */
	int protocol_of_level = -1;       /* protocol announced by TD(i-1) */
	bool t1_ta_seen = false, t1_tb_seen = false, t1_tc_seen = false;
	bool tck_required = false;
	pos++;

	for (;;) {
		if (pos + popcount4(y) > atr_len)
			return false;
		const bool for_t1 = level >= 3 && protocol_of_level == 1;
		if (y & 0x1) {                 /* TAi */
			if (level == 1)
				info->ta1 = atr[pos];
			else if (for_t1 && !t1_ta_seen) {
				info->ifsc = atr[pos];
				t1_ta_seen = true;
			}
			pos++;
		}
		if (y & 0x2) {                 /* TBi */
			if (for_t1 && !t1_tb_seen) {
				info->t1_waiting = atr[pos];
				t1_tb_seen = true;
			}
			pos++;
		}
		if (y & 0x4) {                 /* TCi */
			if (level == 1)
				info->tc1 = atr[pos];
			else if (for_t1 && !t1_tc_seen) {
				info->t1_crc = atr[pos] & 0x01;
				t1_tc_seen = true;
			}
			pos++;
		}
		if (!(y & 0x8))
			break;
		const uint8_t td = atr[pos++];
		const uint8_t protocol = td & 0x0F;
		if (level == 1)
			info->first_protocol = protocol;
		if (protocol == 0)
			info->offers_t0 = true;
		else if (protocol == 1)
			info->offers_t1 = true;
		if (protocol != 0)
			tck_required = true;
		protocol_of_level = protocol;
		y = td >> 4;
		level++;
	}
	if (level == 1)
		info->offers_t0 = true;   /* no TD1: T=0 only */

	if (pos + historical > atr_len)
		return false;
	pos += historical;
	if (tck_required) {
		if (pos + 1 != atr_len)
			return false;
		uint8_t check = 0;
		for (size_t i = 1; i < atr_len; i++)
			check ^= atr[i];
		if (check != 0)
			return false;
	} else if (pos != atr_len) {
		return false;
	}
	return true;
}

size_t emu_pseudo_atr_type_b(const emu_card *card, uint8_t atr[ATR_MAX_LEN])
{
	size_t n = 0;
	atr[n++] = ATR_TS_DIRECT;
	atr[n++] = 0x88;   /* TD1 present, 8 historical bytes */
	atr[n++] = 0x80;   /* TD2 present, T=0 */
	atr[n++] = 0x01;   /* T=1 */
	memcpy(atr + n, card->atqb_app_data, 4);
	n += 4;
	memcpy(atr + n, card->atqb_protocol_info, 3);
	n += 3;
	atr[n++] = card->atqb_mbli;
	uint8_t tck = 0;
	for (size_t i = 1; i < n; i++)
		tck ^= atr[i];
	atr[n++] = tck;
	return n;
}

/* emu-fw-keypad.c — PIN structures and digit insertion (see emu-fw-keypad.h). */
#include "emu-fw-keypad.h"

#include <string.h>
#include <onshi/ccid-const.h>
#include <onshi/part10-const.h>

/* Offsets in abData (index 0 = bPINOperation). */
enum {
	V_TIMEOUT = 1, V_FORMAT = 2, V_BLOCK = 3, V_LENFMT = 4, V_MAXMIN = 5,
	V_VALID = 7, V_NUMMSG = 8, V_LANG = 9, V_MSGIDX = 11, V_TEO = 12, V_APDU = 15,
};
enum {
	M_TIMEOUT = 1, M_FORMAT = 2, M_BLOCK = 3, M_LENFMT = 4, M_OFF_OLD = 5,
	M_OFF_NEW = 6, M_MAXMIN = 7, M_CONFIRM = 9, M_VALID = 10, M_NUMMSG = 11,
	M_LANG = 12, M_MSGIDX1 = 14,
};

#define MSG_OFF(i) ((unsigned)(CCID_HEADER_LEN + (i)))

static unsigned digit_bits(uint8_t format)
{
	return (format & PIN_FMT_TYPE_MASK) == PIN_FMT_TYPE_BCD ? 4 : 8;
}

static unsigned pin_pos_bits(uint8_t format)
{
	unsigned pos = (format & PIN_FMT_POS_MASK) >> PIN_FMT_POS_SHIFT;
	return (format & PIN_FMT_SYSTEM_UNITS_BYTES) ? pos * 8 : pos;
}

/* Bits the PIN occupies: the PIN block, or max digits when no block size. */
static unsigned region_bits(const emu_pin_request *r)
{
	unsigned block_bytes = r->block & 0x0F;
	return block_bytes ? block_bytes * 8 : r->max_digits * digit_bits(r->format);
}

static unsigned length_pos_bits(uint8_t length_format)
{
	unsigned pos = length_format & 0x0F;
	return (length_format & 0x10) ? pos * 8 : pos;
}

/* The template must be CLA INS P1 P2 Lc data [Le] with a short Lc. */
static unsigned check_apdu(emu_pin_request *r, const uint8_t *data, size_t len, size_t at)
{
	if (len < at + 5)
		return MSG_OFF(len < at ? len : at);
	r->apdu = data + at;
	r->apdu_len = len - at;
	r->apdu_msg_offset = MSG_OFF(at);
	unsigned lc = r->apdu[4];
	if (lc == 0 || (r->apdu_len != 5u + lc && r->apdu_len != 6u + lc))
		return MSG_OFF(at + 4);
	return 0;
}

/* Every place a PIN or its length goes must lie inside the APDU data. */
static unsigned check_layout(const emu_pin_request *r, size_t fmt_i, size_t block_i,
			     size_t lenfmt_i, size_t maxmin_i)
{
	const unsigned data_bits = (unsigned)r->apdu[4] * 8;
	const unsigned type = r->format & PIN_FMT_TYPE_MASK;
	if (type != PIN_FMT_TYPE_BINARY && type != PIN_FMT_TYPE_BCD && type != PIN_FMT_TYPE_ASCII)
		return MSG_OFF(fmt_i);
	if (r->max_digits == 0 || r->max_digits > EMU_PIN_MAX_DIGITS || r->min_digits > r->max_digits)
		return MSG_OFF(maxmin_i);
	if (r->max_digits * digit_bits(r->format) > region_bits(r))
		return MSG_OFF(maxmin_i);
	const unsigned offsets[2] = { r->modify ? r->offset_old * 8u : 0, r->modify ? r->offset_new * 8u : 0 };
	for (unsigned i = 0; i < (r->modify ? 2u : 1u); i++) {
		if (pin_pos_bits(r->format) + offsets[i] + region_bits(r) > data_bits)
			return MSG_OFF(r->modify ? (size_t)(M_OFF_OLD + i) : block_i);
		unsigned len_bits = r->block >> 4;
		if (len_bits && length_pos_bits(r->length_format) + offsets[i] + len_bits > data_bits)
			return MSG_OFF(lenfmt_i);
	}
	return 0;
}

unsigned emu_pin_parse(const uint8_t *data, size_t len, emu_pin_request *r)
{
	memset(r, 0, sizeof(*r));
	if (len < 1)
		return CCID_ERR_BAD_LENGTH;
	if (data[0] == CCID_SECURE_PIN_VERIFY) {
		if (len < V_APDU)
			return CCID_ERR_BAD_LENGTH;
		r->timeout_s = data[V_TIMEOUT];
		r->format = data[V_FORMAT];
		r->block = data[V_BLOCK];
		r->length_format = data[V_LENFMT];
		r->max_digits = data[V_MAXMIN];
		r->min_digits = data[V_MAXMIN + 1];
		r->validation = data[V_VALID];
		memcpy(r->teo_prologue, data + V_TEO, 3);
		unsigned bad = check_apdu(r, data, len, V_APDU);
		if (!bad)
			bad = check_layout(r, V_FORMAT, V_BLOCK, V_LENFMT, V_MAXMIN);
		if (!r->timeout_s)
			r->timeout_s = EMU_PIN_DEFAULT_TIMEOUT_S;
		return bad;
	}
	if (data[0] == CCID_SECURE_PIN_MODIFY) {
		if (len <= M_MSGIDX1)
			return CCID_ERR_BAD_LENGTH;
		r->modify = true;
		r->timeout_s = data[M_TIMEOUT];
		r->format = data[M_FORMAT];
		r->block = data[M_BLOCK];
		r->length_format = data[M_LENFMT];
		r->offset_old = data[M_OFF_OLD];
		r->offset_new = data[M_OFF_NEW];
		r->max_digits = data[M_MAXMIN];
		r->min_digits = data[M_MAXMIN + 1];
		r->confirm = data[M_CONFIRM];
		r->validation = data[M_VALID];
		size_t at = M_MSGIDX1 + 1;
		if (data[M_NUMMSG] != 0)
			at++;                  /* bMsgIndex2 */
		if (data[M_NUMMSG] >= 3)
			at++;                  /* bMsgIndex3 */
		if (len < at + 3)
			return CCID_ERR_BAD_LENGTH;
		memcpy(r->teo_prologue, data + at, 3);
		if (r->confirm & ~0x03u)
			return MSG_OFF(M_CONFIRM);
		unsigned bad = check_apdu(r, data, len, at + 3);
		if (!bad)
			bad = check_layout(r, M_FORMAT, M_BLOCK, M_LENFMT, M_MAXMIN);
		if (!r->timeout_s)
			r->timeout_s = EMU_PIN_DEFAULT_TIMEOUT_S;
		return bad;
	}
	return MSG_OFF(0);
}

unsigned emu_pin_entries_needed(const emu_pin_request *r)
{
	if (!r->modify)
		return 1;
	return 1u + ((r->confirm & 0x02) ? 1u : 0u) + ((r->confirm & 0x01) ? 1u : 0u);
}

/* Write `nbits` (<= 8) of value at bit offset `bit` (MSB first). */
static void put_bits(uint8_t *data, unsigned bit, unsigned nbits, unsigned value)
{
	for (unsigned i = 0; i < nbits; i++) {
		unsigned b = bit + i;
		uint8_t mask = (uint8_t)(0x80u >> (b % 8));
		if ((value >> (nbits - 1 - i)) & 1u)
			data[b / 8] |= mask;
		else
			data[b / 8] &= (uint8_t)~mask;
	}
}

static void insert_pin(const emu_pin_request *r, uint8_t *apdu_data, unsigned extra_bits,
		       const char *pin, size_t pin_len)
{
	const unsigned dbits = digit_bits(r->format);
	unsigned start = pin_pos_bits(r->format) + extra_bits;
	if (r->format & PIN_FMT_RIGHT_JUSTIFY)
		start += region_bits(r) - (unsigned)pin_len * dbits;
	for (size_t i = 0; i < pin_len; i++) {
		unsigned digit = (unsigned)(pin[i] - '0');
		unsigned value = (r->format & PIN_FMT_TYPE_MASK) == PIN_FMT_TYPE_ASCII ? (unsigned)pin[i] : digit;
		put_bits(apdu_data, start + (unsigned)i * dbits, dbits, value);
	}
	unsigned len_bits = r->block >> 4;
	if (len_bits) {
		/* a length field wider than 8 bits: the upper bits are zero */
		unsigned pos = length_pos_bits(r->length_format) + extra_bits;
		for (; len_bits > 8; len_bits -= 8, pos += 8)
			put_bits(apdu_data, pos, 8, 0);
		put_bits(apdu_data, pos, len_bits, (unsigned)pin_len);
	}
}

static bool pin_ok(const emu_pin_request *r, const char *pin, size_t len)
{
	if (len < r->min_digits || len > r->max_digits)
		return false;
	for (size_t i = 0; i < len; i++)
		if (pin[i] < '0' || pin[i] > '9')
			return false;
	return true;
}

int emu_pin_build(const emu_pin_request *r, const char *pin_old, size_t old_len,
		  const char *pin_new, size_t new_len, uint8_t *out)
{
	const bool with_old = r->modify && (r->confirm & 0x02);
	if (!pin_ok(r, pin_new, new_len) || (with_old && !pin_ok(r, pin_old, old_len)))
		return -1;
	memcpy(out, r->apdu, r->apdu_len);
	uint8_t *data = out + 5;
	if (!r->modify) {
		insert_pin(r, data, 0, pin_new, new_len);
		return 0;
	}
	if (with_old)
		insert_pin(r, data, r->offset_old * 8u, pin_old, old_len);
	insert_pin(r, data, r->offset_new * 8u, pin_new, new_len);
	return 0;
}

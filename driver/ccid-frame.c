/* ccid-frame.c — CCID message codec; see ccid-frame.h for the contract. */
#include "ccid-frame.h"

#include <string.h>

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Writes the 10-byte header after checking that header + payload fit. */
static ssize_t put_header(uint8_t *buf, size_t cap, uint8_t type, size_t payload,
                          uint8_t slot, uint8_t seq, uint8_t p1, uint8_t p2, uint8_t p3)
{
	if (!buf)
		return CCID_FRAME_E_INVALID;
	if (payload > CCID_MAX_PAYLOAD)
		return CCID_FRAME_E_INVALID;
	if (cap < CCID_HEADER_LEN || payload > cap - CCID_HEADER_LEN)
		return CCID_FRAME_E_NOSPACE;
	buf[CCID_OFF_TYPE] = type;
	put_le32(buf + CCID_OFF_LENGTH, (uint32_t)payload);
	buf[CCID_OFF_SLOT] = slot;
	buf[CCID_OFF_SEQ] = seq;
	buf[CCID_OFF_SPECIFIC] = p1;
	buf[CCID_OFF_SPECIFIC + 1] = p2;
	buf[CCID_OFF_SPECIFIC + 2] = p3;
	return (ssize_t)(CCID_HEADER_LEN + payload);
}

static ssize_t build_with_data(uint8_t *buf, size_t cap, uint8_t type, uint8_t slot,
                               uint8_t seq, uint8_t p1, uint8_t p2, uint8_t p3,
                               const uint8_t *data, size_t len)
{
	ssize_t n;

	if (len && !data)
		return CCID_FRAME_E_INVALID;
	n = put_header(buf, cap, type, len, slot, seq, p1, p2, p3);
	if (n > 0 && len)
		memcpy(buf + CCID_HEADER_LEN, data, len);
	return n;
}

ssize_t ccid_build_power_on(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq, uint8_t voltage)
{
	if (voltage > CCID_VOLTAGE_1_8V)
		return CCID_FRAME_E_INVALID;
	return put_header(buf, cap, PC_TO_RDR_ICC_POWER_ON, 0, slot, seq, voltage, 0, 0);
}

ssize_t ccid_build_power_off(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq)
{
	return put_header(buf, cap, PC_TO_RDR_ICC_POWER_OFF, 0, slot, seq, 0, 0, 0);
}

ssize_t ccid_build_get_slot_status(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq)
{
	return put_header(buf, cap, PC_TO_RDR_GET_SLOT_STATUS, 0, slot, seq, 0, 0, 0);
}

ssize_t ccid_build_xfr_block(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                             uint8_t bwi, uint16_t level_param,
                             const uint8_t *data, size_t len)
{
	return build_with_data(buf, cap, PC_TO_RDR_XFR_BLOCK, slot, seq, bwi,
	                       (uint8_t)level_param, (uint8_t)(level_param >> 8), data, len);
}

ssize_t ccid_build_get_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq)
{
	return put_header(buf, cap, PC_TO_RDR_GET_PARAMETERS, 0, slot, seq, 0, 0, 0);
}

ssize_t ccid_build_reset_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq)
{
	return put_header(buf, cap, PC_TO_RDR_RESET_PARAMETERS, 0, slot, seq, 0, 0, 0);
}

ssize_t ccid_build_escape(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                          const uint8_t *data, size_t len)
{
	return build_with_data(buf, cap, PC_TO_RDR_ESCAPE, slot, seq, 0, 0, 0, data, len);
}

ssize_t ccid_build_abort(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq)
{
	return put_header(buf, cap, PC_TO_RDR_ABORT, 0, slot, seq, 0, 0, 0);
}

/* ---- parameters ---------------------------------------------------------- */

bool ccid_params_from_atr(const struct atr_info *info, unsigned protocol, uint8_t fidi,
                          struct ccid_params *p)
{
	if (!info || !p || protocol > 1)
		return false;
	memset(p, 0, sizeof(*p));
	p->protocol = (uint8_t)protocol;
	p->fidi = fidi;
	p->guard_time = info->n;
	/* bmTCCKST: b1 = inverse convention; for T=1 b0 = CRC and b4 is always
	 * set (CCID 1.1 allows only 0x10..0x13 for bmTCCKST1). */
	if (protocol == 0) {
		p->tcckst = info->inverse_convention ? 0x02 : 0x00;
		p->waiting_integer = info->wi;
	} else {
		p->tcckst = (uint8_t)(0x10 | (info->inverse_convention ? 0x02 : 0x00)
		                      | (info->edc == ATR_EDC_CRC ? 0x01 : 0x00));
		p->waiting_integer = (uint8_t)(info->bwi << 4 | (info->cwi & 0x0F));
		p->ifsc = info->ifsc;
		p->nad = 0;
	}
	return true;
}

ssize_t ccid_build_set_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                  const struct ccid_params *p)
{
	size_t len;
	ssize_t n;

	if (!p || p->protocol > 1)
		return CCID_FRAME_E_INVALID;
	len = p->protocol ? CCID_T1_PARAMS_LEN : CCID_T0_PARAMS_LEN;
	n = put_header(buf, cap, PC_TO_RDR_SET_PARAMETERS, len, slot, seq, p->protocol, 0, 0);
	if (n < 0)
		return n;
	buf[10] = p->fidi;
	buf[11] = p->tcckst;
	buf[12] = p->guard_time;
	buf[13] = p->waiting_integer;
	buf[14] = p->clock_stop;
	if (p->protocol) {
		buf[15] = p->ifsc;
		buf[16] = p->nad;
	}
	return n;
}

bool ccid_params_parse(uint8_t protocol, const uint8_t *data, size_t len, struct ccid_params *p)
{
	if (!p || !data || protocol > 1)
		return false;
	if (len != (protocol ? CCID_T1_PARAMS_LEN : CCID_T0_PARAMS_LEN))
		return false;
	memset(p, 0, sizeof(*p));
	p->protocol = protocol;
	p->fidi = data[0];
	p->tcckst = data[1];
	p->guard_time = data[2];
	p->waiting_integer = data[3];
	p->clock_stop = data[4];
	if (protocol) {
		p->ifsc = data[5];
		p->nad = data[6];
	}
	return true;
}

/* ---- Secure (PIN pad) ------------------------------------------------------ */

/* Returns the APDU length announced by ulDataLength at `off`, detecting a
 * big-endian structure; -1 if neither byte order matches the bytes present. */
static long pin_data_length(const uint8_t *s, size_t len, size_t off, bool *big_endian)
{
	size_t present = len - (off + 4);

	*big_endian = false;
	if (le32(s + off) == present)
		return (long)present;
	if (be32(s + off) == present) {
		*big_endian = true;
		return (long)present;
	}
	return -1;
}

static uint8_t sane_validation(uint8_t v)
{
	return (v >= 0x01 && v <= 0x07) ? v : PIN_VALIDATE_KEY;
}

/* Copies a u16 field as little-endian whatever the caller's byte order. */
static void copy_u16(uint8_t *dst, const uint8_t *src, bool big_endian)
{
	dst[0] = big_endian ? src[1] : src[0];
	dst[1] = big_endian ? src[0] : src[1];
}

static bool apdu_len_ok(long n)
{
	/* A command APDU is at least CLA INS P1 P2. */
	return n >= 4 && (unsigned long)n <= CCID_MAX_PAYLOAD - 32;
}

ssize_t ccid_build_secure_verify(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                 uint8_t bwi, const uint8_t *s, size_t len)
{
	/* CCID abPINDataStructure for verify: bTimeOut bmFormatString
	 * bmPINBlockString bmPINLengthFormat wPINMaxExtraDigit(2)
	 * bEntryValidationCondition bNumberMessage wLangId(2) bMsgIndex
	 * bTeoPrologue(3) = 14 bytes, preceded by bPINOperation. */
	enum { FIXED = 1 + 14 };
	bool be;
	long apdu;
	ssize_t n;
	uint8_t *o;

	if (!s || len < PIN_VERIFY_HEADER_LEN)
		return CCID_FRAME_E_PIN_STRUCT;
	apdu = pin_data_length(s, len, PIN_VERIFY_ulDataLength, &be);
	if (apdu < 0 || !apdu_len_ok(apdu))
		return CCID_FRAME_E_PIN_STRUCT;
	n = put_header(buf, cap, PC_TO_RDR_SECURE, FIXED + (size_t)apdu, slot, seq, bwi, 0, 0);
	if (n < 0)
		return n;
	o = buf + CCID_HEADER_LEN;
	o[0] = CCID_SECURE_PIN_VERIFY;
	o[1] = s[PIN_VERIFY_bTimerOut];
	o[2] = s[PIN_VERIFY_bmFormatString];
	o[3] = s[PIN_VERIFY_bmPINBlockString];
	o[4] = s[PIN_VERIFY_bmPINLengthFormat];
	copy_u16(o + 5, s + PIN_VERIFY_wPINMaxExtraDigit, be);
	o[7] = sane_validation(s[PIN_VERIFY_bEntryValidationCondition]);
	o[8] = s[PIN_VERIFY_bNumberMessage];
	copy_u16(o + 9, s + PIN_VERIFY_wLangId, be);
	o[11] = s[PIN_VERIFY_bMsgIndex];
	memcpy(o + 12, s + PIN_VERIFY_bTeoPrologue, 3);
	memcpy(o + 15, s + PIN_VERIFY_abData, (size_t)apdu);
	return n;
}

ssize_t ccid_build_secure_modify(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                 uint8_t bwi, const uint8_t *s, size_t len)
{
	enum {
		M_TIMEOUT = PIN_MODIFY_bTimerOut, M_FORMAT = PIN_MODIFY_bmFormatString,
		M_BLOCK = PIN_MODIFY_bmPINBlockString, M_LENFMT = PIN_MODIFY_bmPINLengthFormat,
		M_OFF_OLD = PIN_MODIFY_bInsertionOffsetOld, M_OFF_NEW = PIN_MODIFY_bInsertionOffsetNew,
		M_MAXEXTRA = PIN_MODIFY_wPINMaxExtraDigit, M_CONFIRM = PIN_MODIFY_bConfirmPIN,
		M_VALID = PIN_MODIFY_bEntryValidationCondition, M_NMSG = PIN_MODIFY_bNumberMessage,
		M_LANG = PIN_MODIFY_wLangId, M_MSG1 = PIN_MODIFY_bMsgIndex1,
		M_MSG2 = PIN_MODIFY_bMsgIndex2, M_MSG3 = PIN_MODIFY_bMsgIndex3,
		M_TEO = PIN_MODIFY_bTeoPrologue, M_LEN = PIN_MODIFY_ulDataLength,
		M_DATA = PIN_MODIFY_abData,
	};
	bool be;
	long apdu;
	size_t fixed, k;
	uint8_t nmsg;
	ssize_t n;
	uint8_t *o;

	if (!s || len < PIN_MODIFY_HEADER_LEN)
		return CCID_FRAME_E_PIN_STRUCT;
	apdu = pin_data_length(s, len, M_LEN, &be);
	if (apdu < 0 || !apdu_len_ok(apdu))
		return CCID_FRAME_E_PIN_STRUCT;
	nmsg = s[M_NMSG];
	if (nmsg > 3 && nmsg != 0xFF)
		return CCID_FRAME_E_PIN_STRUCT;
	/* bMsgIndex2/3 are sent only when that many messages are announced
	 * (CCID 1.1 §6.1.11); 0xFF means "reader default", sent as 3. */
	/* bPINOperation, then bTimeOut .. bMsgIndex1 (14 bytes), the optional
	 * indexes and bTeoPrologue. */
	fixed = 1 + 14 + (nmsg >= 2 ? 1 : 0) + (nmsg >= 3 ? 1 : 0) + 3;
	n = put_header(buf, cap, PC_TO_RDR_SECURE, fixed + (size_t)apdu, slot, seq, bwi, 0, 0);
	if (n < 0)
		return n;
	o = buf + CCID_HEADER_LEN;
	o[0] = CCID_SECURE_PIN_MODIFY;
	o[1] = s[M_TIMEOUT];
	o[2] = s[M_FORMAT];
	o[3] = s[M_BLOCK];
	o[4] = s[M_LENFMT];
	o[5] = s[M_OFF_OLD];
	o[6] = s[M_OFF_NEW];
	copy_u16(o + 7, s + M_MAXEXTRA, be);
	o[9] = s[M_CONFIRM];
	o[10] = sane_validation(s[M_VALID]);
	o[11] = nmsg;
	copy_u16(o + 12, s + M_LANG, be);
	k = 14;
	o[k++] = s[M_MSG1];
	if (nmsg >= 2)
		o[k++] = s[M_MSG2];
	if (nmsg >= 3)
		o[k++] = s[M_MSG3];
	memcpy(o + k, s + M_TEO, 3);
	k += 3;
	memcpy(o + k, s + M_DATA, (size_t)apdu);
	return n;
}

/* ---- responses ---------------------------------------------------------- */

uint8_t ccid_response_type_for(uint8_t command_type)
{
	switch (command_type) {
	case PC_TO_RDR_ICC_POWER_ON:
	case PC_TO_RDR_XFR_BLOCK:
	case PC_TO_RDR_SECURE:
		return RDR_TO_PC_DATA_BLOCK;
	case PC_TO_RDR_ICC_POWER_OFF:
	case PC_TO_RDR_GET_SLOT_STATUS:
	case PC_TO_RDR_ICC_CLOCK:
	case PC_TO_RDR_T0_APDU:
	case PC_TO_RDR_MECHANICAL:
	case PC_TO_RDR_ABORT:
		return RDR_TO_PC_SLOT_STATUS;
	case PC_TO_RDR_GET_PARAMETERS:
	case PC_TO_RDR_RESET_PARAMETERS:
	case PC_TO_RDR_SET_PARAMETERS:
		return RDR_TO_PC_PARAMETERS;
	case PC_TO_RDR_ESCAPE:
		return RDR_TO_PC_ESCAPE;
	case PC_TO_RDR_SET_DATA_RATE_CLOCK:
		return RDR_TO_PC_DATA_RATE_CLOCK;
	}
	return 0;
}

bool ccid_peek_header(const uint8_t *rx, size_t rxlen, unsigned slots,
                      uint8_t *type, uint8_t *slot, uint8_t *seq)
{
	if (!rx || rxlen < CCID_HEADER_LEN)
		return false;
	if (rx[CCID_OFF_TYPE] < RDR_TO_PC_DATA_BLOCK || rx[CCID_OFF_TYPE] > RDR_TO_PC_DATA_RATE_CLOCK)
		return false;
	if (rx[CCID_OFF_SLOT] >= slots)
		return false;
	if (type)
		*type = rx[CCID_OFF_TYPE];
	if (slot)
		*slot = rx[CCID_OFF_SLOT];
	if (seq)
		*seq = rx[CCID_OFF_SEQ];
	return true;
}

static enum ccid_result decode_failure(uint8_t error, uint8_t icc, uint8_t *bad_offset)
{
	switch (error) {
	case CCID_ERR_CMD_ABORTED: return CCID_RES_ABORTED;
	case CCID_ERR_ICC_MUTE:
		/* Readers report "mute" both for a silent card and for no card;
		 * the ICC status bits tell which. */
		if (icc == CCID_ICC_ABSENT)
			return CCID_RES_ICC_ABSENT;
		if (icc == CCID_ICC_PRESENT_INACTIVE)
			return CCID_RES_ICC_INACTIVE;
		return CCID_RES_ICC_MUTE;
	case CCID_ERR_XFR_PARITY_ERROR: return CCID_RES_PARITY_ERROR;
	case CCID_ERR_XFR_OVERRUN: return CCID_RES_OVERRUN;
	case CCID_ERR_HW_ERROR: return CCID_RES_HW_ERROR;
	case CCID_ERR_BAD_ATR_TS:
	case CCID_ERR_BAD_ATR_TCK: return CCID_RES_BAD_ATR;
	case CCID_ERR_ICC_PROTOCOL_NOT_SUPPORTED: return CCID_RES_PROTOCOL_NOT_SUPPORTED;
	case CCID_ERR_ICC_CLASS_NOT_SUPPORTED: return CCID_RES_CLASS_NOT_SUPPORTED;
	case CCID_ERR_PROCEDURE_BYTE_CONFLICT: return CCID_RES_PROCEDURE_BYTE_CONFLICT;
	case CCID_ERR_DEACTIVATED_PROTOCOL: return CCID_RES_DEACTIVATED_PROTOCOL;
	case CCID_ERR_BUSY_WITH_AUTO_SEQUENCE: return CCID_RES_BUSY_AUTO_SEQUENCE;
	case CCID_ERR_PIN_TIMEOUT: return CCID_RES_PIN_TIMEOUT;
	case CCID_ERR_PIN_CANCELLED: return CCID_RES_PIN_CANCELLED;
	case CCID_ERR_CMD_SLOT_BUSY: return CCID_RES_SLOT_BUSY;
	case CCID_ERR_CMD_NOT_SUPPORTED: return CCID_RES_CMD_NOT_SUPPORTED;
	}
	if (error >= 0x01 && error <= 0x7F) {
		*bad_offset = error;
		return CCID_RES_BAD_PARAMETER;
	}
	if (icc == CCID_ICC_ABSENT)
		return CCID_RES_ICC_ABSENT;
	return CCID_RES_FAILED;
}

enum ccid_parse_status ccid_parse_response(const uint8_t *rx, size_t rxlen,
                                           uint8_t command_type, uint8_t slot, uint8_t seq,
                                           uint32_t max_message_length, size_t capacity,
                                           struct ccid_response *out)
{
	uint8_t want = ccid_response_type_for(command_type);
	uint32_t len, max_payload;

	if (!rx || !out || want == 0)
		return CCID_PARSE_INVALID;
	memset(out, 0, sizeof(*out));
	if (rxlen < CCID_HEADER_LEN)
		return CCID_PARSE_SHORT;
	out->type = rx[CCID_OFF_TYPE];
	out->slot = rx[CCID_OFF_SLOT];
	out->seq = rx[CCID_OFF_SEQ];
	if (out->type != want)
		return CCID_PARSE_WRONG_TYPE;
	if (out->slot != slot)
		return CCID_PARSE_WRONG_SLOT;
	if (out->seq != seq)
		return CCID_PARSE_WRONG_SEQ;
	len = le32(rx + CCID_OFF_LENGTH);
	max_payload = max_message_length > CCID_HEADER_LEN
	              ? max_message_length - CCID_HEADER_LEN : 0;
	if (max_payload > CCID_MAX_PAYLOAD)
		max_payload = CCID_MAX_PAYLOAD;
	if (len > max_payload)
		return CCID_PARSE_TOO_LONG;
	if (len > rxlen - CCID_HEADER_LEN)
		return CCID_PARSE_TRUNCATED;
	if (len > capacity)
		return CCID_PARSE_NO_ROOM;
	out->data_len = len;
	out->data = len ? rx + CCID_HEADER_LEN : NULL;
	out->status = rx[CCID_OFF_STATUS];
	out->error = rx[CCID_OFF_ERROR];
	out->chain = rx[CCID_OFF_CHAIN];
	out->icc_status = out->status & CCID_ICC_MASK;
	/* bStatus bits 2..5 are RFU; ICC status 3 and command status 3 are RFU. */
	if ((out->status & 0x3C) || out->icc_status == 0x03
	    || (out->status & CCID_CMD_MASK) == CCID_CMD_MASK)
		return CCID_PARSE_BAD_STATUS;
	switch (out->status & CCID_CMD_MASK) {
	case CCID_CMD_OK:
		out->result = CCID_RES_OK;
		break;
	case CCID_CMD_TIME_EXTENSION:
		out->result = CCID_RES_TIME_EXTENSION;
		out->wtx_multiplier = out->error ? out->error : 1;
		break;
	default:
		out->result = decode_failure(out->error, out->icc_status, &out->bad_offset);
		break;
	}
	return CCID_PARSE_OK;
}

const char *ccid_parse_strerror(enum ccid_parse_status st)
{
	switch (st) {
	case CCID_PARSE_OK: return "ok";
	case CCID_PARSE_SHORT: return "response shorter than the CCID header";
	case CCID_PARSE_WRONG_TYPE: return "unexpected response message type";
	case CCID_PARSE_WRONG_SLOT: return "response for another slot";
	case CCID_PARSE_WRONG_SEQ: return "response with another bSeq";
	case CCID_PARSE_TRUNCATED: return "dwLength exceeds the bytes received";
	case CCID_PARSE_TOO_LONG: return "dwLength exceeds dwMaxCCIDMessageLength";
	case CCID_PARSE_NO_ROOM: return "dwLength exceeds the receive buffer";
	case CCID_PARSE_BAD_STATUS: return "reserved bStatus value";
	case CCID_PARSE_INVALID: return "invalid argument";
	}
	return "unknown parse status";
}

const char *ccid_result_name(enum ccid_result r)
{
	static const char *const names[] = {
		[CCID_RES_OK] = "ok",
		[CCID_RES_TIME_EXTENSION] = "time extension",
		[CCID_RES_ICC_ABSENT] = "no card",
		[CCID_RES_ICC_INACTIVE] = "card not powered",
		[CCID_RES_ICC_MUTE] = "card mute",
		[CCID_RES_PARITY_ERROR] = "parity error",
		[CCID_RES_OVERRUN] = "overrun",
		[CCID_RES_HW_ERROR] = "hardware error",
		[CCID_RES_BAD_ATR] = "bad ATR",
		[CCID_RES_PROTOCOL_NOT_SUPPORTED] = "protocol not supported",
		[CCID_RES_CLASS_NOT_SUPPORTED] = "class not supported",
		[CCID_RES_PROCEDURE_BYTE_CONFLICT] = "procedure byte conflict",
		[CCID_RES_DEACTIVATED_PROTOCOL] = "deactivated protocol",
		[CCID_RES_BUSY_AUTO_SEQUENCE] = "busy with auto sequence",
		[CCID_RES_PIN_TIMEOUT] = "PIN entry timeout",
		[CCID_RES_PIN_CANCELLED] = "PIN entry cancelled",
		[CCID_RES_SLOT_BUSY] = "slot busy",
		[CCID_RES_CMD_NOT_SUPPORTED] = "command not supported",
		[CCID_RES_BAD_PARAMETER] = "bad parameter",
		[CCID_RES_ABORTED] = "aborted",
		[CCID_RES_FAILED] = "failed",
	};

	if ((unsigned)r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "unknown result";
}

/* ---- interrupt pipe ----------------------------------------------------- */

bool ccid_notify_valid(const uint8_t *msg, size_t len, unsigned slots)
{
	size_t need;

	if (!msg || slots == 0 || slots > 256)
		return false;
	need = 1 + (2 * (size_t)slots + 7) / 8;
	return len >= need && msg[0] == RDR_TO_PC_NOTIFY_SLOT_CHANGE;
}

bool ccid_notify_slot(const uint8_t *msg, size_t len, unsigned slot,
                      bool *present, bool *changed)
{
	size_t byte = 1 + (size_t)slot / 4;
	unsigned shift = (slot % 4) * 2;

	if (!msg || len < 1 || msg[0] != RDR_TO_PC_NOTIFY_SLOT_CHANGE || byte >= len)
		return false;
	if (present)
		*present = (msg[byte] >> shift) & 0x01;
	if (changed)
		*changed = (msg[byte] >> (shift + 1)) & 0x01;
	return true;
}

bool ccid_parse_hardware_error(const uint8_t *msg, size_t len, struct ccid_hw_error *out)
{
	if (!msg || !out || len < CCID_HW_ERROR_LEN || msg[0] != RDR_TO_PC_HARDWARE_ERROR)
		return false;
	out->slot = msg[1];
	out->seq = msg[2];
	out->code = msg[3];
	return true;
}

/* Check tests for driver/ccid-frame.c: exact PC_to_RDR bytes, response
 * validation and bStatus/bError decoding, interrupt messages, PIN pad. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ccid-frame.h"
#include "xchg-ext.h"

static size_t hex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = 0;

	while (*s) {
		if (*s == ' ') { s++; continue; }
		ck_assert_uint_lt(n, cap);
		out[n++] = (uint8_t)strtoul((char[]){ s[0], s[1], 0 }, NULL, 16);
		s += 2;
	}
	return n;
}

#define ASSERT_BYTES(buf, len, hexstr) do { \
	uint8_t exp_[512]; \
	size_t en_ = hex(hexstr, exp_, sizeof(exp_)); \
	ck_assert_int_eq((long)(len), (long)en_); \
	ck_assert_mem_eq(buf, exp_, en_); \
} while (0)

static const uint8_t sw9000_bytes[] = { 0x90, 0x00 };

START_TEST(simple_commands)
{
	uint8_t b[64];
	ssize_t n;

	n = ccid_build_power_on(b, sizeof(b), 0, 5, CCID_VOLTAGE_5V);
	ASSERT_BYTES(b, n, "62 00000000 00 05 01 0000");
	n = ccid_build_power_on(b, sizeof(b), 1, 0xFF, CCID_VOLTAGE_AUTO);
	ASSERT_BYTES(b, n, "62 00000000 01 FF 00 0000");
	ck_assert_int_eq(ccid_build_power_on(b, sizeof(b), 0, 0, 4), CCID_FRAME_E_INVALID);
	ck_assert_int_eq(ccid_build_power_on(b, 9, 0, 0, 1), CCID_FRAME_E_NOSPACE);
	ck_assert_int_eq(ccid_build_power_on(NULL, 64, 0, 0, 1), CCID_FRAME_E_INVALID);
	n = ccid_build_power_off(b, 10, 0, 6);
	ASSERT_BYTES(b, n, "63 00000000 00 06 000000");
	n = ccid_build_get_slot_status(b, sizeof(b), 2, 7);
	ASSERT_BYTES(b, n, "65 00000000 02 07 000000");
	n = ccid_build_get_parameters(b, sizeof(b), 0, 8);
	ASSERT_BYTES(b, n, "6C 00000000 00 08 000000");
	n = ccid_build_reset_parameters(b, sizeof(b), 0, 9);
	ASSERT_BYTES(b, n, "6D 00000000 00 09 000000");
	n = ccid_build_abort(b, sizeof(b), 0, 10);
	ASSERT_BYTES(b, n, "72 00000000 00 0A 000000");
}
END_TEST

START_TEST(xfr_block_and_escape)
{
	static const uint8_t apdu[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A };
	uint8_t b[32];
	ssize_t n;

	n = ccid_build_xfr_block(b, sizeof(b), 0, 7, 4, 0x0010, apdu, sizeof(apdu));
	ASSERT_BYTES(b, n, "6F 05000000 00 07 04 10 00 00A4040C0A");
	n = ccid_build_xfr_block(b, 15, 0, 7, 0, CCID_CHAIN_CONTINUE, apdu, sizeof(apdu));
	ASSERT_BYTES(b, n, "6F 05000000 00 07 00 03 00 00A4040C0A");
	ck_assert_int_eq(ccid_build_xfr_block(b, 14, 0, 7, 0, 0, apdu, sizeof(apdu)), CCID_FRAME_E_NOSPACE);
	ck_assert_int_eq(ccid_build_xfr_block(b, sizeof(b), 0, 7, 0, 0, NULL, 3), CCID_FRAME_E_INVALID);
	ck_assert_int_eq(ccid_build_xfr_block(b, sizeof(b), 0, 7, 0, 0, apdu, CCID_MAX_PAYLOAD + 1),
	                 CCID_FRAME_E_INVALID);
	n = ccid_build_xfr_block(b, sizeof(b), 0, 1, 0, 0, NULL, 0);
	ASSERT_BYTES(b, n, "6F 00000000 00 01 00 00 00");
	n = ccid_build_escape(b, sizeof(b), 0, 2, apdu, 2);
	ASSERT_BYTES(b, n, "6B 02000000 00 02 000000 00A4");
}
END_TEST

START_TEST(set_parameters_from_atr)
{
	static const uint8_t c5[] = { 0x3B, 0xC5, 0xFF, 0x81, 0x31, 0xFB, 0x45, 0x80, 0x73, 0xC6, 0x01, 0x00, 0x00 };
	static const uint8_t da[] = { 0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
	                              0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B };
	static const uint8_t crc[] = { 0x3B, 0x80, 0x81, 0x51, 0xFE, 0x01, 0xAF };
	static const uint8_t inv[] = { 0x3F, 0x65, 0x25, 0x00, 0x2C, 0x09, 0x69, 0x90, 0x00 };
	struct atr_info a;
	struct ccid_params p, q;
	uint8_t b[32];
	ssize_t n;

	ck_assert_int_eq(atr_parse(c5, sizeof(c5), &a), ATR_OK);
	ck_assert(ccid_params_from_atr(&a, 1, a.ta1, &p));
	n = ccid_build_set_parameters(b, sizeof(b), 0, 3, &p);
	ASSERT_BYTES(b, n, "61 07000000 00 03 01 0000 11 10 FF 45 00 FB 00");
	ck_assert_int_eq(ccid_build_set_parameters(b, 16, 0, 3, &p), CCID_FRAME_E_NOSPACE);

	ck_assert_int_eq(atr_parse(da, sizeof(da), &a), ATR_OK);
	ck_assert(ccid_params_from_atr(&a, 1, a.ta1, &p));
	n = ccid_build_set_parameters(b, sizeof(b), 0, 4, &p);
	ASSERT_BYTES(b, n, "61 07000000 00 04 01 0000 13 10 FF 46 00 FB 00");
	ck_assert(ccid_params_parse(1, b + 10, 7, &q));
	ck_assert_mem_eq(&p, &q, sizeof(p));
	ck_assert(!ccid_params_parse(1, b + 10, 5, &q));
	ck_assert(!ccid_params_parse(2, b + 10, 7, &q));

	ck_assert_int_eq(atr_parse(crc, sizeof(crc), &a), ATR_OK);
	ck_assert(ccid_params_from_atr(&a, 1, 0x11, &p));
	ck_assert_uint_eq(p.tcckst, 0x11);
	ck_assert_uint_eq(p.ifsc, 0xFE);

	ck_assert_int_eq(atr_parse(inv, sizeof(inv), &a), ATR_OK);
	ck_assert(ccid_params_from_atr(&a, 0, a.ta1, &p));
	n = ccid_build_set_parameters(b, sizeof(b), 0, 5, &p);
	ASSERT_BYTES(b, n, "61 05000000 00 05 00 0000 11 02 00 0A 00");
	ck_assert(ccid_params_parse(0, b + 10, 5, &q));
	ck_assert_mem_eq(&p, &q, sizeof(p));
	ck_assert(!ccid_params_from_atr(&a, 2, 0x11, &p));
}
END_TEST

/* Part 10 PIN_VERIFY_STRUCTURE for a 4-digit ASCII PIN (JPKI user auth). */
#define VERIFY_LE "1E 00 82 04 00 08 04 02 01 11 04 00 000000 09000000 00200080 04 FFFFFFFF"
#define VERIFY_BE "1E 00 82 04 00 04 08 02 01 04 11 00 000000 00000009 00200080 04 FFFFFFFF"
#define VERIFY_CCID "69 18000000 00 03 00 0000 00 1E 82 04 00 08 04 02 01 11 04 00 000000 0020008004FFFFFFFF"

START_TEST(secure_verify)
{
	uint8_t s[64], b[64];
	size_t sl;
	ssize_t n;

	sl = hex(VERIFY_LE, s, sizeof(s));
	ck_assert_uint_eq(sl, 28);
	n = ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl);
	ASSERT_BYTES(b, n, VERIFY_CCID);
	/* Big-endian caller: same message. */
	sl = hex(VERIFY_BE, s, sizeof(s));
	n = ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl);
	ASSERT_BYTES(b, n, VERIFY_CCID);
	/* bEntryValidationCondition sanitised */
	sl = hex(VERIFY_LE, s, sizeof(s));
	s[PIN_VERIFY_bEntryValidationCondition] = 0x00;
	n = ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl);
	ck_assert_int_eq(n, 34);
	ck_assert_uint_eq(b[10 + 7], 0x02);
	s[PIN_VERIFY_bEntryValidationCondition] = 0x08;
	ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl);
	ck_assert_uint_eq(b[10 + 7], 0x02);
	s[PIN_VERIFY_bEntryValidationCondition] = 0x03;
	ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl);
	ck_assert_uint_eq(b[10 + 7], 0x03);
	/* T=1 prologue written by the host into its copy for a TPDU reader. */
	{
		static const uint8_t teo[3] = { 0x00, 0x40, 0x00 };

		memcpy(s + PIN_VERIFY_bTeoPrologue, teo, 3);
		ck_assert_int_eq(ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl), 34);
		ck_assert_mem_eq(b + 10 + 12, teo, 3);
		ck_assert_uint_eq(b[10 + 15], 0x00);     /* APDU follows unchanged */
		ck_assert_uint_eq(b[10 + 16], 0x20);
		memset(s + PIN_VERIFY_bTeoPrologue, 0, 3);
	}
	/* Malformed structures */
	ck_assert_int_eq(ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, 18), CCID_FRAME_E_PIN_STRUCT);
	ck_assert_int_eq(ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, sl - 1), CCID_FRAME_E_PIN_STRUCT);
	s[PIN_VERIFY_ulDataLength] = 3;
	ck_assert_int_eq(ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, s, 22), CCID_FRAME_E_PIN_STRUCT);
	s[PIN_VERIFY_ulDataLength] = 9;
	ck_assert_int_eq(ccid_build_secure_verify(b, 33, 0, 3, 0, s, sl), CCID_FRAME_E_NOSPACE);
	ck_assert_int_eq(ccid_build_secure_verify(b, 34, 0, 3, 0, s, sl), 34);
	ck_assert_int_eq(ccid_build_secure_verify(b, sizeof(b), 0, 3, 0, NULL, sl), CCID_FRAME_E_PIN_STRUCT);
}
END_TEST

#define MODIFY_LE "1E 00 82 04 00 00 04 08 04 03 02 03 11 04 00 01 02 000000 0D000000 00240080 08 FFFFFFFFFFFFFFFF"

START_TEST(secure_modify)
{
	uint8_t s[64], b[80];
	size_t sl;
	ssize_t n;

	sl = hex(MODIFY_LE, s, sizeof(s));
	ck_assert_uint_eq(sl, 37);
	n = ccid_build_secure_modify(b, sizeof(b), 0, 9, 0, s, sl);
	ASSERT_BYTES(b, n, "69 21000000 00 09 00 0000 01 1E 82 04 00 00 04 08 04 03 02 03 11 04 00 01 02 000000 "
	                   "0024008008FFFFFFFFFFFFFFFF");
	/* One message: bMsgIndex2/3 are not sent. */
	s[11] = 1;
	n = ccid_build_secure_modify(b, sizeof(b), 0, 9, 0, s, sl);
	ASSERT_BYTES(b, n, "69 1F000000 00 09 00 0000 01 1E 82 04 00 00 04 08 04 03 02 01 11 04 00 000000 "
	                   "0024008008FFFFFFFFFFFFFFFF");
	s[11] = 4;
	ck_assert_int_eq(ccid_build_secure_modify(b, sizeof(b), 0, 9, 0, s, sl), CCID_FRAME_E_PIN_STRUCT);
	s[11] = 3;
	/* Big-endian ulDataLength, wPINMaxExtraDigit and wLangId */
	s[7] = 0x04; s[8] = 0x08; s[12] = 0x04; s[13] = 0x11;
	s[20] = 0; s[21] = 0; s[22] = 0; s[23] = 0x0D;
	n = ccid_build_secure_modify(b, sizeof(b), 0, 9, 0, s, sl);
	ck_assert_int_eq(n, 43);
	ck_assert_uint_eq(b[10 + 7], 0x08);
	ck_assert_uint_eq(b[10 + 8], 0x04);
	ck_assert_uint_eq(b[10 + 12], 0x11);
	ck_assert_uint_eq(b[10 + 13], 0x04);
	ck_assert_int_eq(ccid_build_secure_modify(b, sizeof(b), 0, 9, 0, s, 23), CCID_FRAME_E_PIN_STRUCT);
}
END_TEST

static enum ccid_parse_status parse(const char *h, uint8_t cmd, uint32_t maxlen, size_t cap,
                                    struct ccid_response *r)
{
	static uint8_t rx[600];
	size_t n = hex(h, rx, sizeof(rx));

	return ccid_parse_response(rx, n, cmd, 0, 7, maxlen, cap, r);
}

START_TEST(response_validation)
{
	struct ccid_response r;
	uint8_t big[300];

	ck_assert_int_eq(parse("80 02000000 00 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_OK);
	ck_assert_int_eq(r.result, CCID_RES_OK);
	ck_assert_uint_eq(r.data_len, 2);
	ck_assert_uint_eq(r.data[0], 0x90);
	ck_assert_uint_eq(r.data[1], 0x00);
	ck_assert_uint_eq(r.icc_status, CCID_ICC_PRESENT_ACTIVE);
	/* trailing padding ignored */
	ck_assert_int_eq(parse("80 02000000 00 07 00 00 00 9000 0000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_OK);
	ck_assert_uint_eq(r.data_len, 2);
	ck_assert_int_eq(parse("80 00000000 00 07 00 00 00", PC_TO_RDR_ICC_POWER_ON, 271, 0, &r), CCID_PARSE_OK);
	ck_assert_ptr_null(r.data);
	ck_assert_int_eq(parse("80 02000000 00 07 00 00", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_SHORT);
	ck_assert_int_eq(parse("81 02000000 00 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_WRONG_TYPE);
	ck_assert_int_eq(parse("80 02000000 01 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_WRONG_SLOT);
	ck_assert_int_eq(parse("80 02000000 00 06 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_WRONG_SEQ);
	ck_assert_int_eq(parse("80 03000000 00 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_TRUNCATED);
	ck_assert_int_eq(parse("80 02000000 00 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 271, 1, &r), CCID_PARSE_NO_ROOM);
	ck_assert_int_eq(parse("80 FFFFFFFF 00 07 00 00 00 9000", PC_TO_RDR_XFR_BLOCK, 65544, 65536, &r), CCID_PARSE_TOO_LONG);
	ck_assert_int_eq(parse("80 02000000 00 07 00 00 00 9000", 0x99, 271, 258, &r), CCID_PARSE_INVALID);
	/* dwLength against dwMaxCCIDMessageLength - 10 */
	memset(big, 0, sizeof(big));
	big[0] = 0x80; big[1] = 261 & 0xFF; big[2] = 261 >> 8; big[6] = 7;
	ck_assert_int_eq(ccid_parse_response(big, 271, PC_TO_RDR_XFR_BLOCK, 0, 7, 271, 300, &r), CCID_PARSE_OK);
	big[1] = 262 & 0xFF;
	ck_assert_int_eq(ccid_parse_response(big, 272, PC_TO_RDR_XFR_BLOCK, 0, 7, 271, 300, &r), CCID_PARSE_TOO_LONG);
	/* Reserved bStatus encodings */
	ck_assert_int_eq(parse("80 00000000 00 07 C0 00 00", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_BAD_STATUS);
	ck_assert_int_eq(parse("80 00000000 00 07 03 00 00", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_BAD_STATUS);
	ck_assert_int_eq(parse("80 00000000 00 07 04 00 00", PC_TO_RDR_XFR_BLOCK, 271, 258, &r), CCID_PARSE_BAD_STATUS);
	ck_assert_str_eq(ccid_parse_strerror(CCID_PARSE_WRONG_SEQ), "response with another bSeq");
}
END_TEST

START_TEST(response_types)
{
	struct ccid_response r;
	struct ccid_params p;

	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_ICC_POWER_ON), RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_SECURE), RDR_TO_PC_DATA_BLOCK);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_ICC_POWER_OFF), RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_ABORT), RDR_TO_PC_SLOT_STATUS);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_SET_PARAMETERS), RDR_TO_PC_PARAMETERS);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_ESCAPE), RDR_TO_PC_ESCAPE);
	ck_assert_uint_eq(ccid_response_type_for(PC_TO_RDR_SET_DATA_RATE_CLOCK), RDR_TO_PC_DATA_RATE_CLOCK);
	ck_assert_uint_eq(ccid_response_type_for(0x80), 0);

	/* GetSlotStatus with no card: OK with ICC status 2, or failed + mute. */
	ck_assert_int_eq(parse("81 00000000 00 07 02 00 00", PC_TO_RDR_GET_SLOT_STATUS, 271, 0, &r), CCID_PARSE_OK);
	ck_assert_int_eq(r.result, CCID_RES_OK);
	ck_assert_uint_eq(r.icc_status, CCID_ICC_ABSENT);
	ck_assert_int_eq(parse("81 00000000 00 07 42 FE 00", PC_TO_RDR_GET_SLOT_STATUS, 271, 0, &r), CCID_PARSE_OK);
	ck_assert_int_eq(r.result, CCID_RES_ICC_ABSENT);
	/* Parameters: bProtocolNum in byte 9 */
	ck_assert_int_eq(parse("82 07000000 00 07 00 00 01 11 10 FF 45 00 FB 00", PC_TO_RDR_SET_PARAMETERS, 271, 7, &r),
	                 CCID_PARSE_OK);
	ck_assert_uint_eq(r.chain, 1);
	ck_assert(ccid_params_parse(r.chain, r.data, r.data_len, &p));
	ck_assert_uint_eq(p.ifsc, 0xFB);
	ck_assert_uint_eq(p.waiting_integer, 0x45);
	ck_assert_int_eq(parse("83 01000000 00 07 00 00 00 AA", PC_TO_RDR_ESCAPE, 271, 10, &r), CCID_PARSE_OK);
	ck_assert_uint_eq(r.data[0], 0xAA);
	/* bChainParameter of an extended-APDU DataBlock */
	ck_assert_int_eq(parse("80 01000000 00 07 00 00 01 AA", PC_TO_RDR_XFR_BLOCK, 522, 512, &r), CCID_PARSE_OK);
	ck_assert_uint_eq(r.chain, CCID_CHAIN_BEGIN);
}
END_TEST

struct error_case {
	const char *status_error;
	enum ccid_result result;
	uint8_t extra;      /* wtx multiplier or bad offset */
};

START_TEST(status_decoding)
{
	static const struct error_case cases[] = {
		{ "80 05", CCID_RES_TIME_EXTENSION, 5 },
		{ "80 00", CCID_RES_TIME_EXTENSION, 1 },
		{ "42 FE", CCID_RES_ICC_ABSENT, 0 },
		{ "40 FE", CCID_RES_ICC_MUTE, 0 },
		{ "41 FE", CCID_RES_ICC_INACTIVE, 0 },
		{ "40 FD", CCID_RES_PARITY_ERROR, 0 },
		{ "40 FC", CCID_RES_OVERRUN, 0 },
		{ "40 FB", CCID_RES_HW_ERROR, 0 },
		{ "40 F8", CCID_RES_BAD_ATR, 0 },
		{ "40 F7", CCID_RES_BAD_ATR, 0 },
		{ "40 F6", CCID_RES_PROTOCOL_NOT_SUPPORTED, 0 },
		{ "40 F5", CCID_RES_CLASS_NOT_SUPPORTED, 0 },
		{ "40 F4", CCID_RES_PROCEDURE_BYTE_CONFLICT, 0 },
		{ "40 F3", CCID_RES_DEACTIVATED_PROTOCOL, 0 },
		{ "40 F2", CCID_RES_BUSY_AUTO_SEQUENCE, 0 },
		{ "40 F0", CCID_RES_PIN_TIMEOUT, 0 },
		{ "40 EF", CCID_RES_PIN_CANCELLED, 0 },
		{ "40 E0", CCID_RES_SLOT_BUSY, 0 },
		{ "40 00", CCID_RES_CMD_NOT_SUPPORTED, 0 },
		{ "40 05", CCID_RES_BAD_PARAMETER, 5 },
		{ "40 07", CCID_RES_BAD_PARAMETER, 7 },
		{ "40 FF", CCID_RES_ABORTED, 0 },
		{ "40 90", CCID_RES_FAILED, 0 },
		{ "42 90", CCID_RES_ICC_ABSENT, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char h[64];
		struct ccid_response r;

		snprintf(h, sizeof(h), "80 00000000 00 07 %s 00", cases[i].status_error);
		ck_assert_int_eq(parse(h, PC_TO_RDR_XFR_BLOCK, 271, 0, &r), CCID_PARSE_OK);
		ck_assert_msg(r.result == cases[i].result, "case %zu: %s -> %s", i,
		              cases[i].status_error, ccid_result_name(r.result));
		if (r.result == CCID_RES_TIME_EXTENSION)
			ck_assert_uint_eq(r.wtx_multiplier, cases[i].extra);
		if (r.result == CCID_RES_BAD_PARAMETER)
			ck_assert_uint_eq(r.bad_offset, cases[i].extra);
	}
	ck_assert_str_eq(ccid_result_name(CCID_RES_PIN_CANCELLED), "PIN entry cancelled");
	ck_assert_str_eq(ccid_result_name((enum ccid_result)99), "unknown result");
}
END_TEST

START_TEST(peek_header_for_demux)
{
	static const uint8_t slot1[] = { 0x80, 0, 0, 0, 0, 0x01, 0x2A, 0, 0, 0 };
	static const uint8_t slot9[] = { 0x81, 0, 0, 0, 0, 0x09, 0x2A, 0, 0, 0 };
	static const uint8_t notify[] = { 0x50, 0x03, 0, 0, 0, 0, 0, 0, 0, 0 };
	uint8_t type = 0, slot = 0, seq = 0;

	ck_assert(ccid_peek_header(slot1, sizeof(slot1), 2, &type, &slot, &seq));
	ck_assert_uint_eq(type, 0x80);
	ck_assert_uint_eq(slot, 1);
	ck_assert_uint_eq(seq, 0x2A);
	ck_assert(!ccid_peek_header(slot1, sizeof(slot1), 1, &type, &slot, &seq));
	ck_assert(!ccid_peek_header(slot9, sizeof(slot9), 4, &type, &slot, &seq));
	ck_assert(ccid_peek_header(slot9, sizeof(slot9), 16, &type, &slot, &seq));
	ck_assert(!ccid_peek_header(slot1, 9, 2, &type, &slot, &seq));
	ck_assert(!ccid_peek_header(notify, sizeof(notify), 2, &type, &slot, &seq));
}
END_TEST

START_TEST(notify_and_hw_error)
{
	static const uint8_t one[] = { 0x50, 0x03 };
	static const uint8_t multi[] = { 0x50, 0x0E, 0x02 };
	static const uint8_t hw[] = { 0x51, 0x00, 0x07, 0x01 };
	bool present, changed;
	struct ccid_hw_error e;

	ck_assert(ccid_notify_valid(one, 2, 1));
	ck_assert(ccid_notify_valid(one, 2, 4));
	ck_assert(!ccid_notify_valid(one, 2, 5));         /* needs 2 bitmap bytes */
	ck_assert(!ccid_notify_valid(one, 1, 1));
	ck_assert(!ccid_notify_valid(one, 2, 0));
	ck_assert(!ccid_notify_valid(hw, 4, 1));
	ck_assert(ccid_notify_slot(one, 2, 0, &present, &changed));
	ck_assert(present);
	ck_assert(changed);

	ck_assert(ccid_notify_valid(multi, 3, 5));
	ck_assert(ccid_notify_slot(multi, 3, 0, &present, &changed));
	ck_assert(!present);
	ck_assert(changed);
	ck_assert(ccid_notify_slot(multi, 3, 1, &present, &changed));
	ck_assert(present);
	ck_assert(changed);
	ck_assert(ccid_notify_slot(multi, 3, 2, &present, &changed));
	ck_assert(!present);
	ck_assert(!changed);
	ck_assert(ccid_notify_slot(multi, 3, 4, &present, &changed));
	ck_assert(!present);
	ck_assert(changed);
	ck_assert(ccid_notify_slot(multi, 3, 7, &present, &changed));
	ck_assert(!ccid_notify_slot(multi, 3, 8, &present, &changed));  /* beyond message */
	ck_assert(!ccid_notify_slot(hw, 4, 0, &present, &changed));

	ck_assert(ccid_parse_hardware_error(hw, 4, &e));
	ck_assert_uint_eq(e.slot, 0);
	ck_assert_uint_eq(e.seq, 7);
	ck_assert_uint_eq(e.code, 1);
	ck_assert(!ccid_parse_hardware_error(hw, 3, &e));
	ck_assert(!ccid_parse_hardware_error(one, 2, &e));
}
END_TEST

/* ---- extended-APDU chaining planner (xchg-ext) ---------------------------- */

static uint8_t ext_apdu[1200];
static uint8_t ext_resp[1100];
static uint8_t ext_part[65534];

START_TEST(xchg_short_exchange)
{
	struct xchg_ext x;
	const uint8_t *d;
	size_t n;
	uint16_t lvl;

	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_ptr_eq(d, ext_apdu);
	ck_assert_uint_eq(n, 5);
	ck_assert_uint_eq(lvl, 0x0000);
	ck_assert(!xchg_ext_command(&x, &d, &n, &lvl));     /* must wait for the answer */
	ck_assert_int_eq(xchg_ext_error(&x), XCHG_EXT_ERR_STATE);

	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, sw9000_bytes, 2, 0x00), XCHG_EXT_DONE);
	ck_assert_uint_eq(xchg_ext_response_len(&x), 2);
	ck_assert_uint_eq(ext_resp[0], 0x90);
	ck_assert(!xchg_ext_overflowed(&x));
	/* APDU exactly one block long is still "begin and end". */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 512, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_uint_eq(n, 512);
	ck_assert_uint_eq(lvl, 0x0000);
	ck_assert(!xchg_ext_begin(&x, ext_apdu, 5, 10, ext_resp, 10));
	ck_assert(!xchg_ext_begin(&x, NULL, 5, 522, ext_resp, 10));
	ck_assert(!xchg_ext_begin(&x, ext_apdu, 0, 522, ext_resp, 10));
}
END_TEST

START_TEST(xchg_chained_command_and_response)
{
	struct xchg_ext x;
	const uint8_t *d;
	size_t n;
	uint16_t lvl;

	for (unsigned i = 0; i < sizeof(ext_apdu); i++)
		ext_apdu[i] = (uint8_t)(i * 7);
	/* RC-S300: dwMaxCCIDMessageLength 522 -> 512-byte blocks. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 1200, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_ptr_eq(d, ext_apdu);
	ck_assert_uint_eq(n, 512);
	ck_assert_uint_eq(lvl, CCID_CHAIN_BEGIN);
	ck_assert_int_eq(xchg_ext_response(&x, NULL, 0, 0x10), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_ptr_eq(d, ext_apdu + 512);
	ck_assert_uint_eq(n, 512);
	ck_assert_uint_eq(lvl, CCID_CHAIN_CONTINUE);
	ck_assert_int_eq(xchg_ext_response(&x, NULL, 0, 0x10), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_ptr_eq(d, ext_apdu + 1024);
	ck_assert_uint_eq(n, 176);
	ck_assert_uint_eq(lvl, CCID_CHAIN_END);
	/* Response in three parts: 512 + 512 + 10. */
	memset(ext_part, 0xA1, 512);
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 512, CCID_CHAIN_BEGIN), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_ptr_null(d);
	ck_assert_uint_eq(n, 0);
	ck_assert_uint_eq(lvl, 0x0010);
	memset(ext_part, 0xB2, 512);
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 512, CCID_CHAIN_CONTINUE), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_uint_eq(lvl, 0x0010);
	memset(ext_part, 0xC3, 10);
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 10, CCID_CHAIN_END), XCHG_EXT_DONE);
	ck_assert_uint_eq(xchg_ext_response_len(&x), 1034);
	ck_assert_uint_eq(ext_resp[0], 0xA1);
	ck_assert_uint_eq(ext_resp[511], 0xA1);
	ck_assert_uint_eq(ext_resp[512], 0xB2);
	ck_assert_uint_eq(ext_resp[1023], 0xB2);
	ck_assert_uint_eq(ext_resp[1024], 0xC3);
	ck_assert_uint_eq(ext_resp[1033], 0xC3);
}
END_TEST

START_TEST(xchg_overflow_and_errors)
{
	struct xchg_ext x;
	const uint8_t *d;
	size_t n;
	uint16_t lvl;

	/* Overflow: drained, reported. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, 100));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 512, CCID_CHAIN_BEGIN), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 10, CCID_CHAIN_END), XCHG_EXT_DONE);
	ck_assert(xchg_ext_overflowed(&x));

	/* First part may not claim to be the end of a chain. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, sw9000_bytes, 2, CCID_CHAIN_END), XCHG_EXT_ERROR);
	ck_assert_int_eq(xchg_ext_error(&x), XCHG_EXT_ERR_PROTOCOL);
	/* Later parts may not restart one. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, sw9000_bytes, 2, CCID_CHAIN_BEGIN), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, sw9000_bytes, 2, CCID_CHAIN_BEGIN_AND_END), XCHG_EXT_ERROR);
	/* Acknowledgement of a command block must be empty 0x10. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 600, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, sw9000_bytes, 2, 0x10), XCHG_EXT_ERROR);
	ck_assert(xchg_ext_begin(&x, ext_apdu, 600, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, NULL, 0, CCID_CHAIN_BEGIN), XCHG_EXT_ERROR);
	/* Response before any command. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert_int_eq(xchg_ext_response(&x, NULL, 0, 0), XCHG_EXT_ERROR);
	ck_assert_int_eq(xchg_ext_error(&x), XCHG_EXT_ERR_STATE);
	ck_assert_str_eq(xchg_ext_strerror(XCHG_EXT_ERR_PROTOCOL), "unexpected chaining from the reader");
}
END_TEST

START_TEST(xchg_bounds)
{
	struct xchg_ext x;
	const uint8_t *d;
	size_t n;
	uint16_t lvl;
	unsigned parts = 0;
	enum xchg_ext_action a;

	/* Total above 65538 bytes fails. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 65544, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 65534, CCID_CHAIN_BEGIN), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 4, CCID_CHAIN_CONTINUE), XCHG_EXT_SEND);
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	ck_assert_int_eq(xchg_ext_response(&x, ext_part, 1, CCID_CHAIN_END), XCHG_EXT_ERROR);
	ck_assert_int_eq(xchg_ext_error(&x), XCHG_EXT_ERR_TOO_LONG);
	/* A reader that never ends the chain with empty parts is cut off. */
	ck_assert(xchg_ext_begin(&x, ext_apdu, 5, 522, ext_resp, sizeof(ext_resp)));
	ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
	a = xchg_ext_response(&x, NULL, 0, CCID_CHAIN_BEGIN);
	while (a == XCHG_EXT_SEND && parts < 10000) {
		ck_assert(xchg_ext_command(&x, &d, &n, &lvl));
		a = xchg_ext_response(&x, NULL, 0, CCID_CHAIN_CONTINUE);
		parts++;
	}
	ck_assert_int_eq(a, XCHG_EXT_ERROR);
	ck_assert_int_eq(xchg_ext_error(&x), XCHG_EXT_ERR_TOO_MANY_PARTS);
	ck_assert_uint_eq(parts, XCHG_EXT_MAX_PARTS);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ccid-frame");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, simple_commands);
	tcase_add_test(tc, xfr_block_and_escape);
	tcase_add_test(tc, set_parameters_from_atr);
	tcase_add_test(tc, secure_verify);
	tcase_add_test(tc, secure_modify);
	tcase_add_test(tc, response_validation);
	tcase_add_test(tc, response_types);
	tcase_add_test(tc, status_decoding);
	tcase_add_test(tc, peek_header_for_demux);
	tcase_add_test(tc, notify_and_hw_error);
	suite_add_tcase(s, tc);
	tc = tcase_create("xchg-ext");
	tcase_add_test(tc, xchg_short_exchange);
	tcase_add_test(tc, xchg_chained_command_and_response);
	tcase_add_test(tc, xchg_overflow_and_errors);
	tcase_add_test(tc, xchg_bounds);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

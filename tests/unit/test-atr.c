/* Check tests for driver/atr.c: real My Number ATRs (ccid.md §1.10, jpki.md §4),
 * contactless pseudo-ATRs, malformed ATRs and the timing helpers. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "atr.h"

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

static enum atr_status parse_hex(const char *s, struct atr_info *info)
{
	uint8_t b[64];
	size_t n = hex(s, b, sizeof(b));

	return atr_parse(b, n, info);
}

/* Contact My Number card, pcsc-tools smartcard_list l.13254. */
START_TEST(mynumber_contact_c5)
{
	struct atr_info a;
	struct atr_contactless cl;
	static const uint8_t hist[] = { 0x80, 0x73, 0xC6, 0x01, 0x00 };

	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00 00", &a), ATR_OK);
	ck_assert_uint_eq(a.len, 13);
	ck_assert(!a.inverse_convention);
	ck_assert_uint_eq(a.ngroups, 3);
	ck_assert(!a.ta1_present);
	ck_assert(!a.groups[0].tb_present);
	ck_assert(a.groups[0].tc_present);
	ck_assert_uint_eq(a.groups[0].tc, 0xFF);
	ck_assert_uint_eq(a.protocols, 1u << 1);     /* T=1 only */
	ck_assert_uint_eq(a.default_protocol, 1);
	ck_assert(atr_offers(&a, 1));
	ck_assert(!atr_offers(&a, 0));
	ck_assert_uint_eq(a.fi, 372);
	ck_assert_uint_eq(a.di, 1);
	ck_assert(a.ta1_valid);
	ck_assert_uint_eq(a.n, 255);
	ck_assert(a.ifsc_present);
	ck_assert_uint_eq(a.ifsc, 0xFB);
	ck_assert(a.bwi_cwi_present);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 5);
	ck_assert(!a.edc_present);
	ck_assert_int_eq(a.edc, ATR_EDC_LRC);
	ck_assert(!a.specific_mode);
	ck_assert_uint_eq(a.nhistorical, 5);
	ck_assert_mem_eq(a.historical, hist, 5);
	ck_assert(a.tck_present);
	ck_assert_uint_eq(a.tck, 0x00);
	ck_assert(!atr_contactless(&a, &cl));
	ck_assert_int_eq(cl.kind, ATR_CL_NOT_CONTACTLESS);
}
END_TEST

/* Contact My Number card with TA1 and TC1, smartcard_list l.13539. */
START_TEST(mynumber_contact_da)
{
	struct atr_info a;

	ck_assert_int_eq(parse_hex("3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B", &a), ATR_OK);
	ck_assert(a.ta1_present);
	ck_assert_uint_eq(a.ta1, 0x13);
	ck_assert_uint_eq(a.fi_index, 1);
	ck_assert_uint_eq(a.di_index, 3);
	ck_assert_uint_eq(a.fi, 372);
	ck_assert_uint_eq(a.di, 4);
	ck_assert_uint_eq(a.fmax_khz, 5000);
	ck_assert_uint_eq(a.n, 255);
	ck_assert(!a.groups[0].tb_present);
	ck_assert_uint_eq(a.ifsc, 0xFB);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 6);
	ck_assert_uint_eq(a.nhistorical, 10);
	ck_assert_uint_eq(a.historical[0], 0x80);
	ck_assert_uint_eq(a.historical[9], 0xC0);
	ck_assert_uint_eq(a.tck, 0x3B);
	ck_assert_uint_eq(a.protocols, 2);
}
END_TEST

/* Minidriver list: TA2 specific mode, TC3 present. */
START_TEST(mynumber_contact_f5_specific)
{
	struct atr_info a;

	ck_assert_int_eq(parse_hex("3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 00 D1 D6", &a), ATR_OK);
	ck_assert_uint_eq(a.fi, 512);
	ck_assert_uint_eq(a.di, 1);
	ck_assert_uint_eq(a.fmax_khz, 5000);
	ck_assert_uint_eq(a.n, 255);
	ck_assert(a.specific_mode);
	ck_assert_uint_eq(a.specific_protocol, 1);
	ck_assert(!a.specific_can_change);
	ck_assert(!a.specific_implicit);
	ck_assert_uint_eq(a.ifsc, 0xFE);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 0);
	ck_assert(a.edc_present);
	ck_assert_int_eq(a.edc, ATR_EDC_LRC);
	ck_assert_uint_eq(a.nhistorical, 5);
	ck_assert_uint_eq(a.historical[4], 0xD1);
	ck_assert_uint_eq(a.tck, 0xD6);
}
END_TEST

START_TEST(opensc_jpki_atr)
{
	struct atr_info a;

	/* OpenSC card-jpki.c: 3B E0 00 FF 81 31 FE 45 14 — no historical bytes. */
	ck_assert_int_eq(parse_hex("3B E0 00 FF 81 31 FE 45 14", &a), ATR_OK);
	ck_assert_uint_eq(a.nhistorical, 0);
	ck_assert_uint_eq(a.ifsc, 0xFE);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 5);
	ck_assert_uint_eq(a.n, 255);
}
END_TEST

START_TEST(crc_and_implicit_specific)
{
	struct atr_info a;

	ck_assert_int_eq(parse_hex("3B 80 81 51 FE 01 AF", &a), ATR_OK);
	ck_assert(a.edc_present);
	ck_assert_int_eq(a.edc, ATR_EDC_CRC);
	ck_assert_int_eq(parse_hex("3B 80 81 51 FE 00 AE", &a), ATR_OK);
	ck_assert_int_eq(a.edc, ATR_EDC_LRC);
	ck_assert_int_eq(parse_hex("3B 80 91 11 11 FE EF", &a), ATR_OK);
	ck_assert(a.specific_mode);
	ck_assert_uint_eq(a.specific_protocol, 1);
	ck_assert(a.specific_can_change);
	ck_assert(a.specific_implicit);
	ck_assert_uint_eq(a.ifsc, 0xFE);
	/* IFSC 32 and TB3 0x45 */
	ck_assert_int_eq(parse_hex("3B 80 81 31 20 45 55", &a), ATR_OK);
	ck_assert_uint_eq(a.ifsc, 32);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 5);
	/* A TA3 that belongs to T=0 must not be taken as IFSC; TA4 for T=1 is. */
	ck_assert_int_eq(parse_hex("3B 80 80 90 20 11 FE 5F", &a), ATR_OK);
	ck_assert_uint_eq(a.protocols, 3);
	ck_assert(a.ifsc_present);
	ck_assert_uint_eq(a.ifsc, 0xFE);
	/* T=15 global bytes after the T=1 group. */
	ck_assert_int_eq(parse_hex("3B 80 81 B1 20 45 1F 03 C9", &a), ATR_OK);
	ck_assert_uint_eq(a.ifsc, 0x20);
	ck_assert_uint_eq(a.t15_ta, 0x03);
	ck_assert_uint_eq(a.protocols, 2);
}
END_TEST

START_TEST(t0_card_defaults_and_inverse)
{
	struct atr_info a;

	/* Inverse convention, T=0 only: no TCK required. */
	ck_assert_int_eq(parse_hex("3F 65 25 00 2C 09 69 90 00", &a), ATR_OK);
	ck_assert(a.inverse_convention);
	ck_assert_uint_eq(a.protocols, 1);
	ck_assert_uint_eq(a.default_protocol, 0);
	ck_assert(!a.tck_present);
	ck_assert_uint_eq(a.wi, 10);
	ck_assert_uint_eq(a.ifsc, 32);
	ck_assert_uint_eq(a.bwi, 4);
	ck_assert_uint_eq(a.cwi, 13);
	/* TC2 = WI */
	ck_assert_int_eq(parse_hex("3B 80 40 14", &a), ATR_OK);
	ck_assert_uint_eq(a.wi, 0x14);
	ck_assert_uint_eq(a.protocols, 1);
	/* Minimal ATR: TS T0 */
	ck_assert_int_eq(parse_hex("3B 00", &a), ATR_OK);
	ck_assert_uint_eq(a.fi, 372);
	ck_assert_uint_eq(a.ta1, 0x11);
}
END_TEST

START_TEST(reserved_ta1_is_flagged_not_fatal)
{
	struct atr_info a;

	ck_assert_int_eq(parse_hex("3B 10 70", &a), ATR_OK);   /* Fi code 7 RFU */
	ck_assert(a.ta1_present);
	ck_assert(!a.ta1_valid);
	ck_assert_uint_eq(a.fi, 372);
	ck_assert_uint_eq(a.di, 1);
	ck_assert_int_eq(parse_hex("3B 10 1A", &a), ATR_OK);   /* Di code A RFU */
	ck_assert(!a.ta1_valid);
	ck_assert_int_eq(parse_hex("3B 10 96", &a), ATR_OK);
	ck_assert(a.ta1_valid);
	ck_assert_uint_eq(a.fi, 512);
	ck_assert_uint_eq(a.di, 32);
}
END_TEST

START_TEST(contactless_type_b_mynumber)
{
	static const char *const atrs[] = {
		"3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F",
		"3B 88 80 01 00 00 41 E0 B3 81 A1 00 3B",
		"3B 88 80 01 00 4B 51 FF B3 81 D1 00 0F",
		"3B 88 80 01 00 00 00 00 91 81 C1 00 D8",   /* driving licence */
	};
	static const uint8_t fwi[] = { 0xA, 0xA, 0xD, 0xC };

	for (unsigned i = 0; i < 4; i++) {
		struct atr_info a;
		struct atr_contactless cl;

		ck_assert_int_eq(parse_hex(atrs[i], &a), ATR_OK);
		ck_assert_uint_eq(a.protocols, 3);
		ck_assert_uint_eq(a.default_protocol, 0);
		ck_assert(atr_contactless(&a, &cl));
		ck_assert_int_eq(cl.kind, ATR_CL_TYPE_B);
		ck_assert_uint_eq(cl.type_b_max_frame, 8);
		ck_assert_uint_eq(cl.type_b_fwi, fwi[i]);
	}
}
END_TEST

START_TEST(contactless_storage_and_type_a)
{
	struct atr_info a;
	struct atr_contactless cl;

	ck_assert_int_eq(parse_hex("3B 8F 80 01 80 4F 0C A0 00 00 03 06 03 00 01 00 00 00 00 6A", &a), ATR_OK);
	ck_assert(atr_contactless(&a, &cl));
	ck_assert_int_eq(cl.kind, ATR_CL_STORAGE);
	ck_assert_uint_eq(cl.standard, 0x03);
	ck_assert_uint_eq(cl.card_name, 0x0001);
	ck_assert_int_eq(parse_hex("3B 81 80 01 80 80", &a), ATR_OK);
	ck_assert(atr_contactless(&a, &cl));
	ck_assert_int_eq(cl.kind, ATR_CL_ISO14443_4);
	/* Bad TCK on a pseudo-ATR is still an error. */
	ck_assert_int_eq(parse_hex("3B 88 80 01 00 00 05 E0 B3 81 A1 00 7E", &a), ATR_ERR_TCK_MISMATCH);
}
END_TEST

START_TEST(malformed)
{
	struct atr_info a;
	uint8_t b[40];

	ck_assert_int_eq(atr_parse(NULL, 2, &a), ATR_ERR_NULL);
	ck_assert_int_eq(parse_hex("3B", &a), ATR_ERR_TOO_SHORT);
	ck_assert_int_eq(parse_hex("3A 00", &a), ATR_ERR_BAD_TS);
	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80", &a), ATR_ERR_TRUNCATED);
	ck_assert_int_eq(parse_hex("3B C5 FF 81", &a), ATR_ERR_TRUNCATED);
	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00", &a), ATR_ERR_TCK_MISSING);
	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00 01", &a), ATR_ERR_TCK_MISMATCH);
	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00 00 00", &a), ATR_ERR_TRAILING);
	ck_assert_int_eq(parse_hex("3B 80 0F 8F", &a), ATR_ERR_BAD_TD);          /* TD1 T=15 */
	ck_assert_int_eq(parse_hex("3B 80 81 10 00 11", &a), ATR_ERR_BAD_TD);    /* T=1 then T=0 */
	ck_assert_int_eq(parse_hex("3B 80 81 11 00 10", &a), ATR_ERR_BAD_IFSC);
	ck_assert_int_eq(parse_hex("3B 80 81 11 FF EF", &a), ATR_ERR_BAD_IFSC);
	ck_assert_int_eq(parse_hex("3B 80 81 21 A5 85", &a), ATR_ERR_BAD_BWI);
	ck_assert_int_eq(parse_hex("3B 80 10 8F", &a), ATR_ERR_BAD_TA2);
	/* 34 bytes in */
	memset(b, 0, sizeof(b));
	b[0] = 0x3B;
	ck_assert_int_eq(atr_parse(b, 34, &a), ATR_ERR_TOO_LONG);
	/* A TD chain that runs past 33 bytes */
	b[1] = 0x80;
	for (int i = 2; i < 33; i++)
		b[i] = 0x80;
	ck_assert_int_eq(atr_parse(b, 33, &a), ATR_ERR_TOO_LONG);
	/* 15 historical bytes announced after a long chain: structure > 33 */
	b[1] = 0x8F;
	for (int i = 2; i < 20; i++)
		b[i] = 0x80;
	b[20] = 0x00;
	ck_assert_int_eq(atr_parse(b, 33, &a), ATR_ERR_TOO_LONG);
	for (int st = ATR_OK; st <= ATR_ERR_BAD_TA2; st++)
		ck_assert_ptr_nonnull(atr_strerror((enum atr_status)st));
	ck_assert_str_eq(atr_strerror(ATR_ERR_TCK_MISMATCH), "TCK check failed");
}
END_TEST

START_TEST(every_prefix_of_a_valid_atr_fails)
{
	uint8_t b[40];
	size_t n = hex("3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B", b, sizeof(b));
	struct atr_info a;

	for (size_t k = 2; k < n; k++)
		ck_assert_int_ne(atr_parse(b, k, &a), ATR_OK);
	ck_assert_int_eq(atr_parse(b, n, &a), ATR_OK);
}
END_TEST

START_TEST(timing)
{
	struct atr_info a;

	ck_assert_uint_eq(atr_etu_ns(372, 1, 4000), 93000);
	ck_assert_uint_eq(atr_etu_ns(372, 4, 4000), 23250);
	ck_assert_uint_eq(atr_etu_ns(0, 1, 4000), 0);
	ck_assert_uint_eq(atr_etu_ns(372, 1, 0), 0);
	/* BWT(BWI=4) = 11 etu + 16*960*372/4 MHz = 1.023 ms + 1428.48 ms */
	ck_assert_uint_eq(atr_t1_bwt_ms(4, 372, 1, 4000), 1430);
	/* CWT(CWI=5) = 43 etu = 3.999 ms */
	ck_assert_uint_eq(atr_t1_cwt_ms(5, 372, 1, 4000), 4);
	/* WWT(WI=10) = 10*960*372/4 MHz = 892.8 ms */
	ck_assert_uint_eq(atr_t0_wwt_ms(10, 372, 4000), 893);

	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00 00", &a), ATR_OK);
	/* 1429.503 + 260*(3.999+1.116) = 2759.403 -> 2760 + 1000 margin */
	ck_assert_uint_eq(atr_read_timeout_ms(&a, 1, 372, 1, 4000), 3760);
	ck_assert_int_eq(parse_hex("3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B", &a), ATR_OK);
	/* N=255: no extra guard; 1428.73575 + 260*(1.74375+0.279) -> 1955 + 1000 */
	ck_assert_uint_eq(atr_read_timeout_ms(&a, 1, 372, 4, 4000), 2955);
	/* T=0 worst case (260 * WWT) is far above the cap. */
	ck_assert_uint_eq(atr_read_timeout_ms(&a, 0, 372, 1, 4000), ATR_READ_TIMEOUT_CAP_MS);
	/* No clock known: cap. */
	ck_assert_uint_eq(atr_read_timeout_ms(&a, 1, 372, 1, 0), ATR_READ_TIMEOUT_CAP_MS);
	/* BWI 9 at 1 MHz is 4.092 ms + 182.845 s: capped. */
	ck_assert_uint_eq(atr_t1_bwt_ms(9, 372, 1, 1000), 182850);
	ck_assert_int_eq(parse_hex("3B 80 81 21 95 B5", &a), ATR_OK);
	ck_assert_uint_eq(a.bwi, 9);
	ck_assert_uint_eq(atr_read_timeout_ms(&a, 1, 372, 1, 1000), ATR_READ_TIMEOUT_CAP_MS);
	/* Fast card: never below the minimum. */
	ck_assert_int_eq(parse_hex("3B 80 81 21 00 20", &a), ATR_OK);
	ck_assert_uint_ge(atr_read_timeout_ms(&a, 1, 372, 64, 20000), ATR_READ_TIMEOUT_MIN_MS);
	/* Multipliers */
	ck_assert_uint_eq(atr_apply_multiplier_ms(1430, 2), 2860);
	ck_assert_uint_eq(atr_apply_multiplier_ms(1430, 0), 1430);
	ck_assert_uint_eq(atr_apply_multiplier_ms(3760, 255), ATR_READ_TIMEOUT_CAP_MS);
	ck_assert_uint_eq(atr_apply_multiplier_ms(UINT32_MAX, 255), ATR_READ_TIMEOUT_CAP_MS);
}
END_TEST

START_TEST(lookup_tables)
{
	uint16_t fi;
	uint32_t fmax;
	uint8_t di;

	ck_assert(atr_fi_lookup(0xD, &fi, &fmax));
	ck_assert_uint_eq(fi, 2048);
	ck_assert_uint_eq(fmax, 20000);
	ck_assert(!atr_fi_lookup(0x8, &fi, &fmax));
	ck_assert(!atr_fi_lookup(0xE, &fi, &fmax));
	ck_assert(atr_di_lookup(0x9, &di));
	ck_assert_uint_eq(di, 20);
	ck_assert(!atr_di_lookup(0x0, &di));
	ck_assert(!atr_di_lookup(0xF, &di));
}
END_TEST

START_TEST(pps_selection)
{
	struct atr_info a;
	uint8_t fidi = 0;
	static const uint32_t acr_rates_low[] = { 12903, 25806 };
	static const uint32_t only_12903[] = { 12903 };

	/* ACR39U clock 4.8 MHz, max 826000 bps. */
	ck_assert_uint_eq(atr_fidi_rate_bps(0x13, 4800), 51612);
	ck_assert_uint_eq(atr_fidi_rate_bps(0x11, 4800), 12903);
	ck_assert_uint_eq(atr_fidi_rate_bps(0x71, 4800), 0);
	ck_assert_int_eq(parse_hex("3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73 C6 01 C0 3B", &a), ATR_OK);
	ck_assert(atr_select_fidi(&a, 4800, 826000, NULL, 0, &fidi));
	ck_assert_uint_eq(fidi, 0x13);
	ck_assert(atr_pps_needed(&a, 1, fidi));
	/* 51612 not in the reader's table: step D down to 2. */
	ck_assert(atr_select_fidi(&a, 4800, 826000, acr_rates_low, 2, &fidi));
	ck_assert_uint_eq(fidi, 0x12);
	/* Slow reader: nothing above D=1 fits. */
	ck_assert(atr_select_fidi(&a, 4800, 20000, NULL, 0, &fidi));
	ck_assert_uint_eq(fidi, 0x11);
	ck_assert(!atr_pps_needed(&a, 1, 0x11));
	ck_assert(atr_pps_needed(&a, 0, 0x11));     /* not the default protocol */
	/* Fi other than 372 keeps its F when stepping down. */
	ck_assert_int_eq(parse_hex("3B 10 96", &a), ATR_OK);
	ck_assert(atr_select_fidi(&a, 4800, 100000, NULL, 0, &fidi));
	ck_assert_uint_eq(fidi, 0x94);              /* 512/8: 75000 bps */
	/* Specific mode, explicit parameters: TA1 or the card is unusable. */
	ck_assert_int_eq(parse_hex("3B F5 91 00 FF 91 81 71 FE 40 00 42 00 01 00 D1 D6", &a), ATR_OK);
	ck_assert(atr_select_fidi(&a, 4800, 826000, NULL, 0, &fidi));
	ck_assert_uint_eq(fidi, 0x91);
	ck_assert(!atr_pps_needed(&a, 1, fidi));
	ck_assert(!atr_select_fidi(&a, 4800, 826000, only_12903, 1, &fidi));
	/* No TA1: default rate, nothing to negotiate for the default protocol. */
	ck_assert_int_eq(parse_hex("3B C5 FF 81 31 FB 45 80 73 C6 01 00 00", &a), ATR_OK);
	ck_assert(atr_select_fidi(&a, 4800, 826000, NULL, 0, &fidi));
	ck_assert_uint_eq(fidi, 0x11);
	ck_assert(!atr_pps_needed(&a, 1, fidi));
}
END_TEST

START_TEST(pps_exchange)
{
	uint8_t req[8], resp[8];
	size_t n;
	uint8_t fidi = 0;

	n = atr_pps_build(req, sizeof(req), 1, 0x13);
	ck_assert_uint_eq(n, 4);
	ck_assert_uint_eq(req[0], 0xFF);
	ck_assert_uint_eq(req[1], 0x11);
	ck_assert_uint_eq(req[2], 0x13);
	ck_assert_uint_eq(req[3], 0xFD);
	ck_assert_uint_eq(atr_pps_build(req, 3, 1, 0x13), 0);
	ck_assert_uint_eq(atr_pps_build(req, sizeof(req), 15, 0x13), 0);
	/* Echo: accepted. */
	memcpy(resp, req, 4);
	ck_assert(atr_pps_response_ok(req, 4, resp, 4, &fidi));
	ck_assert_uint_eq(fidi, 0x13);
	/* PPS1 dropped by the card: default rate. */
	resp[1] = 0x01; resp[2] = 0xFE;
	ck_assert(atr_pps_response_ok(req, 4, resp, 3, &fidi));
	ck_assert_uint_eq(fidi, 0x11);
	/* Bad PCK, other protocol, other PPS1, added PPS2, wrong length. */
	memcpy(resp, req, 4); resp[3] ^= 1;
	ck_assert(!atr_pps_response_ok(req, 4, resp, 4, &fidi));
	memcpy(resp, "\xFF\x10\x13\xFC", 4);
	ck_assert(!atr_pps_response_ok(req, 4, resp, 4, &fidi));
	memcpy(resp, "\xFF\x11\x12\xFC", 4);
	ck_assert(!atr_pps_response_ok(req, 4, resp, 4, &fidi));
	memcpy(resp, "\xFF\x31\x13\x00\xDD", 5);
	ck_assert(!atr_pps_response_ok(req, 4, resp, 5, &fidi));
	memcpy(resp, req, 4);
	ck_assert(!atr_pps_response_ok(req, 4, resp, 3, &fidi));
	/* Without PPS1 */
	n = atr_pps_build(req, sizeof(req), 0, 0x11);
	ck_assert_uint_eq(n, 3);
	ck_assert_uint_eq(req[1], 0x00);
	ck_assert_uint_eq(req[2], 0xFF);
	ck_assert(atr_pps_response_ok(req, 3, req, 3, &fidi));
	ck_assert_uint_eq(fidi, 0x11);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("atr");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, mynumber_contact_c5);
	tcase_add_test(tc, mynumber_contact_da);
	tcase_add_test(tc, mynumber_contact_f5_specific);
	tcase_add_test(tc, opensc_jpki_atr);
	tcase_add_test(tc, crc_and_implicit_specific);
	tcase_add_test(tc, t0_card_defaults_and_inverse);
	tcase_add_test(tc, reserved_ta1_is_flagged_not_fatal);
	tcase_add_test(tc, contactless_type_b_mynumber);
	tcase_add_test(tc, contactless_storage_and_type_a);
	tcase_add_test(tc, malformed);
	tcase_add_test(tc, every_prefix_of_a_valid_atr_fails);
	tcase_add_test(tc, timing);
	tcase_add_test(tc, lookup_tables);
	tcase_add_test(tc, pps_selection);
	tcase_add_test(tc, pps_exchange);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

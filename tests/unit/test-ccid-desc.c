/* Check tests for driver/ccid-desc.c: real reader descriptors (libccid's
 * readers/ACS_ACR39U_ICC_Reader.txt; RC-S300 fields from ccid.md §3),
 * composite and vendor-class interfaces, malformed configurations. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "ccid-desc.h"

/* ACS ACR39U (072F:B100) class descriptor, every field from the parse dump:
 * bcdCCID 1.10, slot index 0, 5/3/1.8 V, T=0+T=1, clock 4.8/16 MHz, data rate
 * 12903/826000, IFSD 247, dwFeatures 0x000100B2 (TPDU), 271 bytes,
 * GetResponse/Envelope 0xFF, no LCD, no PIN, 1 busy slot. */
static const uint8_t acr39u_desc[54] = {
	0x36, 0x21, 0x10, 0x01, 0x00, 0x07, 0x03, 0x00, 0x00, 0x00, 0xC0, 0x12, 0x00, 0x00,
	0x80, 0x3E, 0x00, 0x00, 0x00, 0x67, 0x32, 0x00, 0x00, 0x90, 0x9A, 0x0C, 0x00, 0x00,
	0xF7, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xB2, 0x00,
	0x01, 0x00, 0x0F, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
};

/* Sony RC-S300 (054C:0DC8): T=1 only, dwFeatures 0x0004007E (extended APDU,
 * auto everything), dwMaxCCIDMessageLength 522, IFSD 254, no PIN pad, one
 * slot (ccid.md §3).  Voltage, clock and data-rate fields are not in our
 * notes and are set to plausible values (5 V, 4 MHz, 10752 bps). */
static const uint8_t rcs300_desc[54] = {
	0x36, 0x21, 0x10, 0x01, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0xA0, 0x0F, 0x00, 0x00,
	0xA0, 0x0F, 0x00, 0x00, 0x00, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x2A, 0x00, 0x00, 0x00,
	0xFE, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x7E, 0x00,
	0x04, 0x00, 0x0A, 0x02, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01,
};

static const uint8_t ep_bulk_out[7] = { 0x07, 0x05, 0x02, 0x02, 0x40, 0x00, 0x00 };
static const uint8_t ep_bulk_in[7] = { 0x07, 0x05, 0x82, 0x02, 0x40, 0x00, 0x00 };
static const uint8_t ep_intr_in[7] = { 0x07, 0x05, 0x83, 0x03, 0x08, 0x00, 0x10 };

struct cfg {
	uint8_t b[1024];
	size_t n;
};

static void cfg_start(struct cfg *c)
{
	static const uint8_t hdr[9] = { 0x09, 0x02, 0, 0, 0x01, 0x01, 0x00, 0x80, 0x32 };

	memcpy(c->b, hdr, 9);
	c->n = 9;
}

static void cfg_add(struct cfg *c, const uint8_t *d, size_t n)
{
	ck_assert_uint_le(c->n + n, sizeof(c->b));
	memcpy(c->b + c->n, d, n);
	c->n += n;
	c->b[2] = (uint8_t)c->n;
	c->b[3] = (uint8_t)(c->n >> 8);
}

static void cfg_iface(struct cfg *c, uint8_t num, uint8_t alt, uint8_t nep, uint8_t cls)
{
	uint8_t d[9] = { 0x09, 0x04, num, alt, nep, cls, 0x00, 0x00, 0x00 };

	cfg_add(c, d, 9);
}

static void cfg_ccid(struct cfg *c, uint8_t num, uint8_t cls, const uint8_t *desc)
{
	cfg_iface(c, num, 0, 3, cls);
	cfg_add(c, desc, 54);
	cfg_add(c, ep_bulk_out, 7);
	cfg_add(c, ep_bulk_in, 7);
	cfg_add(c, ep_intr_in, 7);
}

START_TEST(acr39u_full_configuration)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = "unset";

	cfg_start(&c);
	cfg_ccid(&c, 0, 0x0B, acr39u_desc);
	ck_assert_uint_eq(c.n, 93);
	ck_assert(ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_ptr_null(why);
	ck_assert_uint_eq(i.interface_number, 0);
	ck_assert_uint_eq(i.interface_class, 0x0B);
	ck_assert_uint_eq(i.ep_bulk_out, 0x02);
	ck_assert_uint_eq(i.ep_bulk_in, 0x82);
	ck_assert_uint_eq(i.ep_interrupt_in, 0x83);
	ck_assert(i.has_interrupt);
	ck_assert_uint_eq(i.bulk_in_max_packet, 64);
	ck_assert_uint_eq(i.interrupt_max_packet, 8);
	ck_assert_uint_eq(i.desc.bcd_ccid, 0x0110);
	ck_assert_uint_eq(i.desc.max_slot_index, 0);
	ck_assert_uint_eq(i.desc.slots, 1);
	ck_assert_uint_eq(i.desc.voltage_support, 0x07);
	ck_assert_uint_eq(i.desc.protocols, 3);
	ck_assert_uint_eq(i.desc.default_clock_khz, 4800);
	ck_assert_uint_eq(i.desc.maximum_clock_khz, 16000);
	ck_assert_uint_eq(i.desc.num_clock_supported, 0);
	ck_assert_uint_eq(i.desc.data_rate_bps, 12903);
	ck_assert_uint_eq(i.desc.max_data_rate_bps, 826000);
	ck_assert_uint_eq(i.desc.num_data_rates_supported, 0);
	ck_assert_uint_eq(i.desc.max_ifsd, 247);
	ck_assert_uint_eq(i.desc.synch_protocols, 0);
	ck_assert_uint_eq(i.desc.mechanical, 0);
	ck_assert_uint_eq(i.desc.features, 0x000100B2);
	ck_assert_int_eq(i.desc.level, CCID_LEVEL_TPDU);
	ck_assert_str_eq(ccid_level_name(i.desc.level), "TPDU");
	ck_assert_uint_eq(i.desc.max_message_length, 271);
	ck_assert_uint_eq(i.desc.class_get_response, 0xFF);
	ck_assert_uint_eq(i.desc.class_envelope, 0xFF);
	ck_assert_uint_eq(i.desc.lcd_layout, 0);
	ck_assert_uint_eq(i.desc.pin_support, 0);
	ck_assert_uint_eq(i.desc.max_busy_slots, 1);
	ck_assert(i.desc.slots_thread_safe);
}
END_TEST

START_TEST(rcs300_extended_apdu)
{
	struct ccid_class_desc d;
	const char *why = NULL;

	ck_assert(ccid_class_desc_parse(rcs300_desc, sizeof(rcs300_desc), &d, &why));
	ck_assert_int_eq(d.level, CCID_LEVEL_EXTENDED_APDU);
	ck_assert_uint_eq(d.protocols, CCID_PROTOCOL_T1);
	ck_assert_uint_eq(d.max_message_length, 522);
	ck_assert_uint_eq(d.max_ifsd, 254);
	ck_assert(d.features & CCID_FEAT_AUTO_PPS_PROP);
	ck_assert(!(d.features & CCID_FEAT_AUTO_PPS_CUR));
	ck_assert(d.features & CCID_FEAT_AUTO_CONF_ATR);
}
END_TEST

START_TEST(vendor_class_interface)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = NULL;
	uint8_t short_desc[10] = { 0x0A, 0x21, 0, 0, 0, 0, 0, 0, 0, 0 };

	/* NTT Com SCR3310: bInterfaceClass 0xFF with a 54-byte CCID descriptor. */
	cfg_start(&c);
	cfg_ccid(&c, 0, 0xFF, acr39u_desc);
	ck_assert(ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_uint_eq(i.interface_class, 0xFF);
	ck_assert_uint_eq(i.desc.max_message_length, 271);

	/* A vendor interface with another 0x21 descriptor is not CCID. */
	cfg_start(&c);
	cfg_iface(&c, 0, 0, 2, 0xFF);
	cfg_add(&c, short_desc, sizeof(short_desc));
	cfg_add(&c, ep_bulk_out, 7);
	cfg_add(&c, ep_bulk_in, 7);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "no CCID interface in configuration");

	/* A vendor interface without any class descriptor (e.g. RC-S380). */
	cfg_start(&c);
	cfg_iface(&c, 0, 0, 2, 0xFF);
	cfg_add(&c, ep_bulk_out, 7);
	cfg_add(&c, ep_bulk_in, 7);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "no CCID interface in configuration");
}
END_TEST

START_TEST(composite_reader)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = NULL;
	uint8_t hid[9] = { 0x09, 0x21, 0x11, 0x01, 0x00, 0x01, 0x22, 0x20, 0x00 };

	/* HID interface first, then two CCID interfaces (PICC + SAM). */
	cfg_start(&c);
	cfg_iface(&c, 0, 0, 1, 0x03);
	cfg_add(&c, hid, sizeof(hid));        /* HID class desc also uses type 0x21 */
	cfg_add(&c, ep_intr_in, 7);
	cfg_ccid(&c, 1, 0x0B, rcs300_desc);
	cfg_ccid(&c, 2, 0x0B, acr39u_desc);
	ck_assert(ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_uint_eq(i.interface_number, 1);
	ck_assert_int_eq(i.desc.level, CCID_LEVEL_EXTENDED_APDU);
	ck_assert(ccid_config_find_interface(c.b, c.n, 2, &i, &why));
	ck_assert_uint_eq(i.interface_number, 2);
	ck_assert_int_eq(i.desc.level, CCID_LEVEL_TPDU);
	ck_assert(!ccid_config_find_interface(c.b, c.n, 0, &i, &why));
	ck_assert(!ccid_config_find_interface(c.b, c.n, 7, &i, &why));
	ck_assert_str_eq(why, "no CCID interface in configuration");
}
END_TEST

START_TEST(descriptor_order_and_alt_settings)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = NULL;

	/* Class descriptor after the endpoints (some firmwares do this). */
	cfg_start(&c);
	cfg_iface(&c, 0, 0, 2, 0x0B);
	cfg_add(&c, ep_bulk_in, 7);
	cfg_add(&c, ep_bulk_out, 7);
	cfg_add(&c, acr39u_desc, 54);
	ck_assert(ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert(!i.has_interrupt);
	ck_assert_uint_eq(i.ep_interrupt_in, 0);
	ck_assert_uint_eq(i.ep_bulk_in, 0x82);

	/* Alternate setting 1 is ignored; only setting 0 counts. */
	cfg_start(&c);
	cfg_iface(&c, 0, 1, 3, 0x0B);
	cfg_add(&c, rcs300_desc, 54);
	cfg_add(&c, ep_bulk_out, 7);
	cfg_add(&c, ep_bulk_in, 7);
	cfg_ccid(&c, 0, 0x0B, acr39u_desc);
	ck_assert(ccid_config_find_interface(c.b, c.n, 0, &i, &why));
	ck_assert_uint_eq(i.alternate_setting, 0);
	ck_assert_int_eq(i.desc.level, CCID_LEVEL_TPDU);
}
END_TEST

START_TEST(missing_endpoints_or_descriptor)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = NULL;

	cfg_start(&c);
	cfg_iface(&c, 0, 0, 2, 0x0B);
	cfg_add(&c, acr39u_desc, 54);
	cfg_add(&c, ep_bulk_in, 7);
	cfg_add(&c, ep_intr_in, 7);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "CCID interface lacks a bulk-IN or bulk-OUT endpoint");

	cfg_start(&c);
	cfg_iface(&c, 0, 0, 2, 0x0B);
	cfg_add(&c, ep_bulk_in, 7);
	cfg_add(&c, ep_bulk_out, 7);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "CCID interface without class descriptor");

	/* Class 0x0B with an invalid class descriptor: its reason is reported. */
	{
		uint8_t bad[54];

		memcpy(bad, acr39u_desc, 54);
		bad[CCID_DESC_bMaxSlotIndex] = 200;
		cfg_start(&c);
		cfg_ccid(&c, 0, 0x0B, bad);
		ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
		ck_assert_str_eq(why, "bMaxSlotIndex above 15");
	}
}
END_TEST

START_TEST(malformed_configuration)
{
	struct cfg c;
	struct ccid_interface_info i;
	const char *why = NULL;
	uint8_t zero_len[2] = { 0x00, 0x05 };
	uint8_t short_iface[5] = { 0x05, 0x04, 0, 0, 0 };
	uint8_t short_ep[4] = { 0x04, 0x05, 0x81, 0x02 };

	cfg_start(&c);
	cfg_ccid(&c, 0, 0x0B, acr39u_desc);
	ck_assert(!ccid_config_find_interface(c.b, 8, -1, &i, &why));
	ck_assert_str_eq(why, "not a configuration descriptor");
	ck_assert(!ccid_config_find_interface(c.b, c.n - 1, -1, &i, &why));
	ck_assert_str_eq(why, "wTotalLength exceeds the bytes read");
	c.b[1] = 0x04;
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "not a configuration descriptor");
	ck_assert(!ccid_config_find_interface(NULL, 10, -1, &i, &why));

	cfg_start(&c);
	cfg_add(&c, zero_len, 2);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "malformed descriptor in configuration");

	/* Last descriptor's bLength runs past wTotalLength. */
	cfg_start(&c);
	cfg_ccid(&c, 0, 0x0B, acr39u_desc);
	c.b[c.n - 7] = 0x20;
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "malformed descriptor in configuration");

	cfg_start(&c);
	cfg_add(&c, short_iface, 5);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "interface descriptor too short");

	cfg_start(&c);
	cfg_iface(&c, 0, 0, 1, 0x0B);
	cfg_add(&c, short_ep, 4);
	ck_assert(!ccid_config_find_interface(c.b, c.n, -1, &i, &why));
	ck_assert_str_eq(why, "endpoint descriptor too short");

	/* Every truncation of a valid configuration is rejected cleanly. */
	cfg_start(&c);
	cfg_ccid(&c, 0, 0x0B, acr39u_desc);
	for (size_t n = 0; n < c.n; n++)
		ck_assert(!ccid_config_find_interface(c.b, n, -1, &i, &why));
}
END_TEST

static bool parse_modified(size_t off, uint32_t value, unsigned width, struct ccid_class_desc *d,
                           const char **why, const uint8_t *base)
{
	uint8_t b[54];

	memcpy(b, base, 54);
	for (unsigned k = 0; k < width; k++)
		b[off + k] = (uint8_t)(value >> (8 * k));
	return ccid_class_desc_parse(b, 54, d, why);
}

START_TEST(class_descriptor_validation)
{
	struct ccid_class_desc d;
	const char *why = NULL;

	ck_assert(!ccid_class_desc_parse(acr39u_desc, 53, &d, &why));
	ck_assert_str_eq(why, "CCID class descriptor shorter than 54 bytes");
	ck_assert(!parse_modified(CCID_DESC_bLength, 53, 1, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "CCID class descriptor bLength is not 54");
	ck_assert(!parse_modified(CCID_DESC_bDescriptorType, 0x22, 1, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "CCID class descriptor type is not 0x21");
	ck_assert(!parse_modified(CCID_DESC_bMaxSlotIndex, 16, 1, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "bMaxSlotIndex above 15");
	ck_assert(parse_modified(CCID_DESC_bMaxSlotIndex, 15, 1, &d, &why, acr39u_desc));
	ck_assert_uint_eq(d.slots, 16);
	ck_assert(!d.slots_thread_safe);           /* 1 busy slot of 16 */
	ck_assert(!parse_modified(CCID_DESC_dwProtocols, 0x4, 4, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "dwProtocols offers neither T=0 nor T=1");
	ck_assert(!parse_modified(CCID_DESC_dwMaxCCIDMessageLength, 46, 4, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "dwMaxCCIDMessageLength too small");
	ck_assert(parse_modified(CCID_DESC_dwMaxCCIDMessageLength, 47, 4, &d, &why, acr39u_desc));
	ck_assert(parse_modified(CCID_DESC_dwMaxCCIDMessageLength, 65544, 4, &d, &why, acr39u_desc));
	ck_assert(!parse_modified(CCID_DESC_dwMaxCCIDMessageLength, 65545, 4, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "dwMaxCCIDMessageLength above 65544");
	ck_assert(!parse_modified(CCID_DESC_dwMaxCCIDMessageLength, 0xFFFFFFFFu, 4, &d, &why, acr39u_desc));
	ck_assert(!parse_modified(CCID_DESC_dwFeatures, 0x000300B2, 4, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "unknown exchange level in dwFeatures");
	ck_assert(parse_modified(CCID_DESC_dwFeatures, 0x000000B2, 4, &d, &why, acr39u_desc));
	ck_assert_int_eq(d.level, CCID_LEVEL_CHAR);
	ck_assert(parse_modified(CCID_DESC_dwFeatures, 0x000200B2, 4, &d, &why, acr39u_desc));
	ck_assert_int_eq(d.level, CCID_LEVEL_SHORT_APDU);
	/* IFSD matters only where the host runs T=1. */
	ck_assert(!parse_modified(CCID_DESC_dwMaxIFSD, 0, 4, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "dwMaxIFSD outside 1..254 on a TPDU/character T=1 reader");
	ck_assert(!parse_modified(CCID_DESC_dwMaxIFSD, 255, 4, &d, &why, acr39u_desc));
	ck_assert(parse_modified(CCID_DESC_dwMaxIFSD, 254, 4, &d, &why, acr39u_desc));
	ck_assert(parse_modified(CCID_DESC_dwMaxIFSD, 1024, 4, &d, &why, rcs300_desc));
	ck_assert_uint_eq(d.max_ifsd, 1024);
	/* Busy slots */
	ck_assert(parse_modified(CCID_DESC_bMaxCCIDBusySlots, 0, 1, &d, &why, acr39u_desc));
	ck_assert_uint_eq(d.max_busy_slots, 1);
	ck_assert(!parse_modified(CCID_DESC_bMaxCCIDBusySlots, 2, 1, &d, &why, acr39u_desc));
	ck_assert_str_eq(why, "bMaxCCIDBusySlots above the number of slots");
	{
		uint8_t b[54];

		memcpy(b, acr39u_desc, 54);
		b[CCID_DESC_bMaxSlotIndex] = 1;
		b[CCID_DESC_bMaxCCIDBusySlots] = 2;
		ck_assert(ccid_class_desc_parse(b, 54, &d, &why));
		ck_assert(d.slots_thread_safe);
		b[CCID_DESC_bMaxCCIDBusySlots] = 1;
		ck_assert(ccid_class_desc_parse(b, 54, &d, &why));
		ck_assert(!d.slots_thread_safe);
	}
}
END_TEST

START_TEST(find_in_extra)
{
	uint8_t extra[80];
	struct ccid_class_desc d;
	const char *why = NULL;
	uint8_t junk[5] = { 0x05, 0x24, 0x01, 0x02, 0x03 };

	memcpy(extra, junk, 5);
	memcpy(extra + 5, rcs300_desc, 54);
	ck_assert(ccid_class_desc_find(extra, 59, &d, &why));
	ck_assert_uint_eq(d.max_message_length, 522);
	ck_assert(!ccid_class_desc_find(extra, 5, &d, &why));
	ck_assert_str_eq(why, "no CCID class descriptor");
	ck_assert(!ccid_class_desc_find(extra, 30, &d, &why));
	ck_assert_str_eq(why, "malformed descriptor in interface extra bytes");
	extra[0] = 0;
	ck_assert(!ccid_class_desc_find(extra, 59, &d, &why));
	ck_assert_str_eq(why, "malformed descriptor in interface extra bytes");
	ck_assert(!ccid_class_desc_find(NULL, 0, &d, &why));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ccid-desc");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, acr39u_full_configuration);
	tcase_add_test(tc, rcs300_extended_apdu);
	tcase_add_test(tc, vendor_class_interface);
	tcase_add_test(tc, composite_reader);
	tcase_add_test(tc, descriptor_order_and_alt_settings);
	tcase_add_test(tc, missing_endpoints_or_descriptor);
	tcase_add_test(tc, malformed_configuration);
	tcase_add_test(tc, class_descriptor_validation);
	tcase_add_test(tc, find_in_extra);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

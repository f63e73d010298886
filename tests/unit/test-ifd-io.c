/* test-ifd-io.c — the pure parts of the driver's I/O layers: pcscd device
 * names, Info.plist values, log level parsing, redacted frame dumps. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "reader-quirks.h"
#include "usb-transport.h"

START_TEST(name_libudev)
{
	struct usbt_device_name n;
	ck_assert(usbt_parse_name("usb:072f/b100:libudev:0:/dev/bus/usb/001/007", &n));
	ck_assert_uint_eq(n.vid, 0x072F);
	ck_assert_uint_eq(n.pid, 0xB100);
	ck_assert_int_eq(n.interface_number, 0);
	ck_assert_int_eq(n.bus, 1);
	ck_assert_int_eq(n.address, 7);
}
END_TEST

START_TEST(name_plain_and_other_backends)
{
	struct usbt_device_name n;
	ck_assert(usbt_parse_name("usb:04E6/5120", &n));
	ck_assert_uint_eq(n.vid, 0x04E6);
	ck_assert_uint_eq(n.pid, 0x5120);
	ck_assert_int_eq(n.interface_number, -1);
	ck_assert_int_eq(n.bus, -1);
	ck_assert_int_eq(n.address, -1);
	/* a suffix of an unknown back end is ignored, as the IFDH API asks */
	ck_assert(usbt_parse_name("usb:04e6/5120:serial:/dev/ttyS0", &n));
	ck_assert_int_eq(n.interface_number, -1);
	ck_assert_int_eq(n.bus, -1);
	ck_assert(usbt_parse_name("usb:054c/0dc9:libudev:1:/weird/node", &n));
	ck_assert_int_eq(n.interface_number, 1);
	ck_assert_int_eq(n.bus, -1);
}
END_TEST

START_TEST(name_libusb)
{
	/* pcscd's libusb hotplug back end, and our IFDHCreateChannel */
	struct usbt_device_name n;
	ck_assert(usbt_parse_name("usb:04e6/5120:libusb-1.0:1:7:0", &n));
	ck_assert_uint_eq(n.vid, 0x04E6);
	ck_assert_uint_eq(n.pid, 0x5120);
	ck_assert_int_eq(n.bus, 1);
	ck_assert_int_eq(n.address, 7);
	ck_assert_int_eq(n.interface_number, 0);
	ck_assert(usbt_parse_name("usb:054c/0dc9:libusb-1.0:255:127:2", &n));
	ck_assert_int_eq(n.bus, 255);
	ck_assert_int_eq(n.address, 127);
	ck_assert_int_eq(n.interface_number, 2);
	/* a malformed libusb-1.0 suffix is refused, not half-used */
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:1:7", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:1:7:", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:1:7:0:9", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:256:7:0", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:1:x:0", &n));
	ck_assert(!usbt_parse_name("usb:04e6/5120:libusb-1.0:1:7:0x", &n));
}
END_TEST

START_TEST(name_rejected)
{
	struct usbt_device_name n;
	ck_assert(!usbt_parse_name(NULL, &n));
	ck_assert(!usbt_parse_name("", &n));
	ck_assert(!usbt_parse_name("/dev/ttyS0", &n));
	ck_assert(!usbt_parse_name("usb:72f/b100", &n));
	ck_assert(!usbt_parse_name("usb:072f-b100", &n));
	ck_assert(!usbt_parse_name("usb:072f/b10", &n));
	ck_assert(!usbt_parse_name("usb:072f/b100x", &n));
	ck_assert(!usbt_parse_name("usb:072f/b100:libudev:", &n));
	ck_assert(!usbt_parse_name("usb:072f/b100:libudev:256:/dev/bus/usb/001/002", &n));
}
END_TEST

START_TEST(parse_numbers)
{
	uint32_t v = 99;
	ck_assert(ifd_parse_u32("0x000F", &v));
	ck_assert_uint_eq(v, 15);
	ck_assert(ifd_parse_u32(" 3 ", &v));
	ck_assert_uint_eq(v, 3);
	ck_assert(!ifd_parse_u32("", &v));
	ck_assert(!ifd_parse_u32("-1", &v));
	ck_assert(!ifd_parse_u32("0x1G", &v));
	ck_assert(!ifd_parse_u32("0x100000000", &v));
}
END_TEST

static const char plist[] =
	"<dict>\n\t<key>ifdLogLevel</key>\n\t<string>0x0007</string>\n"
	"\t<key>ifdDriverOptions</key>\n\t<string>0x0001</string>\n"
	"\t<key>ifdEmpty</key>\n\t<array><string>1</string></array>\n"
	"\t<key>ifdBad</key>\n\t<string>yes</string>\n</dict>\n";

START_TEST(plist_values)
{
	uint32_t v = 0;
	ck_assert(ifd_plist_u32(plist, strlen(plist), "ifdLogLevel", &v));
	ck_assert_uint_eq(v, 7);
	ck_assert(ifd_plist_u32(plist, strlen(plist), "ifdDriverOptions", &v));
	ck_assert_uint_eq(v, 1);
	ck_assert(!ifd_plist_u32(plist, strlen(plist), "ifdMissing", &v));
	ck_assert(!ifd_plist_u32(plist, strlen(plist), "ifdEmpty", &v));  /* not the next element */
	ck_assert(!ifd_plist_u32(plist, strlen(plist), "ifdBad", &v));
	/* a value cut off by the buffer end is not read past it */
	ck_assert(!ifd_plist_u32(plist, 40, "ifdLogLevel", &v));
}
END_TEST

START_TEST(frame_dump_redacts_secrets)
{
	/* XfrBlock carrying VERIFY 1234 */
	const uint8_t frame[] = { 0x6F, 0x09, 0, 0, 0, 0, 0x05, 0, 0, 0,
				  0x00, 0x20, 0x00, 0x81, 0x04, 0x31, 0x32, 0x33, 0x34 };
	char out[256];
	ifd_format_frame(out, sizeof out, frame, sizeof frame, IFD_LOG_SECRET);
	ck_assert_str_eq(out, "6F 09 00 00 00 00 05 00 00 00 [9 bytes redacted]");
	ck_assert_ptr_null(strstr(out, "31 32"));
	ifd_format_frame(out, sizeof out, frame, sizeof frame, 0);
	ck_assert_ptr_nonnull(strstr(out, "31 32 33 34"));
	/* tiny buffers stay terminated */
	ifd_format_frame(out, 5, frame, sizeof frame, 0);
	ck_assert_uint_le(strlen(out), 4);
}
END_TEST

START_TEST(secret_apdus)
{
	const uint8_t verify[] = { 0x00, 0x20, 0x00, 0x81, 0x04, 1, 2, 3, 4 };
	const uint8_t change[] = { 0x00, 0x24, 0x00, 0x81 };
	const uint8_t read[] = { 0x00, 0xB0, 0x00, 0x00, 0x00 };
	ck_assert(ifd_apdu_is_secret(verify, sizeof verify));
	ck_assert(ifd_apdu_is_secret(change, sizeof change));
	ck_assert(!ifd_apdu_is_secret(read, sizeof read));
	ck_assert(!ifd_apdu_is_secret(verify, 1));
}
END_TEST

static const char quirk_plist[] =
	"<key>ifdVendorID</key>\n<array>\n<string>0x054C</string>\n<string>0x072F</string>\n"
	"<string>0x04E6</string>\n</array>\n"
	"<key>ifdProductID</key>\n<array>\n<string>0x0DC9</string>\n<string>0x2200</string>\n"
	"<string>0x511A</string>\n</array>\n"
	"<key>ifdFriendlyName</key>\n<array>\n<string>a</string>\n<string>b</string>\n"
	"<string>c</string>\n</array>\n"
	"<key>ifdOnshiQuirks</key>\n<array>\n<string>contactless</string>\n"
	"<string>contactless,slow-open,min-firmware=2.06,kernel-nfc=pn533_usb</string>\n"
	"<string>vendor-class,no-interrupt,ext-apdu-broken</string>\n</array>\n";

START_TEST(quirks_lookup)
{
	struct reader_quirks q;
	ck_assert(quirks_from_plist(quirk_plist, strlen(quirk_plist), 0x072F, 0x2200, &q));
	ck_assert(q.slow_open);
	ck_assert(!q.no_interrupt);
	ck_assert_uint_eq(q.min_firmware, 0x0206);
	ck_assert(quirks_firmware_too_old(&q, 0x0205));
	ck_assert(!quirks_firmware_too_old(&q, 0x0214));
	ck_assert(quirks_from_plist(quirk_plist, strlen(quirk_plist), 0x04E6, 0x511A, &q));
	ck_assert(q.no_interrupt);
	ck_assert(q.ext_apdu_broken);
	ck_assert(!q.slow_open);
	ck_assert(!quirks_firmware_too_old(&q, 0x0001));
	ck_assert(quirks_from_plist(quirk_plist, strlen(quirk_plist), 0x054C, 0x0DC9, &q));
	ck_assert(!q.no_interrupt && !q.slow_open && !q.ext_apdu_broken && !q.min_firmware);
	/* absent reader, truncated or missing arrays: no quirks */
	ck_assert(!quirks_from_plist(quirk_plist, strlen(quirk_plist), 0x072F, 0xB100, &q));
	ck_assert(!quirks_from_plist(quirk_plist, 200, 0x072F, 0x2200, &q));
	ck_assert(!q.slow_open);
	ck_assert(!quirks_from_plist(NULL, 0, 0x072F, 0x2200, &q));
}
END_TEST

START_TEST(quirk_words)
{
	struct reader_quirks q;
	quirks_parse_words("none", 4, &q);
	ck_assert(!q.no_interrupt && !q.slow_open && !q.min_firmware);
	quirks_parse_words("min-firmware=2.6", 16, &q);   /* malformed: ignored */
	ck_assert_uint_eq(q.min_firmware, 0);
	quirks_parse_words("min-firmware=12.34", 18, &q);
	ck_assert_uint_eq(q.min_firmware, 0x1234);
	quirks_parse_words("slow-open,", 10, &q);
	ck_assert(q.slow_open);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ifd-io");
	TCase *tc = tcase_create("pure");
	tcase_add_test(tc, name_libudev);
	tcase_add_test(tc, name_plain_and_other_backends);
	tcase_add_test(tc, name_libusb);
	tcase_add_test(tc, name_rejected);
	tcase_add_test(tc, parse_numbers);
	tcase_add_test(tc, plist_values);
	tcase_add_test(tc, frame_dump_redacts_secrets);
	tcase_add_test(tc, secret_apdus);
	tcase_add_test(tc, quirks_lookup);
	tcase_add_test(tc, quirk_words);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

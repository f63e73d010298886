/* test-emu-usb-desc.c — the bytes the emulated reader shows a host before any
 * transfer: descriptors built from a profile, and its sysfs records.
 * Uses a profile of its own so the layout is checked against known bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <check.h>
#include <glib.h>
#include "emu-sysfs.h"

static emu_profile test_profile(void)
{
	emu_profile p = {
		.name = "test", .description = "unit test",
		.vid = 0x1234, .pid = 0xABCD, .bcd_device = 0x0102, .bcd_usb = 0x0200,
		.manufacturer = "Maker", .product = "Reader", .serial = NULL,
		.interface_name = "CCID",
		.interface_class = USB_CLASS_CCID, .interface_protocol = 0,
		.nslots = 1, .has_interrupt_ep = true, .bulk_max_packet = 64,
		.ep_bulk_out = 0x01, .ep_bulk_in = 0x82, .ep_intr_in = 0x83,
		.intr_max_packet = 8, .intr_interval = 24,
	};
	for (unsigned i = 0; i < CCID_CLASS_DESC_LEN; i++)
		p.ccid_desc[i] = (uint8_t)(0xA0 + i);
	p.ccid_desc[0] = CCID_CLASS_DESC_LEN;
	p.ccid_desc[1] = CCID_CLASS_DESC_TYPE;
	return p;
}

START_TEST(device_descriptor_bytes)
{
	emu_profile p = test_profile();
	uint8_t d[EMU_DEVICE_DESC_LEN];
	static const uint8_t want[EMU_DEVICE_DESC_LEN] = {
		18, 0x01, 0x00, 0x02, 0, 0, 0, 64, 0x34, 0x12, 0xCD, 0xAB, 0x02, 0x01,
		EMU_STR_MANUFACTURER, EMU_STR_PRODUCT, 0 /* no serial */, 1,
	};
	ck_assert_uint_eq(emu_device_descriptor(&p, d), 18);
	ck_assert_mem_eq(d, want, sizeof(want));
}
END_TEST

START_TEST(config_descriptor_layout)
{
	emu_profile p = test_profile();
	uint8_t c[EMU_CONFIG_DESC_MAX];
	size_t n = emu_config_descriptor(&p, c);
	ck_assert_uint_eq(n, 9 + 9 + 54 + 3 * 7);
	ck_assert_uint_eq(c[2] | c[3] << 8, n);                 /* wTotalLength */
	ck_assert_uint_eq(c[5], EMU_USB_CONFIG_VALUE);
	/* interface: 3 endpoints, CCID class, iInterface */
	static const uint8_t iface[9] = { 9, 0x04, 0, 0, 3, 0x0B, 0, 0, EMU_STR_INTERFACE };
	ck_assert_mem_eq(c + 9, iface, 9);
	/* the class descriptor follows verbatim */
	ck_assert_mem_eq(c + 18, p.ccid_desc, CCID_CLASS_DESC_LEN);
	static const uint8_t eps[21] = {
		7, 0x05, 0x01, 0x02, 64, 0, 0,
		7, 0x05, 0x82, 0x02, 64, 0, 0,
		7, 0x05, 0x83, 0x03, 8, 0, 24,
	};
	ck_assert_mem_eq(c + 72, eps, sizeof(eps));

	p.has_interrupt_ep = false;
	n = emu_config_descriptor(&p, c);
	ck_assert_uint_eq(n, 9 + 9 + 54 + 2 * 7);
	ck_assert_uint_eq(c[9 + 4], 2);
}
END_TEST

START_TEST(string_descriptors)
{
	emu_profile p = test_profile();
	uint8_t s[EMU_STRING_DESC_MAX];
	static const uint8_t langid[4] = { 4, 0x03, 0x09, 0x04 };
	ck_assert_uint_eq(emu_string_descriptor(&p, EMU_STR_LANGID, s), 4);
	ck_assert_mem_eq(s, langid, 4);

	static const uint8_t maker[12] = { 12, 0x03, 'M', 0, 'a', 0, 'k', 0, 'e', 0, 'r', 0 };
	ck_assert_uint_eq(emu_string_descriptor(&p, EMU_STR_MANUFACTURER, s), 12);
	ck_assert_mem_eq(s, maker, 12);

	ck_assert_uint_eq(emu_string_descriptor(&p, EMU_STR_SERIAL, s), 0);   /* NULL string */
	ck_assert_uint_eq(emu_string_descriptor(&p, 77, s), 0);

	/* Non-ASCII bytes become U+FFFD; long strings stop within 255 bytes. */
	p.product = "a\xC3\xA9";
	ck_assert_uint_eq(emu_string_descriptor(&p, EMU_STR_PRODUCT, s), 8);
	ck_assert_uint_eq(s[4] | s[5] << 8, 0xFFFD);
	ck_assert_uint_eq(s[6] | s[7] << 8, 0xFFFD);
	char longname[400];
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	p.product = longname;
	size_t n = emu_string_descriptor(&p, EMU_STR_PRODUCT, s);
	ck_assert_uint_le(n, 255);
	ck_assert_uint_eq(n % 2, 0);
	ck_assert_uint_eq(s[0], n);
}
END_TEST

static char *read_attr(const char *root, const char *syspath, const char *name, gsize *len)
{
	char *path = g_build_filename(root, syspath, name, NULL);
	char *data = NULL;
	ck_assert_msg(g_file_get_contents(path, &data, len, NULL), "cannot read %s", path);
	g_free(path);
	return data;
}

START_TEST(testbed_records)
{
	emu_profile p = test_profile();
	UMockdevTestbed *tb = umockdev_testbed_new();
	char *root = umockdev_testbed_get_root_dir(tb);
	emu_sysfs_dev dev;
	char *err = NULL;
	ck_assert_int_eq(emu_sysfs_add(tb, &p, 0, &dev, &err), -1);   /* devnum 1..127 */
	g_free(err);
	ck_assert_int_eq(emu_sysfs_add(tb, &p, 5, &dev, &err), 0);
	ck_assert_str_eq(dev.devnode, "/dev/bus/usb/001/005");
	ck_assert_str_eq(dev.device_syspath, "/sys/devices/1-1");
	ck_assert_str_eq(dev.interface_syspath, "/sys/devices/1-1/1-1:1.0");

	gsize len;
	char *v = read_attr(root, dev.device_syspath, "busnum", &len);
	ck_assert_str_eq(v, "1\n");
	g_free(v);
	v = read_attr(root, dev.device_syspath, "devnum", &len);
	ck_assert_str_eq(v, "5\n");
	g_free(v);
	v = read_attr(root, dev.device_syspath, "idVendor", &len);
	ck_assert_str_eq(v, "1234\n");
	g_free(v);
	v = read_attr(root, dev.device_syspath, "descriptors", &len);
	ck_assert_uint_eq(len, 18 + 9 + 9 + 54 + 21);
	uint8_t dd[EMU_DEVICE_DESC_LEN];
	emu_device_descriptor(&p, dd);
	ck_assert_mem_eq(v, dd, sizeof(dd));
	g_free(v);
	v = read_attr(root, dev.device_syspath, "uevent", &len);
	ck_assert_ptr_nonnull(strstr(v, "DEVTYPE=usb_device\n"));
	ck_assert_ptr_nonnull(strstr(v, "DEVNAME=bus/usb/001/005\n"));
	g_free(v);
	v = read_attr(root, dev.interface_syspath, "bInterfaceClass", &len);
	ck_assert_str_eq(v, "0b\n");
	g_free(v);
	v = read_attr(root, dev.interface_syspath, "uevent", &len);
	ck_assert_ptr_nonnull(strstr(v, "DEVTYPE=usb_interface\n"));
	ck_assert_ptr_nonnull(strstr(v, "INTERFACE=11/0/0\n"));
	g_free(v);

	/* remove: the records go (uevents need the preload and are not checked here) */
	char *devdir = g_build_filename(root, dev.device_syspath, NULL);
	umockdev_testbed_remove_device(tb, dev.interface_syspath);
	umockdev_testbed_remove_device(tb, dev.device_syspath);
	ck_assert(!g_file_test(devdir, G_FILE_TEST_EXISTS));
	g_free(devdir);
	g_free(dev.device_syspath);
	g_free(dev.interface_syspath);
	g_object_unref(tb);
	ck_assert(!g_file_test(root, G_FILE_TEST_EXISTS));
	g_free(root);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emu-usb-desc");
	TCase *tc = tcase_create("descriptors");
	tcase_add_test(tc, device_descriptor_bytes);
	tcase_add_test(tc, config_descriptor_layout);
	tcase_add_test(tc, string_descriptors);
	tcase_add_test(tc, testbed_records);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

/* emu-sysfs.c — USB descriptors of a profile and its testbed records. */
#include <stdio.h>
#include <string.h>
#include <glib.h>
#include "emu-sysfs.h"

#define USB_DT_DEVICE        0x01
#define USB_DT_CONFIG        0x02
#define USB_DT_STRING        0x03
#define USB_DT_INTERFACE     0x04
#define USB_DT_ENDPOINT      0x05
#define USB_EP_BULK          0x02
#define USB_EP_INTERRUPT     0x03
#define USB_LANGID_EN_US     0x0409
#define USB_CFG_BUS_POWERED  0x80
#define USB_MAX_POWER_100MA  50      /* in units of 2 mA */

static void put_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xff);
	p[1] = (uint8_t)(v >> 8);
}

static uint8_t string_index(const char *s, uint8_t index)
{
	return s ? index : 0;
}

size_t emu_device_descriptor(const emu_profile *p, uint8_t out[EMU_DEVICE_DESC_LEN])
{
	out[0] = EMU_DEVICE_DESC_LEN;
	out[1] = USB_DT_DEVICE;
	put_le16(out + 2, p->bcd_usb);
	out[4] = 0;                     /* class given per interface */
	out[5] = 0;
	out[6] = 0;
	out[7] = EMU_USB_EP0_MAXPKT;
	put_le16(out + 8, p->vid);
	put_le16(out + 10, p->pid);
	put_le16(out + 12, p->bcd_device);
	out[14] = string_index(p->manufacturer, EMU_STR_MANUFACTURER);
	out[15] = string_index(p->product, EMU_STR_PRODUCT);
	out[16] = string_index(p->serial, EMU_STR_SERIAL);
	out[17] = 1;                    /* bNumConfigurations */
	return EMU_DEVICE_DESC_LEN;
}

static size_t put_endpoint(uint8_t *out, uint8_t addr, uint8_t attr,
			   uint16_t max_packet, uint8_t interval)
{
	out[0] = 7;
	out[1] = USB_DT_ENDPOINT;
	out[2] = addr;
	out[3] = attr;
	put_le16(out + 4, max_packet);
	out[6] = interval;
	return 7;
}

size_t emu_config_descriptor(const emu_profile *p, uint8_t out[EMU_CONFIG_DESC_MAX])
{
	size_t n = 0;
	uint8_t nep = p->has_interrupt_ep ? 3 : 2;

	out[n++] = 9;
	out[n++] = USB_DT_CONFIG;
	n += 2;                         /* wTotalLength, filled in below */
	out[n++] = 1;                   /* bNumInterfaces */
	out[n++] = EMU_USB_CONFIG_VALUE;
	out[n++] = 0;                   /* iConfiguration */
	out[n++] = USB_CFG_BUS_POWERED;
	out[n++] = USB_MAX_POWER_100MA;

	out[n++] = 9;
	out[n++] = USB_DT_INTERFACE;
	out[n++] = 0;                   /* bInterfaceNumber */
	out[n++] = 0;                   /* bAlternateSetting */
	out[n++] = nep;
	out[n++] = p->interface_class;
	out[n++] = 0;                   /* bInterfaceSubClass */
	out[n++] = p->interface_protocol;
	out[n++] = string_index(p->interface_name, EMU_STR_INTERFACE);

	/* The class descriptor sits between interface and endpoints, where
	 * libusb hands it to drivers as the interface's "extra" bytes. */
	memcpy(out + n, p->ccid_desc, CCID_CLASS_DESC_LEN);
	n += CCID_CLASS_DESC_LEN;

	n += put_endpoint(out + n, p->ep_bulk_out, USB_EP_BULK, p->bulk_max_packet, 0);
	n += put_endpoint(out + n, p->ep_bulk_in, USB_EP_BULK, p->bulk_max_packet, 0);
	if (p->has_interrupt_ep)
		n += put_endpoint(out + n, p->ep_intr_in, USB_EP_INTERRUPT,
				  p->intr_max_packet, p->intr_interval);
	put_le16(out + 2, (uint16_t)n);
	return n;
}

static const char *string_by_index(const emu_profile *p, unsigned index)
{
	switch (index) {
	case EMU_STR_MANUFACTURER: return p->manufacturer;
	case EMU_STR_PRODUCT:      return p->product;
	case EMU_STR_SERIAL:       return p->serial;
	case EMU_STR_INTERFACE:    return p->interface_name;
	default:                   return NULL;
	}
}

size_t emu_string_descriptor(const emu_profile *p, unsigned index,
			     uint8_t out[EMU_STRING_DESC_MAX])
{
	if (index == EMU_STR_LANGID) {
		out[0] = 4;
		out[1] = USB_DT_STRING;
		put_le16(out + 2, USB_LANGID_EN_US);
		return 4;
	}
	const char *s = string_by_index(p, index);
	if (!s)
		return 0;
	size_t n = 2;
	for (; *s && n + 2 <= EMU_STRING_DESC_MAX - 1; s++) {
		unsigned char c = (unsigned char)*s;
		put_le16(out + n, c < 0x80 ? c : 0xFFFD);
		n += 2;
	}
	out[0] = (uint8_t)n;
	out[1] = USB_DT_STRING;
	return n;
}

void emu_devnode_path(unsigned devnum, char *out, size_t outsz)
{
	snprintf(out, outsz, "/dev/bus/usb/%03u/%03u", EMU_USB_BUS, devnum);
}

/* ---- testbed records ------------------------------------------------------ */

/* Attribute and property lists for umockdev_testbed_add_devicev(): pairs of
 * strings, NULL-terminated. */
static void kv(GPtrArray *a, const char *key, char *value_owned)
{
	g_ptr_array_add(a, g_strdup(key));
	g_ptr_array_add(a, value_owned);
}

static char **kv_end(GPtrArray *a)
{
	g_ptr_array_add(a, NULL);
	return (char **)g_ptr_array_free(a, FALSE);
}

/* sysfs values end in a newline, as the kernel writes them (libusb warns otherwise). */
static char *line(const char *s)
{
	return g_strdup_printf("%s\n", s);
}

static char *add_device_record(UMockdevTestbed *tb, const emu_profile *p, unsigned devnum,
			       const char *devnode)
{
	GPtrArray *attr = g_ptr_array_new();
	GPtrArray *prop = g_ptr_array_new();
	unsigned minor = (EMU_USB_BUS - 1) * 128 + (devnum - 1);

	kv(attr, "busnum", g_strdup_printf("%u\n", EMU_USB_BUS));
	kv(attr, "devnum", g_strdup_printf("%u\n", devnum));
	kv(attr, "devpath", line("1"));
	kv(attr, "bConfigurationValue", g_strdup_printf("%u\n", EMU_USB_CONFIG_VALUE));
	kv(attr, "bNumConfigurations", line("1"));
	kv(attr, "bNumInterfaces", line(" 1"));
	kv(attr, "bDeviceClass", line("00"));
	kv(attr, "bDeviceSubClass", line("00"));
	kv(attr, "bDeviceProtocol", line("00"));
	kv(attr, "bMaxPacketSize0", g_strdup_printf("%u\n", EMU_USB_EP0_MAXPKT));
	kv(attr, "bmAttributes", g_strdup_printf("%02x\n", USB_CFG_BUS_POWERED));
	kv(attr, "bMaxPower", g_strdup_printf("%umA\n", USB_MAX_POWER_100MA * 2));
	kv(attr, "idVendor", g_strdup_printf("%04x\n", p->vid));
	kv(attr, "idProduct", g_strdup_printf("%04x\n", p->pid));
	kv(attr, "bcdDevice", g_strdup_printf("%04x\n", p->bcd_device));
	kv(attr, "version", g_strdup_printf("%2x.%02x\n", p->bcd_usb >> 8, p->bcd_usb & 0xff));
	kv(attr, "speed", g_strdup_printf("%u\n", EMU_USB_SPEED_MBPS));
	kv(attr, "maxchild", line("0"));
	kv(attr, "removable", line("removable"));
	kv(attr, "authorized", line("1"));
	if (p->manufacturer)
		kv(attr, "manufacturer", line(p->manufacturer));
	if (p->product)
		kv(attr, "product", line(p->product));
	if (p->serial)
		kv(attr, "serial", line(p->serial));
	/* "dev" also makes umockdev record major:minor for the preload's stat(). */
	kv(attr, "dev", g_strdup_printf("189:%u", minor));

	kv(prop, "DEVTYPE", g_strdup("usb_device"));
	kv(prop, "DEVNAME", g_strdup(devnode));
	kv(prop, "DRIVER", g_strdup("usb"));
	kv(prop, "PRODUCT", g_strdup_printf("%x/%x/%x", p->vid, p->pid, p->bcd_device));
	kv(prop, "TYPE", g_strdup("0/0/0"));
	kv(prop, "BUSNUM", g_strdup_printf("%03u", EMU_USB_BUS));
	kv(prop, "DEVNUM", g_strdup_printf("%03u", devnum));
	kv(prop, "MAJOR", g_strdup("189"));
	kv(prop, "MINOR", g_strdup_printf("%u", minor));

	char **a = kv_end(attr), **pr = kv_end(prop);
	char *syspath = umockdev_testbed_add_devicev(tb, "usb", "1-1", NULL, a, pr);
	g_strfreev(a);
	g_strfreev(pr);
	if (!syspath)
		return NULL;

	uint8_t desc[EMU_DEVICE_DESC_LEN + EMU_CONFIG_DESC_MAX];
	size_t n = emu_device_descriptor(p, desc);
	n += emu_config_descriptor(p, desc + n);
	umockdev_testbed_set_attribute_binary(tb, syspath, "descriptors", desc, (int)n);
	return syspath;
}

static char *add_interface_record(UMockdevTestbed *tb, const emu_profile *p)
{
	GPtrArray *attr = g_ptr_array_new();
	GPtrArray *prop = g_ptr_array_new();
	unsigned nep = p->has_interrupt_ep ? 3 : 2;

	kv(attr, "bInterfaceNumber", line("00"));
	kv(attr, "bAlternateSetting", line(" 0"));
	kv(attr, "bNumEndpoints", g_strdup_printf("%02x\n", nep));
	kv(attr, "bInterfaceClass", g_strdup_printf("%02x\n", p->interface_class));
	kv(attr, "bInterfaceSubClass", line("00"));
	kv(attr, "bInterfaceProtocol", g_strdup_printf("%02x\n", p->interface_protocol));
	kv(attr, "authorized", line("1"));
	if (p->interface_name)
		kv(attr, "interface", line(p->interface_name));

	kv(prop, "DEVTYPE", g_strdup("usb_interface"));
	kv(prop, "PRODUCT", g_strdup_printf("%x/%x/%x", p->vid, p->pid, p->bcd_device));
	kv(prop, "TYPE", g_strdup("0/0/0"));
	kv(prop, "INTERFACE", g_strdup_printf("%u/0/%u", p->interface_class, p->interface_protocol));
	kv(prop, "MODALIAS", g_strdup_printf(
		"usb:v%04Xp%04Xd%04Xdc00dsc00dp00ic%02Xisc00ip%02Xin00",
		p->vid, p->pid, p->bcd_device, p->interface_class, p->interface_protocol));

	char **a = kv_end(attr), **pr = kv_end(prop);
	/* Named with its parent's path instead of passing `parent`: umockdev
	 * checks a parent with plain stat(), which only sees the testbed from
	 * inside the preload, and this process does not run under it. */
	char *syspath = umockdev_testbed_add_devicev(tb, "usb", "1-1/1-1:1.0", NULL, a, pr);
	g_strfreev(a);
	g_strfreev(pr);
	return syspath;
}

int emu_sysfs_add(UMockdevTestbed *tb, const emu_profile *p, unsigned devnum,
		  emu_sysfs_dev *out, char **error)
{
	memset(out, 0, sizeof(*out));
	if (devnum < 1 || devnum > 127) {
		*error = g_strdup_printf("USB device number %u out of range 1..127", devnum);
		return -1;
	}
	out->devnum = devnum;
	emu_devnode_path(devnum, out->devnode, sizeof(out->devnode));
	out->device_syspath = add_device_record(tb, p, devnum, out->devnode);
	if (!out->device_syspath) {
		*error = g_strdup("umockdev refused the usb_device record");
		return -1;
	}
	out->interface_syspath = add_interface_record(tb, p);
	if (!out->interface_syspath) {
		*error = g_strdup("umockdev refused the usb_interface record");
		umockdev_testbed_remove_device(tb, out->device_syspath);
		g_free(out->device_syspath);
		out->device_syspath = NULL;
		return -1;
	}
	return 0;
}

void emu_sysfs_announce(UMockdevTestbed *tb, const emu_sysfs_dev *dev)
{
	umockdev_testbed_uevent(tb, dev->device_syspath, "add");
	umockdev_testbed_uevent(tb, dev->interface_syspath, "add");
}

void emu_sysfs_remove(UMockdevTestbed *tb, emu_sysfs_dev *dev)
{
	if (!dev->device_syspath)
		return;
	/* The uevents are built from the records: send them before deleting. */
	umockdev_testbed_uevent(tb, dev->interface_syspath, "remove");
	umockdev_testbed_uevent(tb, dev->device_syspath, "remove");
	umockdev_testbed_remove_device(tb, dev->interface_syspath);
	umockdev_testbed_remove_device(tb, dev->device_syspath);
	g_free(dev->interface_syspath);
	g_free(dev->device_syspath);
	dev->interface_syspath = dev->device_syspath = NULL;
}

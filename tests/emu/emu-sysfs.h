/* emu-sysfs.h — what the emulated reader looks like from outside the wire:
 * its USB descriptors (built from an emu_profile) and its umockdev testbed
 * records (sysfs usb_device + usb_interface, dev node, uevents).
 *
 * Contract: the descriptor builders are pure functions of the profile, so
 * Check tests compare their bytes; emu_sysfs_add()/emu_sysfs_remove() are
 * the only functions here that touch the testbed.  Layout follows what
 * libusb 1.0.26 (udev backend) and pcscd's libudev hotplug read:
 * usb_device attributes busnum, devnum, descriptors, bConfigurationValue,
 * speed, idVendor, idProduct, manufacturer, product, serial; properties
 * DEVTYPE, DEVNAME, BUSNUM, DEVNUM, PRODUCT; a child usb_interface with
 * bInterfaceNumber, bInterfaceClass... and DEVTYPE=usb_interface.
 */
#ifndef ONSHI_EMU_SYSFS_H
#define ONSHI_EMU_SYSFS_H

#include <stddef.h>
#include <stdint.h>
#include <umockdev.h>
#include "emu-profile.h"

#define EMU_USB_BUS          1
#define EMU_USB_SPEED_MBPS   12     /* full speed */
#define EMU_USB_EP0_MAXPKT   64
#define EMU_USB_CONFIG_VALUE 1

/* String descriptor indexes the device descriptor refers to (0 when the
 * profile has no such string). */
enum { EMU_STR_LANGID = 0, EMU_STR_MANUFACTURER = 1, EMU_STR_PRODUCT = 2,
       EMU_STR_SERIAL = 3, EMU_STR_INTERFACE = 4 };

#define EMU_DEVICE_DESC_LEN 18
/* config 9 + interface 9 + CCID class 54 + up to three endpoints of 7. */
#define EMU_CONFIG_DESC_MAX (9 + 9 + CCID_CLASS_DESC_LEN + 3 * 7)
/* A string descriptor: 2 header bytes + UTF-16LE, at most 255 bytes. */
#define EMU_STRING_DESC_MAX 255

size_t emu_device_descriptor(const emu_profile *p, uint8_t out[EMU_DEVICE_DESC_LEN]);
/* Configuration descriptor with its interface, CCID class and endpoint
 * descriptors; returns wTotalLength. */
size_t emu_config_descriptor(const emu_profile *p, uint8_t out[EMU_CONFIG_DESC_MAX]);
/* String descriptor `index` (0: the LANGID list, US English only).
 * Returns its length, or 0 if the device has no such string.  Non-ASCII
 * bytes of the profile's strings are sent as U+FFFD. */
size_t emu_string_descriptor(const emu_profile *p, unsigned index,
			     uint8_t out[EMU_STRING_DESC_MAX]);

/* Where the device node of device number `devnum` lives: "/dev/bus/usb/001/00N". */
void emu_devnode_path(unsigned devnum, char *out, size_t outsz);

typedef struct emu_sysfs_dev {
	char *device_syspath;      /* /sys/devices/1-1 */
	char *interface_syspath;   /* /sys/devices/1-1/1-1:1.0 */
	char devnode[64];          /* /dev/bus/usb/001/00N */
	unsigned devnum;
} emu_sysfs_dev;

/* Add the device and its interface records to the testbed, without
 * uevents: the USB layer first puts its dev node in place (a FIFO, see
 * emu-usb.h), then emu_sysfs_announce() tells listeners.
 * Returns 0, or -1 with *error set (g_free it). */
int emu_sysfs_add(UMockdevTestbed *tb, const emu_profile *p, unsigned devnum,
		  emu_sysfs_dev *out, char **error);
/* `add` uevents: device first, then interface, as the kernel sends them. */
void emu_sysfs_announce(UMockdevTestbed *tb, const emu_sysfs_dev *dev);
/* Send `remove` uevents (interface, then device) and delete the records. */
void emu_sysfs_remove(UMockdevTestbed *tb, emu_sysfs_dev *dev);

#endif

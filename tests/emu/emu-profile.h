/* emu-profile.h — the readers the emulator can be: real USB and CCID
 * descriptor values of readers clinics use (shared/reference/ccid.md §3).
 *
 * Contract: a profile is constant data; the USB layer builds the device and
 * configuration descriptors from it, the CCID firmware reads the class
 * descriptor fields from ccid_desc[] (never from copies of its own).
 */
#ifndef ONSHI_EMU_PROFILE_H
#define ONSHI_EMU_PROFILE_H

#include <stdbool.h>
#include <stdint.h>
#include <onshi/ccid-const.h>

#define EMU_MAX_SLOTS 2

enum emu_slot_kind { EMU_SLOT_CONTACT, EMU_SLOT_CONTACTLESS };

typedef struct emu_profile {
	const char *name;             /* "tpdu-t1", "short-apdu", "extended-apdu", "multi-slot", "pinpad" */
	const char *description;      /* the real reader it copies */
	uint16_t vid, pid, bcd_device, bcd_usb;
	const char *manufacturer, *product, *serial, *interface_name; /* string descriptors (NULL: none) */
	uint8_t interface_class;      /* 0x0B, or 0xFF for vendor-class CCID readers */
	uint8_t interface_protocol;   /* 0 = bulk transfers */
	uint8_t ccid_desc[CCID_CLASS_DESC_LEN]; /* the class descriptor exactly as the reader reports it */
	uint8_t nslots;               /* bMaxSlotIndex + 1 */
	enum emu_slot_kind slot_kind[EMU_MAX_SLOTS];
	bool has_interrupt_ep;
	uint16_t bulk_max_packet;     /* 64 (full speed) */
	uint8_t ep_bulk_out, ep_bulk_in, ep_intr_in; /* endpoint addresses, e.g. 0x02 0x82 0x83 */
	uint16_t intr_max_packet;
	uint8_t intr_interval;
} emu_profile;

/* NULL-terminated list of every profile. */
extern const emu_profile *const emu_profiles[];
const emu_profile *emu_profile_find(const char *name);

/* Little-endian field readers for ccid_desc[]. */
static inline uint32_t emu_desc_u32(const emu_profile *p, unsigned off)
{
	return (uint32_t)p->ccid_desc[off] | (uint32_t)p->ccid_desc[off + 1] << 8 |
	       (uint32_t)p->ccid_desc[off + 2] << 16 | (uint32_t)p->ccid_desc[off + 3] << 24;
}

#endif

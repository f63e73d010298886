/* emu-profile.c — the five readers the emulator can be.
 *
 * Every CCID class descriptor below is the one the real reader reports, as
 * recorded in libccid's readers/NAME.txt parse dumps (LudovicRousseau/CCID),
 * except where a comment says a value was not published and what we chose.
 * All VID:PIDs are listed in Debian 12's libccid 1.5.2 Info.plist.
 */
#include "emu-profile.h"

#include <stddef.h>
#include <string.h>

#define U16LE(v) (uint8_t)((v) & 0xFF), (uint8_t)(((v) >> 8) & 0xFF)
#define U32LE(v) (uint8_t)((v) & 0xFF), (uint8_t)(((v) >> 8) & 0xFF), \
		 (uint8_t)(((v) >> 16) & 0xFF), (uint8_t)(((v) >> 24) & 0xFF)

/* The 54 bytes in descriptor order (CCID 1.1 table 5.1-1). */
#define CCID_DESC(bcdCCID, maxSlot, volt, protocols, defClock, maxClock, nClock,  \
		  rate, maxRate, nRates, maxIFSD, features, maxMsg, getResp,       \
		  envelope, lcd, pin, busy)                                        \
	{ CCID_CLASS_DESC_LEN, CCID_CLASS_DESC_TYPE, U16LE(bcdCCID), maxSlot, volt, \
	  U32LE(protocols), U32LE(defClock), U32LE(maxClock), nClock, U32LE(rate),  \
	  U32LE(maxRate), nRates, U32LE(maxIFSD), U32LE(0), U32LE(0),               \
	  U32LE(features), U32LE(maxMsg), getResp, envelope, U16LE(lcd), pin, busy }

/* ACS ACR39U ICC Reader (readers/ACS_ACR39U_ICC_Reader.txt): contact, TPDU,
 * T=0/T=1, IFSD 247, 271-byte messages.  The reader NTT Com resells as ACR39-NTTCom. */
static const emu_profile tpdu_t1 = {
	.name = "tpdu-t1",
	.description = "ACS ACR39U ICC Reader (072F:B100), TPDU level, contact",
	.vid = 0x072F, .pid = 0xB100, .bcd_device = 0x0216, .bcd_usb = 0x0200,
	.manufacturer = "ACS", .product = "ACR39U ICC Reader", .serial = NULL,
	.interface_name = NULL,
	.interface_class = USB_CLASS_CCID, .interface_protocol = 0,
	.ccid_desc = CCID_DESC(0x0110, 0x00, 0x07, CCID_PROTOCOL_T0 | CCID_PROTOCOL_T1,
			       4800, 16000, 0, 12903, 826000, 0, 247, 0x000100B2, 271,
			       0xFF, 0xFF, 0x0000, 0x00, 1),
	.nslots = 1, .slot_kind = { EMU_SLOT_CONTACT },
	.has_interrupt_ep = true, .bulk_max_packet = 64,
	.ep_bulk_out = 0x02, .ep_bulk_in = 0x82, .ep_intr_in = 0x83,
	.intr_max_packet = 8, .intr_interval = 16,
};

/* ACS ACR122U PICC Interface (readers/ACR122U_PICC.txt): contactless, short
 * APDU, T=1, 271-byte messages, auto parameter negotiation.  bcdDevice 2.14
 * (a shipped firmware; libccid refuses releases older than 2.06). */
static const emu_profile short_apdu = {
	.name = "short-apdu",
	.description = "ACS ACR122U PICC Interface (072F:2200), short APDU level, contactless",
	.vid = 0x072F, .pid = 0x2200, .bcd_device = 0x0214, .bcd_usb = 0x0110,
	.manufacturer = "ACS", .product = "ACR122U PICC Interface", .serial = NULL,
	.interface_name = NULL,
	.interface_class = USB_CLASS_CCID, .interface_protocol = 0,
	.ccid_desc = CCID_DESC(0x0100, 0x00, 0x07, CCID_PROTOCOL_T1,
			       4000, 4000, 0, 10752, 250000, 0, 256, 0x00020040, 271,
			       0x00, 0x00, 0x0000, 0x00, 1),
	.nslots = 1, .slot_kind = { EMU_SLOT_CONTACTLESS },
	.has_interrupt_ep = true, .bulk_max_packet = 64,
	.ep_bulk_out = 0x02, .ep_bulk_in = 0x82, .ep_intr_in = 0x81,
	.intr_max_packet = 8, .intr_interval = 16,
};

/* Sony RC-S300/P "FeliCa Port/PaSoRi 4.0": contactless, extended APDU, T=1
 * only, dwFeatures 0x0004007E, IFSD 254, 522-byte messages, no PIN pad
 * (shared/reference/ccid.md §3).  Its parse dump was not readable here, so
 * the clock/data-rate/voltage fields and bcdDevice are typical values for a
 * contactless CCID reader, chosen by us: libccid skips PPS and SetParameters
 * for it (AUTO_PPS_PROP) and never uses them. */
static const emu_profile extended_apdu = {
	.name = "extended-apdu",
	.description = "Sony RC-S300/P FeliCa Port/PaSoRi 4.0 (054C:0DC9), extended APDU level, contactless",
	.vid = 0x054C, .pid = 0x0DC9, .bcd_device = 0x0100, .bcd_usb = 0x0200,
	.manufacturer = "SONY", .product = "FeliCa Port/PaSoRi 4.0", .serial = NULL,
	.interface_name = NULL,
	.interface_class = USB_CLASS_CCID, .interface_protocol = 0,
	.ccid_desc = CCID_DESC(0x0110, 0x00, 0x07, CCID_PROTOCOL_T1,
			       4000, 4000, 0, 10752, 847000, 0, 254, 0x0004007E, 522,
			       0xFF, 0xFF, 0x0000, 0x00, 1),
	.nslots = 1, .slot_kind = { EMU_SLOT_CONTACTLESS },
	.has_interrupt_ep = true, .bulk_max_packet = 64,
	.ep_bulk_out = 0x02, .ep_bulk_in = 0x81, .ep_intr_in = 0x83,
	.intr_max_packet = 8, .intr_interval = 16,
};

/* SCM Microsystems SCR331-DI (readers/SCR331-DI-NTTCom.txt, 04E6:5120): the
 * dual-interface reader NTT Com distributed in Japan.  One CCID interface,
 * bMaxSlotIndex 1: slot 0 contact, slot 1 contactless.  Vendor class 0xFF
 * with a CCID descriptor, TPDU level, 263-byte messages (the SCM firmware
 * that libccid tolerates sending longer commands to).  libccid 1.5.2 has no
 * quirk code left for it (its contactless-slot hack is compiled out). */
static const emu_profile multi_slot = {
	.name = "multi-slot",
	.description = "SCM Microsystems SCR331-DI (04E6:5120), 2 slots: contact + contactless, TPDU level",
	.vid = 0x04E6, .pid = 0x5120, .bcd_device = 0x0627, .bcd_usb = 0x0110,
	.manufacturer = "SCM Microsystems Inc.", .product = "SCR331-DI USB Smart Card Reader",
	.serial = NULL, .interface_name = NULL,
	.interface_class = USB_CLASS_VENDOR, .interface_protocol = 0,
	.ccid_desc = CCID_DESC(0x0100, 0x01, 0x01, CCID_PROTOCOL_T0 | CCID_PROTOCOL_T1,
			       4000, 12000, 0, 10753, 344105, 0, 252, 0x000100BA, 263,
			       0xFF, 0xFF, 0x0000, 0x00, 1),
	.nslots = 2, .slot_kind = { EMU_SLOT_CONTACT, EMU_SLOT_CONTACTLESS },
	.has_interrupt_ep = true, .bulk_max_packet = 64,
	.ep_bulk_out = 0x01, .ep_bulk_in = 0x82, .ep_intr_in = 0x83,
	.intr_max_packet = 16, .intr_interval = 16,
};

/* SCM Microsystems SPR532 "SPRx32 USB Smart Card Reader" (readers/SPR532.txt,
 * 04E6:E003): contact pinpad, bPINSupport 0x03 (verify + modify), TPDU level,
 * 263-byte messages, vendor class 0xFF.  Chosen because libccid 1.5.2
 * applies no firmware fix-up to its Secure structures (unlike the GemPC
 * Pinpad, Dell and Cherry KC 1000 fixes) and no open-time escape sequence.
 * bcdDevice 5.10: the dump's 5.04 is on libccid's bogus-firmware list (it
 * refuses SPR532 releases before 5.10), 5.10 is the first one it drives. */
static const emu_profile pinpad = {
	.name = "pinpad",
	.description = "SCM Microsystems SPR532 (04E6:E003), PIN pad, TPDU level, contact",
	.vid = 0x04E6, .pid = 0xE003, .bcd_device = 0x0510, .bcd_usb = 0x0110,
	.manufacturer = "SCM Microsystems Inc.", .product = "SPRx32 USB Smart Card Reader",
	.serial = NULL, .interface_name = NULL,
	.interface_class = USB_CLASS_VENDOR, .interface_protocol = 0,
	.ccid_desc = CCID_DESC(0x0100, 0x00, 0x01, CCID_PROTOCOL_T0 | CCID_PROTOCOL_T1,
			       4000, 12000, 0, 9600, 307200, 0, 252, 0x000100BA, 263,
			       0xFF, 0xFF, 0x0000, CCID_PIN_VERIFY | CCID_PIN_MODIFY, 1),
	.nslots = 1, .slot_kind = { EMU_SLOT_CONTACT },
	.has_interrupt_ep = true, .bulk_max_packet = 64,
	.ep_bulk_out = 0x01, .ep_bulk_in = 0x82, .ep_intr_in = 0x83,
	.intr_max_packet = 16, .intr_interval = 16,
};

const emu_profile *const emu_profiles[] = {
	&tpdu_t1, &short_apdu, &extended_apdu, &multi_slot, &pinpad, NULL,
};

const emu_profile *emu_profile_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; emu_profiles[i]; i++)
		if (strcmp(emu_profiles[i]->name, name) == 0)
			return emu_profiles[i];
	return NULL;
}

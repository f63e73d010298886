/* ccid-desc.h — USB configuration and CCID class descriptor parsing.
 *
 * Contract:
 *  - Pure functions over caller-provided byte buffers (a full configuration
 *    descriptor as libusb_get_raw/`wTotalLength` bytes, or an interface's
 *    `extra` bytes); no I/O, no globals, no allocation.  Every descriptor
 *    length is checked against the bytes that remain before it is followed.
 *  - On failure the functions return false and, when `reason` is non-NULL,
 *    set *reason to a static string naming the first problem found (safe to
 *    log; contains no device data).
 *  - Validation bounds (documented policy, all enforced):
 *      bLength == 54, bDescriptorType == 0x21;
 *      bMaxSlotIndex <= CCID_DESC_MAX_SLOT_INDEX (15): the largest multi-slot
 *        readers in libccid's list have fewer than 16 slots, and pcscd clones
 *        one reader context per slot, so a larger value is treated as garbage;
 *      dwProtocols names T=0 and/or T=1;
 *      dwMaxCCIDMessageLength in [CCID_DESC_MIN_MSG_LEN, CCID_DESC_MAX_MSG_LEN]:
 *        the lower bound fits a CCID header plus a T=1 block of the default
 *        IFSC (10 + 3 + 32 + 2); the upper bound is the CCID 1.1 maximum
 *        (header + 65536 + 8-byte extended APDU header);
 *      the exchange level bits (dwFeatures & 0x70000) are one known level;
 *      for TPDU/character readers that offer T=1, dwMaxIFSD is in 1..254
 *        (the host runs T=1 and uses it for S(IFS)); APDU-level readers may
 *        report any IFSD (e.g. 1024) since the host never uses it;
 *      bMaxCCIDBusySlots <= bMaxSlotIndex + 1 (0 is read as 1).
 *  - ICCD interfaces without bulk endpoints (bInterfaceProtocol 1 or 2,
 *    control-pipe transport) are not supported and are reported as lacking
 *    bulk endpoints.
 */
#ifndef ONSHI_DRIVER_CCID_DESC_H
#define ONSHI_DRIVER_CCID_DESC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <onshi/ccid-const.h>

#define CCID_DESC_MAX_SLOT_INDEX  15
#define CCID_DESC_MIN_MSG_LEN     (CCID_HEADER_LEN + T1_PROLOGUE_LEN + T1_DEFAULT_IFS + 2)
#define CCID_DESC_MAX_MSG_LEN     65544u

enum ccid_exchange_level {
	CCID_LEVEL_CHAR = 0,
	CCID_LEVEL_TPDU,
	CCID_LEVEL_SHORT_APDU,
	CCID_LEVEL_EXTENDED_APDU,
};

struct ccid_class_desc {
	uint16_t bcd_ccid;
	uint8_t max_slot_index;
	uint8_t voltage_support;
	uint32_t protocols;
	uint32_t default_clock_khz;
	uint32_t maximum_clock_khz;
	uint8_t num_clock_supported;
	uint32_t data_rate_bps;
	uint32_t max_data_rate_bps;
	uint8_t num_data_rates_supported;
	uint32_t max_ifsd;
	uint32_t synch_protocols;
	uint32_t mechanical;
	uint32_t features;
	uint32_t max_message_length;
	uint8_t class_get_response;
	uint8_t class_envelope;
	uint16_t lcd_layout;
	uint8_t pin_support;
	uint8_t max_busy_slots;          /* 0 from the device is stored as 1 */

	/* derived */
	enum ccid_exchange_level level;
	unsigned slots;                  /* bMaxSlotIndex + 1 */
	bool slots_thread_safe;          /* every slot may be busy at once */
};

struct ccid_interface_info {
	uint8_t interface_number;
	uint8_t alternate_setting;
	uint8_t interface_class;         /* 0x0B, or 0xFF for proprietary-class CCID */
	uint8_t interface_subclass;
	uint8_t interface_protocol;
	uint8_t ep_bulk_in, ep_bulk_out, ep_interrupt_in;   /* addresses; 0 = none */
	uint16_t bulk_in_max_packet, bulk_out_max_packet, interrupt_max_packet;
	bool has_interrupt;
	struct ccid_class_desc desc;
};

/* Parses one 54-byte CCID class descriptor starting at buf[0]. */
bool ccid_class_desc_parse(const uint8_t *buf, size_t len,
                           struct ccid_class_desc *out, const char **reason);

/* Finds the CCID class descriptor among an interface's `extra` descriptors
 * (or any descriptor list) and parses it. */
bool ccid_class_desc_find(const uint8_t *extra, size_t len,
                          struct ccid_class_desc *out, const char **reason);

/* Walks a full configuration descriptor and returns the CCID interface whose
 * bInterfaceNumber is `interface_number`, or the first CCID interface when
 * interface_number < 0.  Class 0x0B interfaces qualify; class 0xFF ones only
 * when they carry a 54-byte CCID class descriptor.  Alternate settings other
 * than 0 are skipped.  Requires a bulk-IN and a bulk-OUT endpoint. */
bool ccid_config_find_interface(const uint8_t *config, size_t len, int interface_number,
                                struct ccid_interface_info *out, const char **reason);

const char *ccid_level_name(enum ccid_exchange_level level);

#endif

/* ccid-desc.c — USB configuration / CCID class descriptor parsing; see ccid-desc.h. */
#include "ccid-desc.h"

#include <string.h>

#define USB_DT_CONFIG     0x02
#define USB_DT_INTERFACE  0x04
#define USB_DT_ENDPOINT   0x05
#define USB_CONFIG_LEN    9
#define USB_IFACE_LEN     9
#define USB_EP_LEN        7
#define USB_EP_DIR_IN     0x80
#define USB_EP_XFER_MASK  0x03
#define USB_EP_XFER_BULK  0x02
#define USB_EP_XFER_INTR  0x03

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool fail(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return false;
}

const char *ccid_level_name(enum ccid_exchange_level level)
{
	switch (level) {
	case CCID_LEVEL_CHAR: return "character";
	case CCID_LEVEL_TPDU: return "TPDU";
	case CCID_LEVEL_SHORT_APDU: return "short APDU";
	case CCID_LEVEL_EXTENDED_APDU: return "extended APDU";
	}
	return "unknown";
}

static bool decode_level(uint32_t features, enum ccid_exchange_level *level)
{
	switch (features & CCID_FEAT_LEVEL_MASK) {
	case CCID_FEAT_LEVEL_CHAR: *level = CCID_LEVEL_CHAR; return true;
	case CCID_FEAT_LEVEL_TPDU: *level = CCID_LEVEL_TPDU; return true;
	case CCID_FEAT_LEVEL_SHORT_APDU: *level = CCID_LEVEL_SHORT_APDU; return true;
	case CCID_FEAT_LEVEL_EXTENDED_APDU: *level = CCID_LEVEL_EXTENDED_APDU; return true;
	}
	return false;
}

static void read_fields(const uint8_t *b, struct ccid_class_desc *d)
{
	d->bcd_ccid = le16(b + CCID_DESC_bcdCCID);
	d->max_slot_index = b[CCID_DESC_bMaxSlotIndex];
	d->voltage_support = b[CCID_DESC_bVoltageSupport];
	d->protocols = le32(b + CCID_DESC_dwProtocols);
	d->default_clock_khz = le32(b + CCID_DESC_dwDefaultClock);
	d->maximum_clock_khz = le32(b + CCID_DESC_dwMaximumClock);
	d->num_clock_supported = b[CCID_DESC_bNumClockSupported];
	d->data_rate_bps = le32(b + CCID_DESC_dwDataRate);
	d->max_data_rate_bps = le32(b + CCID_DESC_dwMaxDataRate);
	d->num_data_rates_supported = b[CCID_DESC_bNumDataRatesSupported];
	d->max_ifsd = le32(b + CCID_DESC_dwMaxIFSD);
	d->synch_protocols = le32(b + CCID_DESC_dwSynchProtocols);
	d->mechanical = le32(b + CCID_DESC_dwMechanical);
	d->features = le32(b + CCID_DESC_dwFeatures);
	d->max_message_length = le32(b + CCID_DESC_dwMaxCCIDMessageLength);
	d->class_get_response = b[CCID_DESC_bClassGetResponse];
	d->class_envelope = b[CCID_DESC_bClassEnvelope];
	d->lcd_layout = le16(b + CCID_DESC_wLcdLayout);
	d->pin_support = b[CCID_DESC_bPINSupport];
	d->max_busy_slots = b[CCID_DESC_bMaxCCIDBusySlots];
}

bool ccid_class_desc_parse(const uint8_t *buf, size_t len,
                           struct ccid_class_desc *out, const char **reason)
{
	struct ccid_class_desc d;

	if (!buf || !out)
		return fail(reason, "no descriptor buffer");
	if (len < CCID_CLASS_DESC_LEN)
		return fail(reason, "CCID class descriptor shorter than 54 bytes");
	if (buf[CCID_DESC_bLength] != CCID_CLASS_DESC_LEN)
		return fail(reason, "CCID class descriptor bLength is not 54");
	if (buf[CCID_DESC_bDescriptorType] != CCID_CLASS_DESC_TYPE)
		return fail(reason, "CCID class descriptor type is not 0x21");
	memset(&d, 0, sizeof(d));
	read_fields(buf, &d);

	if (d.max_slot_index > CCID_DESC_MAX_SLOT_INDEX)
		return fail(reason, "bMaxSlotIndex above 15");
	if (!(d.protocols & (CCID_PROTOCOL_T0 | CCID_PROTOCOL_T1)))
		return fail(reason, "dwProtocols offers neither T=0 nor T=1");
	if (d.max_message_length < CCID_DESC_MIN_MSG_LEN)
		return fail(reason, "dwMaxCCIDMessageLength too small");
	if (d.max_message_length > CCID_DESC_MAX_MSG_LEN)
		return fail(reason, "dwMaxCCIDMessageLength above 65544");
	if (!decode_level(d.features, &d.level))
		return fail(reason, "unknown exchange level in dwFeatures");
	if ((d.level == CCID_LEVEL_TPDU || d.level == CCID_LEVEL_CHAR)
	    && (d.protocols & CCID_PROTOCOL_T1)
	    && (d.max_ifsd == 0 || d.max_ifsd > T1_MAX_INF))
		return fail(reason, "dwMaxIFSD outside 1..254 on a TPDU/character T=1 reader");
	d.slots = (unsigned)d.max_slot_index + 1;
	if (d.max_busy_slots == 0)
		d.max_busy_slots = 1;
	if (d.max_busy_slots > d.slots)
		return fail(reason, "bMaxCCIDBusySlots above the number of slots");
	d.slots_thread_safe = d.max_busy_slots == d.slots;
	*out = d;
	return true;
}

/* Steps to the next descriptor; false when the remaining bytes do not hold a
 * well-formed one (bLength < 2 or past the end). */
static bool next_descriptor(const uint8_t *buf, size_t len, size_t pos, size_t *dlen)
{
	if (pos + 2 > len)
		return false;
	*dlen = buf[pos];
	return *dlen >= 2 && *dlen <= len - pos;
}

bool ccid_class_desc_find(const uint8_t *extra, size_t len,
                          struct ccid_class_desc *out, const char **reason)
{
	size_t pos = 0, dlen = 0;

	if (!extra)
		return fail(reason, "no CCID class descriptor");
	while (pos < len) {
		if (!next_descriptor(extra, len, pos, &dlen))
			return fail(reason, "malformed descriptor in interface extra bytes");
		if (extra[pos + 1] == CCID_CLASS_DESC_TYPE)
			return ccid_class_desc_parse(extra + pos, dlen, out, reason);
		pos += dlen;
	}
	return fail(reason, "no CCID class descriptor");
}

struct iface_scan {
	bool active;                /* inside a candidate interface */
	bool have_desc;
	const char *desc_reason;
	struct ccid_interface_info info;
};

static void scan_endpoint(struct iface_scan *s, const uint8_t *ep)
{
	uint8_t addr = ep[2], type = ep[3] & USB_EP_XFER_MASK;
	uint16_t mps = le16(ep + 4);

	if (type == USB_EP_XFER_BULK && (addr & USB_EP_DIR_IN) && !s->info.ep_bulk_in) {
		s->info.ep_bulk_in = addr;
		s->info.bulk_in_max_packet = mps;
	} else if (type == USB_EP_XFER_BULK && !(addr & USB_EP_DIR_IN) && !s->info.ep_bulk_out) {
		s->info.ep_bulk_out = addr;
		s->info.bulk_out_max_packet = mps;
	} else if (type == USB_EP_XFER_INTR && (addr & USB_EP_DIR_IN) && !s->info.has_interrupt) {
		s->info.ep_interrupt_in = addr;
		s->info.interrupt_max_packet = mps;
		s->info.has_interrupt = true;
	}
}

/* Decides whether a finished candidate interface is usable. */
static bool finish_iface(struct iface_scan *s, struct ccid_interface_info *out,
                         const char **reason)
{
	if (!s->have_desc)
		return fail(reason, s->desc_reason ? s->desc_reason : "CCID interface without class descriptor");
	if (!s->info.ep_bulk_in || !s->info.ep_bulk_out)
		return fail(reason, "CCID interface lacks a bulk-IN or bulk-OUT endpoint");
	*out = s->info;
	return true;
}

bool ccid_config_find_interface(const uint8_t *config, size_t len, int interface_number,
                                struct ccid_interface_info *out, const char **reason)
{
	struct iface_scan s;
	size_t pos, dlen = 0, total;
	const char *last_reason = "no CCID interface in configuration";

	if (!config || !out)
		return fail(reason, "no configuration buffer");
	if (len < USB_CONFIG_LEN || config[0] < USB_CONFIG_LEN || config[1] != USB_DT_CONFIG)
		return fail(reason, "not a configuration descriptor");
	total = le16(config + 2);
	if (total < config[0] || total > len)
		return fail(reason, "wTotalLength exceeds the bytes read");
	memset(&s, 0, sizeof(s));
	pos = config[0];
	for (;;) {
		bool at_end = pos >= total;
		uint8_t type = 0;

		if (!at_end) {
			if (!next_descriptor(config, total, pos, &dlen))
				return fail(reason, "malformed descriptor in configuration");
			type = config[pos + 1];
		}
		/* A new interface (or the end) closes the candidate. */
		if ((at_end || type == USB_DT_INTERFACE) && s.active) {
			bool is_ccid = s.info.interface_class == USB_CLASS_CCID || s.have_desc;

			if (is_ccid) {
				if (finish_iface(&s, out, &last_reason)) {
					if (reason)
						*reason = NULL;
					return true;
				}
			}
			s.active = false;
		}
		if (at_end)
			break;
		if (type == USB_DT_INTERFACE) {
			const uint8_t *d = config + pos;

			if (dlen < USB_IFACE_LEN)
				return fail(reason, "interface descriptor too short");
			memset(&s, 0, sizeof(s));
			s.active = d[3] == 0
			           && (d[5] == USB_CLASS_CCID || d[5] == USB_CLASS_VENDOR)
			           && (interface_number < 0 || d[2] == interface_number);
			s.info.interface_number = d[2];
			s.info.alternate_setting = d[3];
			s.info.interface_class = d[5];
			s.info.interface_subclass = d[6];
			s.info.interface_protocol = d[7];
		} else if (s.active && type == USB_DT_ENDPOINT) {
			if (dlen < USB_EP_LEN)
				return fail(reason, "endpoint descriptor too short");
			scan_endpoint(&s, config + pos);
		} else if (s.active && type == CCID_CLASS_DESC_TYPE && !s.have_desc) {
			/* Vendor-class interfaces qualify only with exactly 54 bytes,
			 * like libccid's ALLOW_PROPRIETARY_CLASS rule. */
			if (s.info.interface_class == USB_CLASS_VENDOR && dlen != CCID_CLASS_DESC_LEN) {
				s.desc_reason = "vendor-class interface with a non-CCID class descriptor";
			} else if (ccid_class_desc_parse(config + pos, dlen, &s.info.desc, &s.desc_reason)) {
				s.have_desc = true;
			}
		}
		pos += dlen;
	}
	return fail(reason, last_reason);
}

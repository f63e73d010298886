/* ifdhandler.c — the pcsc-lite IFD handler API v3 entry points of onshi's
 * CCID driver.  Policy lives here (power, protocol selection, PIN pad,
 * capabilities); CCID messages in ccid-cmd.c, USB in usb-transport.c, the
 * Lun table in reader-registry.c. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <ifdhandler.h>
#include <reader.h>
/* reader.h spells some Part 10 names differently (as an expression of
 * SCARD_CTL_CODE); the project's constants below are the ones used. */
#undef CM_IOCTL_GET_FEATURE_REQUEST

#include <onshi/part10-const.h>

#include "ccid-cmd.h"
#include "log.h"
#include "reader-registry.h"

#define IFD_EXPORT __attribute__((visibility("default")))
/* libccid's value; pcscd only compares it with the number of readers. */
#define SIMULTANEOUS_READERS 255
#define WINDOWS_GET_FEATURE_REQUEST 0x313520u   /* SCARD_CTL_CODE(3400), Windows style */
#define CHANNEL_ID_USB 0x0020u
#define ERROR_BACKOFF_MS 400u   /* pcscd's PCSCLITE_STATUS_POLL_RATE */

static RESPONSECODE from_cmd(enum ccid_cmd_status st, enum ccid_result res)
{
	switch (st) {
	case CCIDC_OK: return IFD_SUCCESS;
	case CCIDC_NO_DEVICE: return IFD_NO_SUCH_DEVICE;
	case CCIDC_TIMEOUT: return IFD_RESPONSE_TIMEOUT;
	case CCIDC_NOT_SUPPORTED: return IFD_NOT_SUPPORTED;
	case CCIDC_FAILED:
		if (res == CCID_RES_ICC_ABSENT)
			return IFD_ICC_NOT_PRESENT;
		if (res == CCID_RES_ICC_MUTE)
			return IFD_RESPONSE_TIMEOUT;
		return IFD_COMMUNICATION_ERROR;
	default:
		return IFD_COMMUNICATION_ERROR;
	}
}

/* ---- channels ----------------------------------------------------------------- */

IFD_EXPORT RESPONSECODE IFDHCreateChannelByName(DWORD Lun, LPSTR DeviceName)
{
	ifd_config_load();
	ifd_log(IFD_LOG_INFO, "Lun 0x%lX: open %s", (unsigned long)Lun, DeviceName ? DeviceName : "?");
	enum reg_status rs = reg_open(Lun, DeviceName);
	if (rs == REG_NO_DEVICE)
		return IFD_NO_SUCH_DEVICE;
	if (rs != REG_OK)
		return IFD_COMMUNICATION_ERROR;
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!r) {
		reg_close(Lun);
		return IFD_COMMUNICATION_ERROR;
	}
	if (r->dev.info.desc.level == CCID_LEVEL_CHAR) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: character-level exchange is not supported", r->key);
		reg_close(Lun);
		return IFD_COMMUNICATION_ERROR;
	}
	const struct usbt_identity *id = usbt_identity(r->usb);
	if (quirks_firmware_too_old(&r->quirks, id->bcd_device)) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: firmware %X.%02X is older than %X.%02X, which "
			"this reader needs (readers.list min-firmware)", r->key, id->bcd_device >> 8,
			id->bcd_device & 0xFF, r->quirks.min_firmware >> 8, r->quirks.min_firmware & 0xFF);
		reg_close(Lun);
		return IFD_COMMUNICATION_ERROR;
	}
	/* First exchange: proves the bulk pipes work (and, after a replug,
	 * that this is a fresh device). */
	uint8_t icc = 0;
	enum ccid_result res;
	enum ccid_cmd_status st = ccid_cmd_slot_status(&r->dev, si, false, &icc, &res);
	if (st != CCIDC_OK && st != CCIDC_FAILED) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: no answer to GetSlotStatus: %s", r->key,
			ccid_cmd_strerror(st));
		reg_close(Lun);
		return st == CCIDC_NO_DEVICE ? IFD_NO_SUCH_DEVICE : IFD_COMMUNICATION_ERROR;
	}
	ifd_log(IFD_LOG_INFO, "reader %u slot %u: %04X:%04X \"%s\", %s level, %u slot(s), %s", r->key,
		si, id->vid, id->pid, id->product, ccid_level_name(r->dev.info.desc.level), r->slots,
		r->has_interrupt ? "interrupt endpoint" : "no interrupt endpoint");
	return IFD_SUCCESS;
}

/* A reader this bundle lists (Info.plist) that no Lun drives yet. */
static bool listed_and_free(uint16_t vid, uint16_t pid, uint8_t bus, uint8_t address, void *ctx)
{
	(void)ctx;
	size_t len = 0;
	const char *plist = ifd_config_plist(&len);
	struct reader_quirks q;
	return plist && quirks_from_plist(plist, len, vid, pid, &q) &&
	       !reg_device_in_use(bus, address);
}

IFD_EXPORT RESPONSECODE IFDHCreateChannel(DWORD Lun, DWORD Channel)
{
	/* reader.conf without DEVICENAME.  A channel number cannot name a USB
	 * reader, so (as libccid does) the channel is ignored and the first
	 * reader of our list that is not already open is taken. */
	ifd_config_load();
	char name[96];
	enum usbt_status st = usbt_find_first(listed_and_free, NULL, name, sizeof name);
	if (st != USBT_OK) {
		ifd_log(IFD_LOG_CRITICAL, "Lun 0x%lX: channel %lu: %s", (unsigned long)Lun,
			(unsigned long)Channel, st == USBT_NOT_FOUND ?
			"no free reader of this driver's list on the bus" : usbt_strerror(st));
		return st == USBT_NOT_FOUND ? IFD_NO_SUCH_DEVICE : IFD_COMMUNICATION_ERROR;
	}
	ifd_log(IFD_LOG_INFO, "Lun 0x%lX: channel %lu: first free reader is %s",
		(unsigned long)Lun, (unsigned long)Channel, name);
	return IFDHCreateChannelByName(Lun, name);
}

IFD_EXPORT RESPONSECODE IFDHCloseChannel(DWORD Lun)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (slot->powered && !usbt_removed(r->usb))
		ccid_cmd_power_off(&r->dev, si, NULL);
	ifd_log(IFD_LOG_INFO, "reader %u slot %u: closed", r->key, si);
	reg_close(Lun);
	return IFD_SUCCESS;
}

/* ---- slot-change polling ------------------------------------------------------ */

static RESPONSECODE poll_slot_change(DWORD Lun, int timeout_ms)
{
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, NULL, &si);
	if (!r)
		return IFD_NO_SUCH_DEVICE;
	if (timeout_ms < 0)
		timeout_ms = 0;
	switch (reg_wait_slot_change(r, si, (unsigned)timeout_ms)) {
	case REG_WAIT_EVENT:
	case REG_WAIT_TIMEOUT:
		return IFD_SUCCESS;
	case REG_WAIT_STOPPED:
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: slot-change wait stopped", r->key, si);
		return IFD_SUCCESS;
	case REG_WAIT_REMOVED:
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: slot-change wait ends: reader removed",
			r->key, si);
		return IFD_NO_SUCH_DEVICE;
	default: {
		/* The interrupt pipe failed (not unplugged): wait as long as pcscd
		 * would between presence polls, so a pipe that keeps failing at
		 * once cannot turn pcscd's event thread into a busy loop. */
		unsigned ms = (unsigned)timeout_ms < ERROR_BACKOFF_MS ? (unsigned)timeout_ms : ERROR_BACKOFF_MS;
		struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		return IFD_COMMUNICATION_ERROR;
	}
	}
}

static RESPONSECODE stop_polling(DWORD Lun)
{
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, NULL, &si);
	if (r)
		reg_stop_wait(r, si);
	return IFD_SUCCESS;
}

/* ---- capabilities ------------------------------------------------------------- */

static RESPONSECODE put_bytes(PUCHAR Value, PDWORD Length, const void *data, size_t len)
{
	if (!Value || !Length)
		return IFD_COMMUNICATION_ERROR;
	if (*Length < len)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	memcpy(Value, data, len);
	*Length = (DWORD)len;
	return IFD_SUCCESS;
}

static RESPONSECODE put_byte(PUCHAR Value, PDWORD Length, uint8_t v)
{
	return put_bytes(Value, Length, &v, 1);
}

static RESPONSECODE put_dword(PUCHAR Value, PDWORD Length, uint32_t v)
{
	return put_bytes(Value, Length, &v, sizeof v);
}

static RESPONSECODE put_string(PUCHAR Value, PDWORD Length, const char *s)
{
	if (!s[0])
		return IFD_ERROR_TAG;
	return put_bytes(Value, Length, s, strlen(s) + 1);
}

IFD_EXPORT RESPONSECODE IFDHICCPresence(DWORD Lun);

IFD_EXPORT RESPONSECODE IFDHGetCapabilities(DWORD Lun, DWORD Tag, PDWORD Length, PUCHAR Value)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	const struct usbt_identity *id = usbt_identity(r->usb);
	switch (Tag) {
	case TAG_IFD_ATR:
	case SCARD_ATTR_ATR_STRING:
		return put_bytes(Value, Length, slot->atr, slot->powered ? slot->atr_len : 0);
	case SCARD_ATTR_ICC_PRESENCE: {
		RESPONSECODE rc = IFDHICCPresence(Lun);
		if (rc != IFD_ICC_PRESENT && rc != IFD_ICC_NOT_PRESENT)
			return rc;
		return put_byte(Value, Length, rc == IFD_ICC_PRESENT ? 2 : 0);
	}
	case SCARD_ATTR_ICC_INTERFACE_STATUS:
		return put_byte(Value, Length, slot->powered ? 1 : 0);
	case TAG_IFD_SIMULTANEOUS_ACCESS:
		return put_byte(Value, Length, SIMULTANEOUS_READERS);
	case TAG_IFD_THREAD_SAFE:
		return put_byte(Value, Length, 1);
	case TAG_IFD_SLOTS_NUMBER:
		return put_byte(Value, Length, (uint8_t)r->slots);
	case TAG_IFD_SLOT_THREAD_SAFE:
		/* one bulk pipe pair: the device lock serialises slots anyway */
		return put_byte(Value, Length, 0);
	case TAG_IFD_POLLING_THREAD_WITH_TIMEOUT: {
		if (!r->has_interrupt)
			return IFD_ERROR_TAG;   /* pcscd polls IFDHICCPresence instead */
		RESPONSECODE (*fn)(DWORD, int) = poll_slot_change;
		return put_bytes(Value, Length, &fn, sizeof fn);
	}
	case TAG_IFD_POLLING_THREAD_KILLABLE:
		return put_byte(Value, Length, 0);
	case TAG_IFD_STOP_POLLING_THREAD: {
		if (!r->has_interrupt)
			return IFD_ERROR_TAG;
		RESPONSECODE (*fn)(DWORD) = stop_polling;
		return put_bytes(Value, Length, &fn, sizeof fn);
	}
	case TAG_IFD_DEVICE_REMOVED:
		return put_byte(Value, Length, 1);   /* we handle the SetCapabilities */
	case SCARD_ATTR_VENDOR_IFD_VERSION:
		return put_dword(Value, Length, (uint32_t)id->bcd_device << 16);
	case SCARD_ATTR_VENDOR_NAME:
		return put_string(Value, Length, id->manufacturer);
	case SCARD_ATTR_VENDOR_IFD_SERIAL_NO:
		return put_string(Value, Length, id->serial);
	case SCARD_ATTR_MAXINPUT:
		return put_dword(Value, Length, (uint32_t)ccid_max_payload(&r->dev));
	case SCARD_ATTR_CHANNEL_ID:
		return put_dword(Value, Length,
				 CHANNEL_ID_USB << 16 | (uint32_t)id->bus << 8 | id->address);
	default:
		return IFD_ERROR_TAG;
	}
}

IFD_EXPORT RESPONSECODE IFDHSetCapabilities(DWORD Lun, DWORD Tag, DWORD Length, PUCHAR Value)
{
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, NULL, &si);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (Tag == TAG_IFD_DEVICE_REMOVED) {
		if (Value && Length >= 1 && Value[0]) {
			ifd_log(IFD_LOG_INFO, "reader %u: removed", r->key);
			usbt_mark_removed(r->usb);
		}
		return IFD_SUCCESS;
	}
	return IFD_ERROR_TAG;
}

/* ---- power and protocol ------------------------------------------------------- */

static void forget_card(struct ifd_slot *slot)
{
	slot->powered = false;
	slot->atr_len = 0;
	memset(&slot->proto, 0, sizeof slot->proto);
}

/* Voltages to try: the reader's automatic choice when it has one, else
 * 5 V, 3 V, 1.8 V among those it supports (class A first, as libccid). */
static size_t voltage_order(const struct ccid_class_desc *d, uint8_t out[3])
{
	if (d->features & CCID_FEAT_AUTO_VOLTAGE) {
		out[0] = CCID_VOLTAGE_AUTO;
		return 1;
	}
	size_t n = 0;
	if (d->voltage_support & 0x01) out[n++] = CCID_VOLTAGE_5V;
	if (d->voltage_support & 0x02) out[n++] = CCID_VOLTAGE_3V;
	if (d->voltage_support & 0x04) out[n++] = CCID_VOLTAGE_1_8V;
	if (n == 0)
		out[n++] = CCID_VOLTAGE_AUTO;
	return n;
}

static RESPONSECODE power_up(struct ifd_reader *r, struct ifd_slot *slot, uint8_t si)
{
	uint8_t volts[3];
	size_t nv = voltage_order(&r->dev.info.desc, volts);
	enum ccid_cmd_status st = CCIDC_IO;
	enum ccid_result res = CCID_RES_FAILED;
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0;
	forget_card(slot);
	for (size_t i = 0; i < nv; i++) {
		st = ccid_cmd_power_on(&r->dev, si, volts[i], CCID_CMD_DEFAULT_TIMEOUT_MS * 2,
				       atr, &atr_len, &res);
		if (st == CCIDC_OK || st == CCIDC_NO_DEVICE ||
		    (st == CCIDC_FAILED && res == CCID_RES_ICC_ABSENT))
			break;
		if (i + 1 < nv)   /* a card of another class may be mute at this voltage */
			ccid_cmd_power_off(&r->dev, si, NULL);
	}
	if (st != CCIDC_OK) {
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: power up failed: %s (%s)", r->key, si,
			ccid_cmd_strerror(st), ccid_result_name(res));
		return st == CCIDC_NO_DEVICE ? IFD_NO_SUCH_DEVICE : IFD_ERROR_POWER_ACTION;
	}
	enum atr_status as = atr_parse(atr, atr_len, &slot->atr_info);
	if (as != ATR_OK) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u slot %u: invalid ATR: %s", r->key, si,
			atr_strerror(as));
		ccid_cmd_power_off(&r->dev, si, NULL);
		return IFD_ERROR_POWER_ACTION;
	}
	memcpy(slot->atr, atr, atr_len);
	slot->atr_len = atr_len;
	slot->powered = true;
	r->dev.timeout_factor = 1;   /* slow-open: only the first exchanges are slow */
	slot->proto.protocol = slot->atr_info.default_protocol == 1 ? 1 : 0;
	slot->proto.timeout_ms = atr_read_timeout_ms(&slot->atr_info, slot->proto.protocol, 372, 1,
						     r->dev.info.desc.default_clock_khz);
	struct atr_contactless cl;
	if (atr_contactless(&slot->atr_info, &cl))
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: contactless card (reader-built ATR)",
			r->key, si);
	return IFD_SUCCESS;
}

IFD_EXPORT RESPONSECODE IFDHPowerICC(DWORD Lun, DWORD Action, PUCHAR Atr, PDWORD AtrLength)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (AtrLength && Action != IFD_POWER_DOWN)
		*AtrLength = 0;
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (usbt_removed(r->usb))
		return IFD_NO_SUCH_DEVICE;
	enum ccid_result res;
	enum ccid_cmd_status st;
	switch (Action) {
	case IFD_POWER_DOWN:
		forget_card(slot);
		st = ccid_cmd_power_off(&r->dev, si, &res);
		if (st == CCIDC_NO_DEVICE)
			return IFD_NO_SUCH_DEVICE;
		return (st == CCIDC_OK || (st == CCIDC_FAILED && res == CCID_RES_ICC_ABSENT)) ?
			IFD_SUCCESS : IFD_ERROR_POWER_ACTION;
	case IFD_POWER_UP:
	case IFD_RESET: {
		if (!Atr || !AtrLength)
			return IFD_ERROR_POWER_ACTION;
		/* CCID has no warm reset command: a reset is a power cycle, which
		 * also restarts T=1 from N(S) = 0 on both sides. */
		if (Action == IFD_RESET && slot->powered &&
		    ccid_cmd_power_off(&r->dev, si, NULL) == CCIDC_NO_DEVICE)
			return IFD_NO_SUCH_DEVICE;
		RESPONSECODE rc = power_up(r, slot, si);
		if (rc != IFD_SUCCESS)
			return rc;
		if (*AtrLength == 0 || *AtrLength > MAX_ATR_SIZE) /* pcscd passes MAX_ATR_SIZE */
			*AtrLength = MAX_ATR_SIZE;
		if (slot->atr_len > MAX_ATR_SIZE)
			return IFD_ERROR_POWER_ACTION;
		memcpy(Atr, slot->atr, slot->atr_len);
		*AtrLength = (DWORD)slot->atr_len;
		return IFD_SUCCESS;
	}
	default:
		return IFD_NOT_SUPPORTED;
	}
}

/* Data rate of Fi/Di at the reader's default clock, in bit/s. */
static uint32_t rate_bps(const struct ccid_class_desc *d, uint8_t fidi)
{
	uint16_t f;
	uint32_t fmax;
	uint8_t di;
	if (!atr_fi_lookup(fidi >> 4, &f, &fmax) || !atr_di_lookup(fidi & 0x0F, &di) || f == 0)
		return 0;
	return (uint32_t)((uint64_t)d->default_clock_khz * 1000u * di / f);
}

/* Chooses bmFindexDindex: the card's TA1 (or the caller's PTS1) when the
 * reader can run that rate, else the default 0x11. */
static uint8_t choose_fidi(const struct ccid_class_desc *d, const struct atr_info *a,
                           UCHAR Flags, UCHAR PTS1)
{
	uint8_t want = (Flags & IFD_NEGOTIATE_PTS1) ? PTS1 : (a->ta1_present && a->ta1_valid ? a->ta1 : 0x11);
	uint32_t rate = rate_bps(d, want);
	if (want == 0x11 || rate == 0 || (d->max_data_rate_bps && rate > d->max_data_rate_bps))
		return 0x11;
	return want;
}

/* The largest T=1 information field whose block still fits one CCID message
 * of this reader.  SCM readers announce dwMaxIFSD 252 with 263-byte messages:
 * a full 252-byte block (256 with prologue and LRC) is then a message the
 * reader says it cannot carry, so every block size is held to what fits. */
static uint8_t t1_inf_fit(const struct ccid_class_desc *d, enum t1_edc edc)
{
	uint32_t overhead = CCID_HEADER_LEN + T1_PROLOGUE_LEN + (edc == T1_EDC_CRC ? 2u : 1u);
	if (d->max_message_length <= overhead)
		return 0;
	uint32_t fit = d->max_message_length - overhead;
	return fit > T1_MAX_INF ? T1_MAX_INF : (uint8_t)fit;
}

static RESPONSECODE negotiate_ifsd(struct ifd_reader *r, struct ifd_slot *slot, uint8_t si)
{
	const struct ccid_class_desc *d = &r->dev.info.desc;
	if (d->level != CCID_LEVEL_TPDU || slot->proto.protocol != 1 ||
	    (d->features & CCID_FEAT_AUTO_IFSD))
		return IFD_SUCCESS;
	uint8_t ifsd = d->max_ifsd > T1_MAX_INF ? T1_MAX_INF : (uint8_t)d->max_ifsd;
	uint8_t fit = t1_inf_fit(d, slot->proto.t1.cfg.edc);
	if (ifsd > fit)
		ifsd = fit;
	if (ifsd <= T1_DEFAULT_IFS)
		return IFD_SUCCESS;
	enum ccid_result res;
	enum ccid_cmd_status st = ccid_cmd_t1_ifsd(&r->dev, si, &slot->proto, ifsd, &res);
	if (st == CCIDC_NO_DEVICE)
		return IFD_NO_SUCH_DEVICE;
	if (st != CCIDC_OK) {
		/* the card keeps IFSD 32: slower but correct */
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: IFSD %u refused (%s); using 32", r->key, si,
			ifsd, ccid_cmd_strerror(st));
		struct t1_config cfg = slot->proto.t1.cfg;
		cfg.ifsd = T1_DEFAULT_IFS;
		t1_init(&slot->proto.t1, &cfg);
	}
	return IFD_SUCCESS;
}

static RESPONSECODE select_protocol(struct ifd_reader *r, struct ifd_slot *slot, uint8_t si,
                                    unsigned protocol, UCHAR Flags, UCHAR PTS1)
{
	const struct ccid_class_desc *d = &r->dev.info.desc;
	const struct atr_info *a = &slot->atr_info;
	if (!(d->protocols & (protocol ? CCID_PROTOCOL_T1 : CCID_PROTOCOL_T0)) || !atr_offers(a, protocol))
		return IFD_PROTOCOL_NOT_SUPPORTED;
	if (a->specific_mode && a->specific_protocol != protocol)
		return IFD_PROTOCOL_NOT_SUPPORTED;
	uint8_t fidi = a->specific_mode ? (a->specific_implicit ? 0x11 : a->ta1) :
		choose_fidi(d, a, Flags, PTS1);
	enum ccid_result res;
	enum ccid_cmd_status st;
	if (!(d->features & CCID_FEAT_AUTO_PPS_PROP)) {
		if (!(d->features & CCID_FEAT_AUTO_PPS_CUR) && !a->specific_mode &&
		    (protocol != a->default_protocol || fidi != 0x11)) {
			uint8_t pps[4] = { 0xFF, (uint8_t)(0x10 | protocol), fidi, 0 };
			pps[3] = (uint8_t)(pps[0] ^ pps[1] ^ pps[2]);
			st = ccid_cmd_pps(&r->dev, si, pps, sizeof pps, &res);
			if (st == CCIDC_NO_DEVICE)
				return IFD_NO_SUCH_DEVICE;
			if (st != CCIDC_OK) {
				ifd_log(IFD_LOG_CRITICAL, "reader %u slot %u: PPS failed: %s", r->key,
					si, ccid_cmd_strerror(st));
				return IFD_ERROR_PTS_FAILURE;
			}
		}
		struct ccid_params p;
		if (!ccid_params_from_atr(a, protocol, fidi, &p))
			return IFD_PROTOCOL_NOT_SUPPORTED;
		st = ccid_cmd_set_parameters(&r->dev, si, &p, &res);
		if (st == CCIDC_NO_DEVICE)
			return IFD_NO_SUCH_DEVICE;
		if (st != CCIDC_OK && !(st == CCIDC_FAILED && res == CCID_RES_CMD_NOT_SUPPORTED)) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u slot %u: SetParameters failed: %s (%s)",
				r->key, si, ccid_cmd_strerror(st), ccid_result_name(res));
			return IFD_ERROR_PTS_FAILURE;
		}
	}
	uint16_t f = 372;
	uint32_t fmax;
	uint8_t di = 1;
	if (!atr_fi_lookup(fidi >> 4, &f, &fmax) || !atr_di_lookup(fidi & 0x0F, &di)) {
		f = 372;
		di = 1;
	}
	memset(&slot->proto, 0, sizeof slot->proto);
	slot->proto.protocol = protocol;
	slot->proto.timeout_ms = atr_read_timeout_ms(a, protocol, f, di, d->default_clock_khz);
	if (protocol == 1) {
		struct t1_config cfg = {
			.ifsc = a->ifsc, .ifsd = T1_DEFAULT_IFS, .nad = 0,
			.edc = a->edc == ATR_EDC_CRC ? T1_EDC_CRC : T1_EDC_LRC,
		};
		/* Blocks we send are held to one CCID message as well. */
		uint8_t fit = t1_inf_fit(d, cfg.edc);
		if (cfg.ifsc > fit && fit >= T1_DEFAULT_IFS)
			cfg.ifsc = fit;
		t1_init(&slot->proto.t1, &cfg);
		RESPONSECODE rc = negotiate_ifsd(r, slot, si);
		if (rc != IFD_SUCCESS)
			return rc;
	}
	slot->proto.active = true;
	ifd_log(IFD_LOG_INFO, "reader %u slot %u: T=%u, Fi/Di 0x%02X, timeout %u ms", r->key, si,
		protocol, fidi, slot->proto.timeout_ms);
	return IFD_SUCCESS;
}

IFD_EXPORT RESPONSECODE IFDHSetProtocolParameters(DWORD Lun, DWORD Protocol, UCHAR Flags,
                                                  UCHAR PTS1, UCHAR PTS2, UCHAR PTS3)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (usbt_removed(r->usb))
		return IFD_NO_SUCH_DEVICE;
	if (!slot->powered)
		return IFD_ICC_NOT_PRESENT;
	if (Protocol != SCARD_PROTOCOL_T0 && Protocol != SCARD_PROTOCOL_T1)
		return IFD_PROTOCOL_NOT_SUPPORTED;
	return select_protocol(r, slot, si, Protocol == SCARD_PROTOCOL_T1 ? 1 : 0, Flags, PTS1);
}

/* ---- exchanges ---------------------------------------------------------------- */

IFD_EXPORT RESPONSECODE IFDHTransmitToICC(DWORD Lun, SCARD_IO_HEADER SendPci, PUCHAR TxBuffer,
                                          DWORD TxLength, PUCHAR RxBuffer, PDWORD RxLength,
                                          PSCARD_IO_HEADER RecvPci)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!RxLength)
		return IFD_COMMUNICATION_ERROR;
	DWORD cap = *RxLength;
	*RxLength = 0;
	if (!r || !TxBuffer || !RxBuffer)
		return IFD_COMMUNICATION_ERROR;
	if (usbt_removed(r->usb))
		return IFD_NO_SUCH_DEVICE;
	if (!slot->powered)
		return IFD_ICC_NOT_PRESENT;
	if (!slot->proto.active) {
		/* pcscd normally selects the protocol first; use the card's default */
		RESPONSECODE rc = select_protocol(r, slot, si, slot->proto.protocol, 0, 0);
		if (rc != IFD_SUCCESS)
			return rc;
	}
	size_t got = 0;
	enum ccid_result res = CCID_RES_OK;
	enum ccid_cmd_status st = ccid_cmd_transmit(&r->dev, si, &slot->proto, TxBuffer, TxLength,
						    RxBuffer, cap, &got, &res);
	if (st != CCIDC_OK) {
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: transmit failed: %s (%s)", r->key, si,
			ccid_cmd_strerror(st), ccid_result_name(res));
		if (st == CCIDC_FAILED && res == CCID_RES_ICC_ABSENT)
			forget_card(slot);
		return from_cmd(st, res);
	}
	*RxLength = (DWORD)got;
	if (RecvPci)
		RecvPci->Protocol = SendPci.Protocol;
	return IFD_SUCCESS;
}

/* ---- Part 10 ------------------------------------------------------------------ */

static size_t put_feature(uint8_t *out, size_t pos, uint8_t tag)
{
	uint32_t ioctl = ONSHI_FEATURE_IOCTL(tag);
	out[pos++] = tag;
	out[pos++] = 4;
	out[pos++] = (uint8_t)(ioctl >> 24);
	out[pos++] = (uint8_t)(ioctl >> 16);
	out[pos++] = (uint8_t)(ioctl >> 8);
	out[pos++] = (uint8_t)ioctl;
	return pos;
}

static size_t put_tlv(uint8_t *out, size_t pos, uint8_t tag, uint32_t value, uint8_t len)
{
	out[pos++] = tag;
	out[pos++] = len;
	for (uint8_t i = 0; i < len; i++)
		out[pos++] = (uint8_t)(value >> (8 * i));   /* little-endian, Part 10 §2.6.14 */
	return pos;
}

static RESPONSECODE reply(const uint8_t *data, size_t len, PUCHAR RxBuffer, DWORD RxLength,
                          LPDWORD returned)
{
	if (!RxBuffer || RxLength < len)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	memcpy(RxBuffer, data, len);
	*returned = (DWORD)len;
	return IFD_SUCCESS;
}

static bool escape_allowed(void)
{
	return ifd_driver_options() & IFD_OPTION_VENDOR_ESCAPE;
}

static RESPONSECODE control_pin(struct ifd_reader *r, struct ifd_slot *slot, uint8_t si,
                                bool modify, PUCHAR TxBuffer, DWORD TxLength,
                                PUCHAR RxBuffer, DWORD RxLength, LPDWORD returned)
{
	if (!(r->dev.info.desc.pin_support & (modify ? CCID_PIN_MODIFY : CCID_PIN_VERIFY)))
		return IFD_ERROR_NOT_SUPPORTED;
	if (!TxBuffer || !RxBuffer)
		return IFD_COMMUNICATION_ERROR;
	if (!slot->powered)
		return IFD_ICC_NOT_PRESENT;
	if (!slot->proto.active) {
		RESPONSECODE rc = select_protocol(r, slot, si, slot->proto.protocol, 0, 0);
		if (rc != IFD_SUCCESS)
			return rc;
	}
	size_t got = 0;
	enum ccid_result res;
	enum ccid_cmd_status st = ccid_cmd_secure(&r->dev, si, &slot->proto, modify, TxBuffer,
						  TxLength, RxBuffer, RxLength, &got, &res);
	if (st == CCIDC_TOO_LONG && RxLength < 2)
		return IFD_ERROR_INSUFFICIENT_BUFFER;
	if (st != CCIDC_OK) {
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: PIN %s failed: %s (%s)", r->key, si,
			modify ? "modify" : "verify", ccid_cmd_strerror(st), ccid_result_name(res));
		return from_cmd(st, res);
	}
	*returned = (DWORD)got;
	return IFD_SUCCESS;
}

IFD_EXPORT RESPONSECODE IFDHControl(DWORD Lun, DWORD dwControlCode, PUCHAR TxBuffer,
                                    DWORD TxLength, PUCHAR RxBuffer, DWORD RxLength,
                                    LPDWORD pdwBytesReturned)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!pdwBytesReturned)
		return IFD_COMMUNICATION_ERROR;
	*pdwBytesReturned = 0;
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (usbt_removed(r->usb))
		return IFD_NO_SUCH_DEVICE;
	const struct ccid_class_desc *d = &r->dev.info.desc;
	const struct usbt_identity *id = usbt_identity(r->usb);
	uint8_t out[64];
	size_t n = 0;

	if (dwControlCode == CM_IOCTL_GET_FEATURE_REQUEST ||
	    dwControlCode == WINDOWS_GET_FEATURE_REQUEST) {
		if (d->pin_support & CCID_PIN_VERIFY)
			n = put_feature(out, n, FEATURE_VERIFY_PIN_DIRECT);
		if (d->pin_support & CCID_PIN_MODIFY)
			n = put_feature(out, n, FEATURE_MODIFY_PIN_DIRECT);
		if (d->pin_support)
			n = put_feature(out, n, FEATURE_IFD_PIN_PROPERTIES);
		n = put_feature(out, n, FEATURE_GET_TLV_PROPERTIES);
		if (escape_allowed())
			n = put_feature(out, n, FEATURE_CCID_ESC_COMMAND);
		return reply(out, n, RxBuffer, RxLength, pdwBytesReturned);
	}
	if (dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_GET_TLV_PROPERTIES)) {
		n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_wLcdLayout, d->lcd_layout, 2);
		if (d->pin_support) {
			n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_bEntryValidationCondition, 0x02, 1);
			n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_bTimeOut2, 0, 1);
		}
		n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_bPPDUSupport, 0, 1);
		uint32_t max_apdu = (d->level == CCID_LEVEL_TPDU || d->level == CCID_LEVEL_EXTENDED_APDU) ?
			0x10000u : 0;
		n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_dwMaxAPDUDataSize, max_apdu, 4);
		n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_wIdVendor, id->vid, 2);
		n = put_tlv(out, n, PCSCv2_PART10_PROPERTY_wIdProduct, id->pid, 2);
		return reply(out, n, RxBuffer, RxLength, pdwBytesReturned);
	}
	if (dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_IFD_PIN_PROPERTIES)) {
		if (!d->pin_support)
			return IFD_ERROR_NOT_SUPPORTED;
		/* PIN_PROPERTIES_STRUCTURE: wLcdLayout, bEntryValidationCondition, bTimeOut2 */
		out[0] = (uint8_t)d->lcd_layout;
		out[1] = (uint8_t)(d->lcd_layout >> 8);
		out[2] = 0x02;
		out[3] = 0;
		return reply(out, 4, RxBuffer, RxLength, pdwBytesReturned);
	}
	if (dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_VERIFY_PIN_DIRECT) ||
	    dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_MODIFY_PIN_DIRECT))
		return control_pin(r, slot, si,
				   dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_MODIFY_PIN_DIRECT),
				   TxBuffer, TxLength, RxBuffer, RxLength, pdwBytesReturned);
	if (dwControlCode == ONSHI_IOCTL_VENDOR_ESCAPE ||
	    dwControlCode == ONSHI_FEATURE_IOCTL(FEATURE_CCID_ESC_COMMAND)) {
		if (!escape_allowed()) {
			ifd_log(IFD_LOG_INFO, "reader %u: vendor escape refused (ifdDriverOptions 0x01 "
				"not set)", r->key);
			return IFD_ERROR_NOT_SUPPORTED;
		}
		if (!TxBuffer || !RxBuffer)
			return IFD_COMMUNICATION_ERROR;
		size_t got = 0;
		enum ccid_result res;
		enum ccid_cmd_status st = ccid_cmd_escape(&r->dev, TxBuffer, TxLength, RxBuffer,
							  RxLength, &got, &res);
		if (st == CCIDC_TOO_LONG)
			return IFD_ERROR_INSUFFICIENT_BUFFER;
		if (st != CCIDC_OK)
			return from_cmd(st, res);
		*pdwBytesReturned = (DWORD)got;
		return IFD_SUCCESS;
	}
	return IFD_ERROR_NOT_SUPPORTED;
}

/* ---- presence ----------------------------------------------------------------- */

IFD_EXPORT RESPONSECODE IFDHICCPresence(DWORD Lun)
{
	struct ifd_slot *slot;
	uint8_t si;
	struct ifd_reader *r = reg_find(Lun, &slot, &si);
	if (!r)
		return IFD_COMMUNICATION_ERROR;
	if (usbt_removed(r->usb))
		return IFD_NO_SUCH_DEVICE;
	uint8_t icc = CCID_ICC_ABSENT;
	enum ccid_result res;
	enum ccid_cmd_status st = ccid_cmd_slot_status(&r->dev, si, true, &icc, &res);
	if (st == CCIDC_IO || st == CCIDC_BAD_FRAME || st == CCIDC_TIMEOUT) {
		/* pcscd takes a failed presence check for a broken reader and stops
		 * using it; GetSlotStatus is harmless to repeat once */
		ifd_log(IFD_LOG_INFO, "reader %u slot %u: GetSlotStatus: %s; retrying", r->key, si,
			ccid_cmd_strerror(st));
		st = ccid_cmd_slot_status(&r->dev, si, true, &icc, &res);
	}
	if (st == CCIDC_NO_DEVICE)
		return IFD_NO_SUCH_DEVICE;
	if (st != CCIDC_OK && st != CCIDC_FAILED)
		return IFD_COMMUNICATION_ERROR;
	if (icc == CCID_ICC_ABSENT) {
		forget_card(slot);
		return IFD_ICC_NOT_PRESENT;
	}
	if (icc == CCID_ICC_PRESENT_INACTIVE && slot->powered) {
		/* we powered it and the reader says it is not: the card was
		 * swapped between two polls; report the removal once */
		forget_card(slot);
		return IFD_ICC_NOT_PRESENT;
	}
	return IFD_ICC_PRESENT;
}

/* pcsc-card.c — card sessions over libpcsclite and Part 10 PIN-pad use. */
#include <string.h>
#include <strings.h>

#include <onshi/part10-const.h>

#include "bus-common.h"
#include "pcsc-card.h"

#ifndef SCARD_E_NO_READERS_AVAILABLE
#define SCARD_E_NO_READERS_AVAILABLE ((LONG)0x8010002E)
#endif

enum jpki_result pcsc_result(LONG rv)
{
	switch (rv) {
	case SCARD_S_SUCCESS:
		return JPKI_OK;
	case SCARD_E_NO_SMARTCARD:
		return JPKI_ERR_NO_CARD;
	case SCARD_W_REMOVED_CARD:
	case SCARD_W_RESET_CARD:      /* someone else reset it: our session is gone */
		return JPKI_ERR_CARD_REMOVED;
	case SCARD_W_UNRESPONSIVE_CARD:
	case SCARD_W_UNPOWERED_CARD:
	case SCARD_W_UNSUPPORTED_CARD:
	case SCARD_E_PROTO_MISMATCH:
		return JPKI_ERR_UNSUPPORTED_CARD;
	default:
		return JPKI_ERR_READER;
	}
}

LONG pcsc_session_init(struct pcsc_session *s, const char *reader)
{
	memset(s, 0, sizeof *s);
	if (strlen(reader) >= sizeof s->reader)
		return SCARD_E_INVALID_PARAMETER;
	strcpy(s->reader, reader);
	LONG rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &s->ctx);
	s->ctx_valid = rv == SCARD_S_SUCCESS;
	return rv;
}

void pcsc_session_fini(struct pcsc_session *s)
{
	pcsc_session_end(s, false);
	if (s->ctx_valid)
		SCardReleaseContext(s->ctx);
	s->ctx_valid = false;
}

LONG pcsc_session_connect(struct pcsc_session *s, bool exclusive)
{
	LONG rv;

	if (!s->ctx_valid) {
		/* pcscd may have restarted since the worker began. */
		rv = SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &s->ctx);
		if (rv != SCARD_S_SUCCESS)
			return rv;
		s->ctx_valid = true;
	}
	rv = SCardConnect(s->ctx, s->reader, exclusive ? SCARD_SHARE_EXCLUSIVE : SCARD_SHARE_SHARED,
			  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, &s->handle, &s->protocol);
	if (rv == SCARD_E_INVALID_HANDLE || rv == SCARD_E_NO_SERVICE) {
		SCardReleaseContext(s->ctx);
		s->ctx_valid = false;
	}
	s->connected = rv == SCARD_S_SUCCESS;
	return rv;
}

void pcsc_session_end(struct pcsc_session *s, bool unpower)
{
	if (!s->connected)
		return;
	LONG rv = SCardDisconnect(s->handle, unpower ? SCARD_UNPOWER_CARD : SCARD_LEAVE_CARD);
	if (rv != SCARD_S_SUCCESS)
		log_debug("%s: SCardDisconnect: %s", s->reader, pcsc_stringify_error(rv));
	s->connected = false;
}

int pcsc_session_transmit(void *ctx, const uint8_t *capdu, size_t clen,
			  uint8_t *rapdu, size_t *rlen)
{
	struct pcsc_session *s = ctx;
	DWORD len = (DWORD)*rlen;
	const SCARD_IO_REQUEST *pci = s->protocol == SCARD_PROTOCOL_T0 ? SCARD_PCI_T0 : SCARD_PCI_T1;

	if (!s->connected)
		return JPKI_ERR_NO_CARD;
	LONG rv = SCardTransmit(s->handle, pci, capdu, (DWORD)clen, NULL, rapdu, &len);
	if (rv != SCARD_S_SUCCESS) {
		log_debug("%s: SCardTransmit: %s", s->reader, pcsc_stringify_error(rv));
		return pcsc_result(rv);
	}
	if (len > *rlen)
		return JPKI_ERR_READER;
	*rlen = len;
	return JPKI_OK;
}

LONG pcsc_reader_pinpad(struct pcsc_session *s, uint32_t *verify_ioctl)
{
	uint8_t features[256];
	DWORD flen = 0;
	SCARDHANDLE h;
	DWORD proto;
	LONG rv;

	*verify_ioctl = 0;
	if (!s->ctx_valid)
		return SCARD_E_INVALID_HANDLE;
	rv = SCardConnect(s->ctx, s->reader, SCARD_SHARE_DIRECT, 0, &h, &proto);
	if (rv != SCARD_S_SUCCESS)
		return rv;
	rv = SCardControl(h, CM_IOCTL_GET_FEATURE_REQUEST, NULL, 0, features, sizeof features, &flen);
	if (rv == SCARD_S_SUCCESS && flen <= sizeof features &&
	    pcsc_find_feature(features, flen, FEATURE_VERIFY_PIN_DIRECT, verify_ioctl) != 0)
		*verify_ioctl = 0;
	SCardDisconnect(h, SCARD_LEAVE_CARD);
	/* A reader without Part 10 answers with an error: simply no PIN pad. */
	return SCARD_S_SUCCESS;
}

LONG pcsc_session_verify_pin_direct(struct pcsc_session *s, uint32_t ioctl_code,
				    uint8_t pin_len, uint8_t timeout_s, uint16_t *sw)
{
	uint8_t pvs[64], resp[16];
	DWORD rlen = 0;
	size_t plen = pcsc_build_verify_pin_direct(pvs, sizeof pvs, pin_len, timeout_s);

	*sw = 0;
	if (!s->connected)
		return SCARD_E_NO_SMARTCARD;
	if (plen == 0)
		return SCARD_E_INVALID_PARAMETER;
	LONG rv = SCardControl(s->handle, ioctl_code, pvs, (DWORD)plen, resp, sizeof resp, &rlen);
	if (rv != SCARD_S_SUCCESS)
		return rv;
	if (rlen != 2)
		return SCARD_F_COMM_ERROR;
	*sw = (uint16_t)(resp[0] << 8 | resp[1]);
	return SCARD_S_SUCCESS;
}

int pcsc_find_feature(const uint8_t *tlv, size_t len, uint8_t tag, uint32_t *ioctl_code)
{
	size_t off = 0;

	while (off < len) {
		if (len - off < 2)
			return -1;
		uint8_t t = tlv[off], l = tlv[off + 1];
		if (l != 4 || len - off - 2 < 4)
			return -1;
		if (t == tag) {
			const uint8_t *v = tlv + off + 2;
			*ioctl_code = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
				      (uint32_t)v[2] << 8 | v[3];
			return 0;
		}
		off += 6;
	}
	return 1;
}

size_t pcsc_build_verify_pin_direct(uint8_t *buf, size_t cap, uint8_t pin_len, uint8_t timeout_s)
{
	const size_t apdu_len = 5 + (size_t)pin_len;
	const size_t n = PIN_VERIFY_HEADER_LEN + apdu_len;

	if (pin_len == 0 || pin_len > 15 || !buf || cap < n)
		return 0;
	memset(buf, 0, n);
	buf[PIN_VERIFY_bTimerOut] = timeout_s;
	buf[PIN_VERIFY_bTimerOut2] = timeout_s;
	/* ASCII digits, counted in bytes, left-justified at offset 0 of the
	 * PIN block; JPKI wants exactly the digits, so no length field. */
	buf[PIN_VERIFY_bmFormatString] = PIN_FMT_SYSTEM_UNITS_BYTES | PIN_FMT_TYPE_ASCII;
	buf[PIN_VERIFY_bmPINBlockString] = pin_len;
	buf[PIN_VERIFY_bmPINLengthFormat] = 0x00;
	buf[PIN_VERIFY_wPINMaxExtraDigit] = pin_len;       /* max */
	buf[PIN_VERIFY_wPINMaxExtraDigit + 1] = pin_len;   /* min */
	buf[PIN_VERIFY_bEntryValidationCondition] = PIN_VALIDATE_KEY;
	buf[PIN_VERIFY_bNumberMessage] = 0x01;
	buf[PIN_VERIFY_wLangId] = 0x11;                    /* 0x0411 Japanese */
	buf[PIN_VERIFY_wLangId + 1] = 0x04;
	buf[PIN_VERIFY_ulDataLength] = (uint8_t)apdu_len;
	uint8_t *apdu = buf + PIN_VERIFY_abData;
	apdu[0] = 0x00;
	apdu[1] = 0x20;                                    /* VERIFY */
	apdu[2] = 0x00;
	apdu[3] = 0x80;                                    /* the current (PIN) EF */
	apdu[4] = pin_len;
	memset(apdu + 5, 0xFF, pin_len);                   /* the reader fills the digits */
	return n;
}

bool pcsc_looks_contactless(const char *reader_name, const uint8_t *atr, size_t atr_len)
{
	if (atr && atr_len >= 4 && atr[0] == 0x3B && (atr[1] & 0xF0) == 0x80 &&
	    atr[2] == 0x80 && atr[3] == 0x01)
		return true;
	if (!reader_name)
		return false;
	static const char *const words[] = { "contactless", "picc", "nfc", " cl " };
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcasestr(reader_name, words[i]))
			return true;
	return false;
}

/* probe-apdu.c — pure APDU and structure helpers of onshi-pcsc-probe. */
#include "tests/tools/probe-apdu.h"

#include <ctype.h>
#include <string.h>
#include <onshi/jpki-const.h>
#include <onshi/part10-const.h>

static const uint8_t jpki_aid[JPKI_AID_LEN] = JPKI_AID_JPKI;
static const uint8_t digestinfo_sha256[DIGESTINFO_PREFIX_LEN] = DIGESTINFO_SHA256_PREFIX;

int probe_cert_from_name(const char *name, enum probe_cert *out)
{
	static const struct { const char *name; enum probe_cert which; } names[] = {
		{ "auth", PROBE_CERT_AUTH }, { "sign", PROBE_CERT_SIGN },
		{ "auth-ca", PROBE_CERT_AUTH_CA }, { "sign-ca", PROBE_CERT_SIGN_CA },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcmp(name, names[i].name) == 0) {
			*out = names[i].which;
			return 0;
		}
	}
	return -1;
}

uint16_t probe_cert_ef(enum probe_cert which)
{
	switch (which) {
	case PROBE_CERT_SIGN: return JPKI_EF_SIGN_CERT;
	case PROBE_CERT_AUTH_CA: return JPKI_EF_AUTH_CA_CERT;
	case PROBE_CERT_SIGN_CA: return JPKI_EF_SIGN_CA_CERT;
	case PROBE_CERT_AUTH: break;
	}
	return JPKI_EF_AUTH_CERT;
}

static size_t put_header(uint8_t *buf, size_t cap, size_t need, uint8_t cla,
			 uint8_t ins, uint8_t p1, uint8_t p2)
{
	if (cap < need || need < 4)
		return 0;
	buf[0] = cla;
	buf[1] = ins;
	buf[2] = p1;
	buf[3] = p2;
	return 4;
}

size_t probe_build_select_jpki(uint8_t *buf, size_t cap)
{
	size_t n = 5 + JPKI_AID_LEN;
	if (!put_header(buf, cap, n, ISO_CLA, ISO_INS_SELECT, SELECT_P1_DF_NAME,
			SELECT_P2_NO_RESPONSE))
		return 0;
	buf[4] = JPKI_AID_LEN;
	memcpy(buf + 5, jpki_aid, JPKI_AID_LEN);
	return n;
}

size_t probe_build_select_ef(uint8_t *buf, size_t cap, uint16_t fid)
{
	if (!put_header(buf, cap, 7, ISO_CLA, ISO_INS_SELECT, SELECT_P1_EF_ID,
			SELECT_P2_NO_RESPONSE))
		return 0;
	buf[4] = 2;
	buf[5] = (uint8_t)(fid >> 8);
	buf[6] = (uint8_t)fid;
	return 7;
}

size_t probe_build_read_binary(uint8_t *buf, size_t cap, uint16_t offset, size_t le)
{
	if (offset >= 0x8000 || le == 0 || le > PROBE_SHORT_LE_MAX)
		return 0;
	if (!put_header(buf, cap, 5, ISO_CLA, ISO_INS_READ_BINARY,
			(uint8_t)(offset >> 8), (uint8_t)offset))
		return 0;
	buf[4] = (uint8_t)(le & 0xFF); /* 256 → 00 */
	return 5;
}

size_t probe_build_read_binary_ext(uint8_t *buf, size_t cap, uint16_t offset, size_t le)
{
	if (offset >= 0x8000 || le == 0 || le > 65536)
		return 0;
	if (!put_header(buf, cap, 7, ISO_CLA, ISO_INS_READ_BINARY,
			(uint8_t)(offset >> 8), (uint8_t)offset))
		return 0;
	buf[4] = 0x00;
	buf[5] = (uint8_t)((le >> 8) & 0xFF); /* 65536 → 00 00 */
	buf[6] = (uint8_t)(le & 0xFF);
	return 7;
}

size_t probe_build_verify_query(uint8_t *buf, size_t cap)
{
	return put_header(buf, cap, 4, ISO_CLA, ISO_INS_VERIFY, 0x00, VERIFY_P2_CURRENT_EF);
}

size_t probe_build_verify(uint8_t *buf, size_t cap, const char *pin, size_t pin_len)
{
	if (pin_len == 0 || pin_len > 255)
		return 0;
	if (!put_header(buf, cap, 5 + pin_len, ISO_CLA, ISO_INS_VERIFY, 0x00,
			VERIFY_P2_CURRENT_EF))
		return 0;
	buf[4] = (uint8_t)pin_len;
	memcpy(buf + 5, pin, pin_len);
	return 5 + pin_len;
}

size_t probe_build_sign_sha256(uint8_t *buf, size_t cap, const uint8_t hash[32])
{
	size_t lc = DIGESTINFO_PREFIX_LEN + 32;
	size_t n = 5 + lc + 1;
	if (!put_header(buf, cap, n, JPKI_CLA_PROPRIETARY, JPKI_INS_COMPUTE_SIGNATURE,
			SIGN_P1_PKCS1_RAW, SIGN_P2_CURRENT_KEY))
		return 0;
	buf[4] = (uint8_t)lc;
	memcpy(buf + 5, digestinfo_sha256, DIGESTINFO_PREFIX_LEN);
	memcpy(buf + 5 + DIGESTINFO_PREFIX_LEN, hash, 32);
	buf[n - 1] = 0x00; /* Le 256 */
	return n;
}

size_t probe_build_get_response(uint8_t *buf, size_t cap, size_t le)
{
	if (le == 0 || le > PROBE_SHORT_LE_MAX)
		return 0;
	if (!put_header(buf, cap, 5, ISO_CLA, ISO_INS_GET_RESPONSE, 0, 0))
		return 0;
	buf[4] = (uint8_t)(le & 0xFF);
	return 5;
}

bool probe_pin_valid(enum probe_key key, const char *pin, size_t len)
{
	if (key == PROBE_KEY_AUTH) {
		if (len != JPKI_AUTH_PIN_LEN)
			return false;
		for (size_t i = 0; i < len; i++)
			if (pin[i] < '0' || pin[i] > '9')
				return false;
		return true;
	}
	if (len < JPKI_SIGN_PW_MIN || len > JPKI_SIGN_PW_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((pin[i] >= '0' && pin[i] <= '9') || (pin[i] >= 'A' && pin[i] <= 'Z')))
			return false;
	return true;
}

uint16_t probe_key_pin_ef(enum probe_key key)
{
	return key == PROBE_KEY_AUTH ? JPKI_EF_AUTH_PIN : JPKI_EF_SIGN_PIN;
}

uint16_t probe_key_ef(enum probe_key key)
{
	return key == PROBE_KEY_AUTH ? JPKI_EF_AUTH_KEY : JPKI_EF_SIGN_KEY;
}

uint16_t probe_sw(const uint8_t *resp, size_t rlen)
{
	if (rlen < 2)
		return 0;
	return (uint16_t)(resp[rlen - 2] << 8 | resp[rlen - 1]);
}

int probe_cert_total_len(const uint8_t *hdr, size_t hlen, size_t *total)
{
	if (hlen < PROBE_CERT_HEADER_LEN || hdr[0] != 0x30 || hdr[1] != 0x82)
		return -1;
	size_t len = (size_t)hdr[2] << 8 | hdr[3];
	/* A long form with two length bytes encodes at least 256 bytes. */
	if (len < 0x80)
		return -1;
	len += PROBE_CERT_HEADER_LEN;
	if (len > PROBE_CERT_MAX)
		return -1;
	*total = len;
	return 0;
}

int probe_find_feature(const uint8_t *tlv, size_t len, uint8_t tag, uint32_t *ioctl)
{
	size_t off = 0;
	while (off < len) {
		if (len - off < 2)
			return -1;
		uint8_t t = tlv[off], l = tlv[off + 1];
		if (l != 4 || len - off - 2 < l)
			return -1;
		if (t == tag) {
			const uint8_t *v = tlv + off + 2;
			*ioctl = (uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 |
				 (uint32_t)v[2] << 8 | v[3];
			return 0;
		}
		off += 2 + (size_t)l;
	}
	return 1;
}

size_t probe_build_pin_verify_direct(uint8_t *buf, size_t cap, uint8_t pin_len,
				     uint8_t timeout_s)
{
	const size_t apdu_len = 5 + (size_t)pin_len;
	const size_t n = PIN_VERIFY_HEADER_LEN + apdu_len;
	if (pin_len == 0 || pin_len > 15 || cap < n)
		return 0;
	memset(buf, 0, n);
	buf[PIN_VERIFY_bTimerOut] = timeout_s;
	buf[PIN_VERIFY_bTimerOut2] = timeout_s;
	/* Units in bytes, PIN at offset 0 of the block, left-justified, ASCII. */
	buf[PIN_VERIFY_bmFormatString] = PIN_FMT_SYSTEM_UNITS_BYTES | PIN_FMT_TYPE_ASCII;
	/* No PIN-length field; the PIN block is pin_len bytes. */
	buf[PIN_VERIFY_bmPINBlockString] = pin_len;
	buf[PIN_VERIFY_bmPINLengthFormat] = 0x00;
	buf[PIN_VERIFY_wPINMaxExtraDigit] = pin_len;         /* max (low byte) */
	buf[PIN_VERIFY_wPINMaxExtraDigit + 1] = pin_len;     /* min (high byte) */
	buf[PIN_VERIFY_bEntryValidationCondition] = PIN_VALIDATE_KEY;
	buf[PIN_VERIFY_bNumberMessage] = 0x01;
	buf[PIN_VERIFY_wLangId] = 0x11;                      /* 0x0411 Japanese, LE */
	buf[PIN_VERIFY_wLangId + 1] = 0x04;
	buf[PIN_VERIFY_bMsgIndex] = 0x00;
	/* bTeoPrologue stays 00 00 00: the driver fills it for T=1 TPDU readers. */
	buf[PIN_VERIFY_ulDataLength] = (uint8_t)apdu_len;    /* u32 LE */
	uint8_t *apdu = buf + PIN_VERIFY_abData;
	apdu[0] = ISO_CLA;
	apdu[1] = ISO_INS_VERIFY;
	apdu[2] = 0x00;
	apdu[3] = VERIFY_P2_CURRENT_EF;
	apdu[4] = pin_len;
	memset(apdu + 5, 0xFF, pin_len); /* placeholders the reader overwrites */
	return n;
}

static int hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

long probe_hex_parse(const char *text, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int high = -1;
	for (const char *p = text; *p; p++) {
		if (*p == ' ' || *p == ':' || *p == '\t' || *p == '\n')
			continue;
		int v = hex_value((unsigned char)*p);
		if (v < 0)
			return -1;
		if (high < 0) {
			high = v;
			continue;
		}
		if (n >= cap)
			return -1;
		out[n++] = (uint8_t)(high << 4 | v);
		high = -1;
	}
	if (high >= 0)
		return -1;
	return (long)n;
}

void probe_hex_format(const uint8_t *data, size_t len, char *out)
{
	static const char digits[] = "0123456789ABCDEF";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[data[i] >> 4];
		out[2 * i + 1] = digits[data[i] & 0x0F];
	}
	out[2 * len] = '\0';
}

/* jpki-parse.c — card response parsers; see jpki-parse.h for the contract. */
#include <string.h>

#include <onshi/jpki-const.h>

#include "jpki-parse.h"

/* ---- status words ------------------------------------------------------ */

struct jpki_sw_info jpki_sw_classify(uint16_t sw)
{
	uint8_t sw1 = (uint8_t)(sw >> 8), sw2 = (uint8_t)sw;
	struct jpki_sw_info info = { JPKI_SW_OTHER, sw };

	switch (sw) {
	case SW_OK:                          info.cls = JPKI_SW_OK; info.detail = 0; return info;
	case SW_VERIFY_FAILED_NO_COUNT:      info.cls = JPKI_SW_VERIFY_FAILED_NO_COUNT; info.detail = 0; return info;
	case SW_AUTH_METHOD_BLOCKED:
	case SW_REF_DATA_BLOCKED:            info.cls = JPKI_SW_BLOCKED; info.detail = 0; return info;
	case SW_SECURITY_NOT_SATISFIED:      info.cls = JPKI_SW_SECURITY_NOT_SATISFIED; info.detail = 0; return info;
	case SW_FILE_NOT_FOUND:              info.cls = JPKI_SW_FILE_NOT_FOUND; info.detail = 0; return info;
	case SW_WRONG_LENGTH:                info.cls = JPKI_SW_WRONG_LENGTH; info.detail = 0; return info;
	case SW_LOGICAL_CHANNEL_UNSUPPORTED: info.cls = JPKI_SW_CHANNEL_UNSUPPORTED; info.detail = 0; return info;
	default: break;
	}
	if ((sw & 0xFFF0) == SW_VERIFY_FAILED_BASE) {
		info.cls = JPKI_SW_VERIFY_FAILED;
		info.detail = sw2 & 0x0F;
	} else if (sw1 == (SW_BYTES_REMAINING_BASE >> 8)) {
		info.cls = JPKI_SW_MORE_DATA;
		info.detail = sw2 ? sw2 : ISO_SHORT_LE_MAX;
	} else if (sw1 == (SW_WRONG_LE_BASE >> 8)) {
		info.cls = JPKI_SW_WRONG_LE;
		info.detail = sw2 ? sw2 : ISO_SHORT_LE_MAX;
	}
	return info;
}

const char *jpki_sw_message(uint16_t sw)
{
	struct jpki_sw_info info = jpki_sw_classify(sw);

	switch (info.cls) {
	case JPKI_SW_OK:                     return "success";
	case JPKI_SW_VERIFY_FAILED:          return info.detail ? "PIN incorrect" : "PIN incorrect, now blocked";
	case JPKI_SW_VERIFY_FAILED_NO_COUNT: return "PIN incorrect (no retry counter)";
	case JPKI_SW_BLOCKED:                return "PIN blocked";
	case JPKI_SW_SECURITY_NOT_SATISFIED: return "security status not satisfied (PIN not verified)";
	case JPKI_SW_FILE_NOT_FOUND:         return "file or application not found";
	case JPKI_SW_WRONG_LENGTH:           return "wrong length";
	case JPKI_SW_CHANNEL_UNSUPPORTED:    return "logical channel not supported";
	case JPKI_SW_MORE_DATA:              return "more response data available";
	case JPKI_SW_WRONG_LE:               return "wrong Le";
	case JPKI_SW_OTHER:                  break;
	}
	switch (sw) {
	case SW_CONDITIONS_NOT_SATISFIED: return "conditions of use not satisfied";
	case SW_INCORRECT_P1P2:           return "incorrect P1/P2";
	case SW_WRONG_P1P2:               return "offset beyond end of file";
	case SW_END_OF_FILE_BEFORE_LE:    return "end of file reached before Le bytes";
	case SW_INS_NOT_SUPPORTED:        return "instruction not supported";
	case SW_CLA_NOT_SUPPORTED:        return "class not supported";
	case SW_REF_DATA_NOT_FOUND:       return "referenced data not found";
	default:                          return "unexpected status word";
	}
}

int jpki_response_split(const uint8_t *rapdu, size_t rlen, size_t *data_len, uint16_t *sw)
{
	if (!rapdu || rlen < 2)
		return -1;
	*data_len = rlen - 2;
	*sw = (uint16_t)(rapdu[rlen - 2] << 8 | rapdu[rlen - 1]);
	return 0;
}

/* ---- BER lengths (shared by the cert header and the TLV reader) -------- */

/* Decodes a definite BER length at buf[0..avail).  Returns the number of
 * length bytes consumed (1..5), 0 if more bytes are needed (and *need is set
 * to the count of length bytes), or -1 for a form we reject. */
static int ber_length(const uint8_t *buf, size_t avail, size_t *value, size_t *need)
{
	if (avail < 1) {
		*need = 1;
		return 0;
	}
	if (buf[0] < 0x80) {
		*value = buf[0];
		return 1;
	}
	size_t n = buf[0] & 0x7F;

	if (n == 0 || n > 4) /* 80 = indefinite; > 4 length bytes never fits */
		return -1;
	if (avail < 1 + n) {
		*need = 1 + n;
		return 0;
	}
	uint32_t v = 0;

	for (size_t i = 1; i <= n; i++)
		v = v << 8 | buf[i];
	*value = v;
	return (int)(1 + n);
}

enum jpki_parse_result jpki_cert_length(const uint8_t *hdr, size_t len, size_t *total, size_t *hdr_len)
{
	size_t value = 0, need = 0;

	if (!hdr || len < 1) {
		*hdr_len = 2;
		return JPKI_PARSE_TRUNCATED;
	}
	if (hdr[0] != 0x30)
		return JPKI_PARSE_INVALID;
	int used = ber_length(hdr + 1, len - 1, &value, &need);

	if (used < 0)
		return JPKI_PARSE_INVALID;
	if (used == 0) {
		*hdr_len = 1 + need;
		return JPKI_PARSE_TRUNCATED;
	}
	/* Compare before adding so a 32-bit length cannot wrap. */
	if (value > JPKI_CERT_MAX_LEN - (size_t)(1 + used))
		return JPKI_PARSE_TOO_LARGE;
	*hdr_len = 1 + (size_t)used;
	*total = *hdr_len + value;
	return JPKI_PARSE_OK;
}

/* ---- token info / presence --------------------------------------------- */

const char *jpki_card_type_name(enum jpki_card_type type)
{
	switch (type) {
	case JPKI_CARD_MYNUMBER:        return "mynumber";
	case JPKI_CARD_JUKI:            return "juki-card";
	case JPKI_CARD_SMARTPHONE_GPSE:
	case JPKI_CARD_SMARTPHONE_IOS:  return "jpki-smartphone";
	case JPKI_CARD_OTHER:           break;
	}
	return "other";
}

int jpki_token_info_parse(const uint8_t *ef, size_t len, enum jpki_card_type *type, char label[33])
{
	static const struct { const char *label; enum jpki_card_type type; } known[] = {
		{ JPKI_TOKEN_LABEL_CARD,    JPKI_CARD_MYNUMBER },
		{ JPKI_TOKEN_LABEL_JUKI,    JPKI_CARD_JUKI },
		{ JPKI_TOKEN_LABEL_ANDROID, JPKI_CARD_SMARTPHONE_GPSE },
		{ JPKI_TOKEN_LABEL_IOS,     JPKI_CARD_SMARTPHONE_IOS },
	};
	char text[JPKI_TOKEN_LABEL_LEN + 1];
	size_t n = JPKI_TOKEN_LABEL_LEN;

	if (!ef || len < JPKI_TOKEN_LABEL_LEN || !type)
		return -1;
	/* Trailing padding is spaces per PKCS#11; tolerate NULs as well. */
	while (n > 0 && (ef[n - 1] == ' ' || ef[n - 1] == '\0'))
		n--;
	for (size_t i = 0; i < n; i++) {
		if (ef[i] < 0x20 || ef[i] > 0x7E)
			return -1;
		text[i] = (char)ef[i];
	}
	text[n] = '\0';
	*type = JPKI_CARD_OTHER;
	/* Exact match: JPKIAPICCTOKEN is a prefix of JPKIAPICCTOKEN2. */
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (strcmp(text, known[i].label) == 0)
			*type = known[i].type;
	}
	if (label)
		memcpy(label, text, n + 1);
	return 0;
}

int jpki_cert_presence_parse(const uint8_t *ef, size_t len, bool *sign_present, bool *auth_present)
{
	if (!ef || len < JPKI_CERT_PRESENCE_LEN)
		return -1;
	*sign_present = ef[0] != 0x00;
	*auth_present = ef[1] != 0x00;
	return 0;
}

/* ---- BER-TLV ----------------------------------------------------------- */

#define TLV_TAG_MAX_BYTES 3
#define TLV_PATH_MAX      8

static bool only_filler(const uint8_t *p, size_t n)
{
	if (n == 0)
		return true;
	if (p[0] != 0x00 && p[0] != 0xFF)
		return false;
	for (size_t i = 1; i < n; i++) {
		if (p[i] != p[0])
			return false;
	}
	return true;
}

/* Reads a 1..3 byte tag.  Returns bytes used or 0 when malformed. */
static size_t tlv_tag(const uint8_t *p, size_t avail, uint32_t *tag)
{
	size_t n = 1;

	if (avail < 1)
		return 0;
	*tag = p[0];
	if ((p[0] & 0x1F) != 0x1F)
		return 1;
	do {
		if (n >= avail || n >= TLV_TAG_MAX_BYTES)
			return 0;
		*tag = *tag << 8 | p[n];
	} while (p[n++] & 0x80);
	return n;
}

enum jpki_tlv_result jpki_tlv_next(const uint8_t *buf, size_t len, size_t *pos, struct jpki_tlv *out)
{
	size_t value_len = 0, need = 0;
	uint32_t tag = 0;

	if (!buf || !pos || !out || *pos > len)
		return JPKI_TLV_ERROR;
	const uint8_t *p = buf + *pos;
	size_t avail = len - *pos;

	if (only_filler(p, avail))
		return JPKI_TLV_END;
	size_t tag_len = tlv_tag(p, avail, &tag);

	if (tag_len == 0)
		return JPKI_TLV_ERROR;
	int len_len = ber_length(p + tag_len, avail - tag_len, &value_len, &need);

	if (len_len <= 0)
		return JPKI_TLV_ERROR;
	size_t header = tag_len + (size_t)len_len;

	if (value_len > avail - header)
		return JPKI_TLV_ERROR;
	out->tag = tag;
	out->constructed = (p[0] & 0x20) != 0;
	out->value = p + header;
	out->len = value_len;
	*pos += header + value_len;
	return JPKI_TLV_OK;
}

enum jpki_tlv_result jpki_tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct jpki_tlv *out)
{
	size_t pos = 0;
	struct jpki_tlv tlv;
	enum jpki_tlv_result r;

	while ((r = jpki_tlv_next(buf, len, &pos, &tlv)) == JPKI_TLV_OK) {
		if (tlv.tag == tag) {
			*out = tlv;
			return JPKI_TLV_OK;
		}
	}
	return r;
}

enum jpki_tlv_result jpki_tlv_find_path(const uint8_t *buf, size_t len, const uint32_t *path,
					size_t depth, struct jpki_tlv *out)
{
	struct jpki_tlv tlv = { .value = buf, .len = len };

	if (!path || depth < 1 || depth > TLV_PATH_MAX)
		return JPKI_TLV_ERROR;
	for (size_t i = 0; i < depth; i++) {
		/* Only a constructed object has children to descend into. */
		if (i > 0 && !tlv.constructed)
			return JPKI_TLV_END;
		enum jpki_tlv_result r = jpki_tlv_find(tlv.value, tlv.len, path[i], &tlv);

		if (r != JPKI_TLV_OK)
			return r;
	}
	*out = tlv;
	return JPKI_TLV_OK;
}

static bool all_digits(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
	}
	return true;
}

int jpki_basic4_parse(const uint8_t *buf, size_t len, struct jpki_basic4 *out)
{
	struct jpki_tlv record, name, address, birth, sex;

	if (!out || jpki_tlv_find(buf, len, TEXT_TAG_BASIC4, &record) != JPKI_TLV_OK || !record.constructed)
		return -1;
	if (jpki_tlv_find(record.value, record.len, TEXT_TAG_BASIC4_NAME, &name) != JPKI_TLV_OK ||
	    jpki_tlv_find(record.value, record.len, TEXT_TAG_BASIC4_ADDRESS, &address) != JPKI_TLV_OK ||
	    jpki_tlv_find(record.value, record.len, TEXT_TAG_BASIC4_BIRTH, &birth) != JPKI_TLV_OK ||
	    jpki_tlv_find(record.value, record.len, TEXT_TAG_BASIC4_SEX, &sex) != JPKI_TLV_OK)
		return -1;
	if (birth.len != 8 || !all_digits(birth.value, 8) || sex.len != 1 || !all_digits(sex.value, 1))
		return -1;
	out->name = name.value;
	out->name_len = name.len;
	out->address = address.value;
	out->address_len = address.len;
	out->birth = birth.value;
	out->sex = (char)sex.value[0];
	return 0;
}

/* jpki-apdu.c — command APDU builders; see jpki-apdu.h for the contract. */
#include <string.h>

#include <onshi/jpki-const.h>

#include "jpki-apdu.h"

static const uint8_t digestinfo_sha256[] = DIGESTINFO_SHA256_PREFIX;
static const uint8_t digestinfo_sha384[] = DIGESTINFO_SHA384_PREFIX;
static const uint8_t digestinfo_sha512[] = DIGESTINFO_SHA512_PREFIX;

size_t jpki_hash_digest_len(enum jpki_hash hash)
{
	switch (hash) {
	case JPKI_HASH_SHA256: return JPKI_SHA256_LEN;
	case JPKI_HASH_SHA384: return JPKI_SHA384_LEN;
	case JPKI_HASH_SHA512: return JPKI_SHA512_LEN;
	}
	return 0;
}

const char *jpki_hash_name(enum jpki_hash hash)
{
	switch (hash) {
	case JPKI_HASH_SHA256: return "sha256";
	case JPKI_HASH_SHA384: return "sha384";
	case JPKI_HASH_SHA512: return "sha512";
	}
	return NULL;
}

int jpki_hash_from_name(const char *name, enum jpki_hash *hash)
{
	static const enum jpki_hash all[] = { JPKI_HASH_SHA256, JPKI_HASH_SHA384, JPKI_HASH_SHA512 };

	if (!name)
		return -1;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, jpki_hash_name(all[i])) == 0) {
			*hash = all[i];
			return 0;
		}
	}
	return -1;
}

static const uint8_t *digestinfo_prefix(enum jpki_hash hash)
{
	switch (hash) {
	case JPKI_HASH_SHA256: return digestinfo_sha256;
	case JPKI_HASH_SHA384: return digestinfo_sha384;
	case JPKI_HASH_SHA512: return digestinfo_sha512;
	}
	return NULL;
}

static void put_header(uint8_t *buf, uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2)
{
	buf[0] = cla;
	buf[1] = ins;
	buf[2] = p1;
	buf[3] = p2;
}

/* Short Le byte: 256 is sent as 00. */
static uint8_t short_le(size_t le)
{
	return (uint8_t)(le == ISO_SHORT_LE_MAX ? 0 : le);
}

size_t jpki_apdu_select_df(uint8_t *buf, size_t cap, const uint8_t *aid, size_t aid_len)
{
	size_t len = 5 + aid_len;

	if (!buf || !aid || aid_len < 1 || aid_len > 16 || cap < len)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_SELECT, SELECT_P1_DF_NAME, SELECT_P2_NO_RESPONSE);
	buf[4] = (uint8_t)aid_len;
	memcpy(buf + 5, aid, aid_len);
	return len;
}

size_t jpki_apdu_select_ef(uint8_t *buf, size_t cap, uint16_t fid)
{
	if (!buf || cap < 7)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_SELECT, SELECT_P1_EF_ID, SELECT_P2_NO_RESPONSE);
	buf[4] = 2;
	buf[5] = (uint8_t)(fid >> 8);
	buf[6] = (uint8_t)fid;
	return 7;
}

size_t jpki_apdu_read_binary(uint8_t *buf, size_t cap, uint16_t offset, size_t le)
{
	if (!buf || cap < 5 || offset > ISO_READ_BINARY_OFFSET_MAX || le < 1 || le > ISO_SHORT_LE_MAX)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_READ_BINARY, (uint8_t)(offset >> 8), (uint8_t)offset);
	buf[4] = short_le(le);
	return 5;
}

size_t jpki_apdu_read_binary_ext(uint8_t *buf, size_t cap, uint16_t offset, size_t le)
{
	if (!buf || cap < 7 || offset > ISO_READ_BINARY_OFFSET_MAX || le < 1 || le > ISO_EXTENDED_LE_MAX)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_READ_BINARY, (uint8_t)(offset >> 8), (uint8_t)offset);
	/* Extended Le without Lc: a 00 marker byte, then two bytes (00 00 = 65536). */
	buf[4] = 0;
	buf[5] = (uint8_t)((le >> 8) & 0xFF);
	buf[6] = (uint8_t)(le & 0xFF);
	return 7;
}

size_t jpki_apdu_verify(uint8_t *buf, size_t cap, const uint8_t *pin, size_t pin_len)
{
	size_t len = 5 + pin_len;

	if (!buf || !pin || pin_len < 1 || pin_len > 255 || cap < len)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_VERIFY, 0x00, VERIFY_P2_CURRENT_EF);
	buf[4] = (uint8_t)pin_len;
	memcpy(buf + 5, pin, pin_len);
	return len;
}

size_t jpki_apdu_verify_status(uint8_t *buf, size_t cap)
{
	if (!buf || cap < 4)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_VERIFY, 0x00, VERIFY_P2_CURRENT_EF);
	return 4;
}

size_t jpki_apdu_compute_signature(uint8_t *buf, size_t cap, const uint8_t *data, size_t data_len)
{
	if (!buf || !data || data_len < 1 || data_len > 65535)
		return 0;
	if (data_len <= 255) {
		size_t len = 4 + 1 + data_len + 1;

		if (cap < len)
			return 0;
		put_header(buf, JPKI_CLA_PROPRIETARY, JPKI_INS_COMPUTE_SIGNATURE,
			   SIGN_P1_PKCS1_RAW, SIGN_P2_CURRENT_KEY);
		buf[4] = (uint8_t)data_len;
		memcpy(buf + 5, data, data_len);
		buf[5 + data_len] = 0x00;
		return len;
	}
	size_t len = 4 + 3 + data_len + 2;

	if (cap < len)
		return 0;
	put_header(buf, JPKI_CLA_PROPRIETARY, JPKI_INS_COMPUTE_SIGNATURE,
		   SIGN_P1_PKCS1_RAW, SIGN_P2_CURRENT_KEY);
	buf[4] = 0x00;
	buf[5] = (uint8_t)(data_len >> 8);
	buf[6] = (uint8_t)data_len;
	memcpy(buf + 7, data, data_len);
	buf[7 + data_len] = 0x00;
	buf[8 + data_len] = 0x00;
	return len;
}

size_t jpki_apdu_get_response(uint8_t *buf, size_t cap, size_t le)
{
	if (!buf || cap < 5 || le < 1 || le > ISO_SHORT_LE_MAX)
		return 0;
	put_header(buf, ISO_CLA, ISO_INS_GET_RESPONSE, 0x00, 0x00);
	buf[4] = short_le(le);
	return 5;
}

size_t jpki_digest_info(enum jpki_hash hash, const uint8_t *digest, size_t digest_len,
			uint8_t *out, size_t cap)
{
	const uint8_t *prefix = digestinfo_prefix(hash);
	size_t want = jpki_hash_digest_len(hash);

	if (!prefix || !digest || !out || digest_len != want || cap < DIGESTINFO_PREFIX_LEN + want)
		return 0;
	memcpy(out, prefix, DIGESTINFO_PREFIX_LEN);
	memcpy(out + DIGESTINFO_PREFIX_LEN, digest, want);
	return DIGESTINFO_PREFIX_LEN + want;
}

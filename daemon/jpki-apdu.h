/* jpki-apdu.h — command APDU builders for the My Number card (JPKI and text APs).
 *
 * Contract:
 *  - Pure functions, no I/O, no allocation.  Each builder writes one complete
 *    command APDU into the caller's buffer and returns its length in bytes.
 *  - A return of 0 means "not built": an argument is out of range or the
 *    buffer is too small.  Nothing useful is left in the buffer then (it may
 *    be partly written), so callers must not send it.  A real APDU is never
 *    0 bytes long, so 0 is unambiguous.
 *  - Builders that take a PIN (jpki_apdu_verify) copy it straight into the
 *    APDU buffer; they keep no other copy.  The caller owns the wiping of both
 *    its PIN buffer and the APDU buffer (explicit_bzero after transmit).
 *  - Le values are given as the number of bytes wanted (1..256 short,
 *    1..65536 extended); the encoding (00 = 256, 00 00 = 65536) is done here.
 */
#ifndef ONSHI_JPKI_APDU_H
#define ONSHI_JPKI_APDU_H

#include <stddef.h>
#include <stdint.h>

/* Largest short command APDU (4 header + Lc + 255 data + Le): a buffer of
 * this size fits every builder here except the extended forms. */
#define JPKI_APDU_SHORT_MAX   (4 + 1 + 255 + 1)

enum jpki_hash {
	JPKI_HASH_SHA256,
	JPKI_HASH_SHA384,
	JPKI_HASH_SHA512,
};

/* Digest length in bytes of hash, or 0 for an unknown value. */
size_t jpki_hash_digest_len(enum jpki_hash hash);

/* Name for logs and D-Bus ("sha256", ...), or NULL for an unknown value. */
const char *jpki_hash_name(enum jpki_hash hash);

/* Parses "sha256"/"sha384"/"sha512" (lower case, as on D-Bus).
 * Returns 0 and sets *hash, or -1 for anything else. */
int jpki_hash_from_name(const char *name, enum jpki_hash *hash);

/* 00 A4 04 0C Lc <aid>: SELECT DF by name, no response data.
 * aid_len must be 1..16 (ISO 7816-5). */
size_t jpki_apdu_select_df(uint8_t *buf, size_t cap, const uint8_t *aid, size_t aid_len);

/* 00 A4 02 0C 02 <fid hi> <fid lo>: SELECT EF by file identifier. */
size_t jpki_apdu_select_ef(uint8_t *buf, size_t cap, uint16_t fid);

/* 00 B0 P1 P2 Le with a short Le: offset 0..0x7FFF, le 1..256. */
size_t jpki_apdu_read_binary(uint8_t *buf, size_t cap, uint16_t offset, size_t le);

/* 00 B0 P1 P2 00 Le1 Le2 (extended Le): offset 0..0x7FFF, le 1..65536. */
size_t jpki_apdu_read_binary_ext(uint8_t *buf, size_t cap, uint16_t offset, size_t le);

/* 00 20 00 80 Lc <pin>: VERIFY the reference data of the currently selected
 * key EF.  pin_len 1..255.  The PIN is written into buf as is (no padding);
 * format checks belong to the caller (see jpki-ops.h). */
size_t jpki_apdu_verify(uint8_t *buf, size_t cap, const uint8_t *pin, size_t pin_len);

/* 00 20 00 80: VERIFY with no data — asks for the retry counter and never
 * consumes a try. */
size_t jpki_apdu_verify_status(uint8_t *buf, size_t cap);

/* 80 2A 00 80 Lc <data> 00: COMPUTE DIGITAL SIGNATURE (PKCS#1 v1.5 over data,
 * which should be a DigestInfo) with the currently selected key EF.
 * data_len 1..255 gives a short APDU with Le 00 (256); 256..65535 gives the
 * extended form 80 2A 00 80 00 Lc1 Lc2 <data> 00 00. */
size_t jpki_apdu_compute_signature(uint8_t *buf, size_t cap, const uint8_t *data, size_t data_len);

/* 00 C0 00 00 Le: GET RESPONSE after 61xx, le 1..256. */
size_t jpki_apdu_get_response(uint8_t *buf, size_t cap, size_t le);

/* Writes DigestInfo(hash) = prefix || digest into out.  digest_len must equal
 * jpki_hash_digest_len(hash).  Returns the DigestInfo length (51/67/83) or 0. */
size_t jpki_digest_info(enum jpki_hash hash, const uint8_t *digest, size_t digest_len,
			uint8_t *out, size_t cap);

#endif

/* probe-apdu.h — pure helpers of the PC/SC test client (onshi-pcsc-probe):
 * JPKI command APDU builders, response and certificate-header parsing, the
 * Part 10 feature list and PIN_VERIFY_STRUCTURE, hex conversion.
 *
 * Contract: no I/O, no allocation.  Every builder writes into a caller buffer
 * of stated capacity and returns the length written, or 0 if it does not fit
 * or an argument is out of range.  Every parser checks lengths before reading.
 * This is test tooling and shares no code with daemon/ (it is the independent
 * second implementation the end-to-end tests compare against).
 */
#ifndef ONSHI_PROBE_APDU_H
#define ONSHI_PROBE_APDU_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Largest EF the probe reads (a JPKI certificate is about 1.6 KB). */
#define PROBE_CERT_MAX 16384
/* A certificate header: 30 82 HH LL. */
#define PROBE_CERT_HEADER_LEN 4
/* Largest short-Le chunk. */
#define PROBE_SHORT_LE_MAX 256

enum probe_key { PROBE_KEY_AUTH, PROBE_KEY_SIGN };
enum probe_cert { PROBE_CERT_AUTH, PROBE_CERT_SIGN, PROBE_CERT_AUTH_CA, PROBE_CERT_SIGN_CA };

/* "auth", "sign", "auth-ca", "sign-ca" → 0 and *out, or -1. */
int probe_cert_from_name(const char *name, enum probe_cert *out);
/* EF identifier of a certificate file. */
uint16_t probe_cert_ef(enum probe_cert which);

/* SELECT the JPKI AP by DF name (00 A4 04 0C 0A AID). */
size_t probe_build_select_jpki(uint8_t *buf, size_t cap);
/* SELECT EF by identifier (00 A4 02 0C 02 FID). */
size_t probe_build_select_ef(uint8_t *buf, size_t cap, uint16_t fid);
/* READ BINARY at offset (< 0x8000) with short Le (1..256; 256 encodes as 00). */
size_t probe_build_read_binary(uint8_t *buf, size_t cap, uint16_t offset, size_t le);
/* READ BINARY at offset with an extended Le (1..65536; 65536 encodes as 00 00). */
size_t probe_build_read_binary_ext(uint8_t *buf, size_t cap, uint16_t offset, size_t le);
/* VERIFY retry-counter query (00 20 00 80, no data). */
size_t probe_build_verify_query(uint8_t *buf, size_t cap);
/* VERIFY with a PIN (00 20 00 80 Lc PIN).  The caller wipes buf afterwards. */
size_t probe_build_verify(uint8_t *buf, size_t cap, const char *pin, size_t pin_len);
/* COMPUTE DIGITAL SIGNATURE over DigestInfo(SHA-256) of a 32-byte hash:
 * 80 2A 00 80 33 <prefix ‖ hash> 00. */
size_t probe_build_sign_sha256(uint8_t *buf, size_t cap, const uint8_t hash[32]);
/* GET RESPONSE with short Le (1..256). */
size_t probe_build_get_response(uint8_t *buf, size_t cap, size_t le);

/* The PIN rules of each key: auth PIN 4 digits; sign password 6..16 of [A-Z0-9]. */
bool probe_pin_valid(enum probe_key key, const char *pin, size_t len);
uint16_t probe_key_pin_ef(enum probe_key key);
uint16_t probe_key_ef(enum probe_key key);

/* Status word of a response (last two bytes); 0 if rlen < 2. */
uint16_t probe_sw(const uint8_t *resp, size_t rlen);

/* Total DER length from a certificate's first 4 bytes (30 82 HH LL):
 * 0 and *total, or -1 if the header is not a long-form SEQUENCE or the total
 * exceeds PROBE_CERT_MAX. */
int probe_cert_total_len(const uint8_t *hdr, size_t hlen, size_t *total);

/* Finds a feature's IOCTL in a GET_FEATURE_REQUEST answer (TLVs: tag, len 4,
 * u32 big-endian).  0 and *ioctl, 1 if absent, -1 if the list is malformed. */
int probe_find_feature(const uint8_t *tlv, size_t len, uint8_t tag, uint32_t *ioctl);

/* PIN_VERIFY_STRUCTURE for a fixed-length ASCII PIN typed on the keypad,
 * verified by 00 20 00 80 LEN <LEN placeholder bytes>.  Returns its length. */
size_t probe_build_pin_verify_direct(uint8_t *buf, size_t cap, uint8_t pin_len,
				     uint8_t timeout_s);

/* Hex: parse (spaces and colons ignored) into out; returns bytes or -1. */
long probe_hex_parse(const char *text, uint8_t *out, size_t cap);
/* Writes 2*len hex digits and a NUL into out (capacity 2*len+1). */
void probe_hex_format(const uint8_t *data, size_t len, char *out);

#endif

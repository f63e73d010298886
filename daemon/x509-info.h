/* x509-info.h — X.509 facts the daemon needs, with OpenSSL 3 libcrypto.
 *
 * Contract:
 *  - Input is DER from the card (untrusted): every function fails cleanly on
 *    garbage, including trailing bytes after the certificate.
 *  - Nothing here logs.  The sign certificate's subject and subjectAltName
 *    hold the holder's name, address, birth date and sex; the auth
 *    certificate's subject holds a card-specific ID.  The CALLER decides what
 *    to log: use x509_is_sign_cert() and never log anything but serial and
 *    validity of a sign cert (and prefer not logging subjects at all).
 *  - Serial format (decided): the integer's magnitude as upper-case hex,
 *    two digits per byte, without leading zero bytes — the same text as
 *    `openssl x509 -noout -serial` prints after "serial=".  Zero is "00";
 *    a (non-conforming) negative serial gets a leading '-'.
 *  - Names: RFC 2253 order (most specific first), UTF-8 kept as UTF-8 (not
 *    \\-escaped), e.g. "CN=Test Leaf,O=JPKI,C=JP".
 */
#ifndef ONSHI_X509_INFO_H
#define ONSHI_X509_INFO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define X509_INFO_SERIAL_MAX 130   /* 64-byte serial as hex + sign + NUL */

struct x509_info {
	char serial_hex[X509_INFO_SERIAL_MAX];
	char *subject;          /* malloc'd; free with x509_info_clear() */
	char *issuer;           /* malloc'd */
	int64_t not_before;     /* Unix seconds */
	int64_t not_after;
	int key_bits;
	char key_type[16];      /* "RSA", "EC", "ED25519", or OpenSSL's short name */
};

/* Parses der.  Returns 0, or -1 (info is then zeroed, nothing to free). */
int x509_info_parse(const uint8_t *der, size_t len, struct x509_info *info);
/* Wipes the strings (a sign cert's subject is personal data), frees them and
 * zeroes info. */
void x509_info_clear(struct x509_info *info);

/* Makes libcrypto wipe every block it frees or moves (realloc), so parsed
 * certificates (the sign cert's name and address) do not linger in freed
 * heap memory, where a core dump or a later bug could show them.  Call once,
 * before any other libcrypto call; returns 0, or -1 when libcrypto has
 * already allocated (then nothing changed). */
int x509_wipe_freed_memory(void);

/* Verifies leaf against the card's CA certificate at at_time (Unix seconds).
 *  - anchor_dir == NULL: the card CA is the trust anchor.  This proves only
 *    that the leaf was issued by the CA on the same card, not that the CA is
 *    genuine.
 *  - anchor_dir != NULL: every certificate file in it (PEM, possibly several
 *    per file, or DER; at most 256 files) is a trust anchor and the card CA
 *    is only an untrusted intermediate: the chain must end at an anchor.
 * No purpose or policy check (the auth cert is used for TLS-client-like
 * logins, the card CAs carry no EKU); signatures and validity times are
 * checked on every certificate.  reason (may be NULL) receives "ok" or
 * OpenSSL's verify error text. */
bool x509_chain_valid(const uint8_t *leaf_der, size_t leaf_len,
		      const uint8_t *ca_der, size_t ca_len,
		      const char *anchor_dir, int64_t at_time,
		      char *reason, size_t reason_cap);

/* Verifies an RSA PKCS#1 v1.5 SHA-256 signature over data with the cert's
 * public key (tests use it to check card signatures). */
bool x509_verify_pkcs1_sha256(const uint8_t *cert_der, size_t cert_len,
			      const uint8_t *data, size_t data_len,
			      const uint8_t *sig, size_t sig_len);

/* True when the certificate looks like a JPKI signature certificate: a
 * subjectAltName otherName under 1.2.392.200149.8.5.5 (基本4情報), or an
 * issuer OU "JPKI for digital signature".  Unparsable input also gives true:
 * when unsure, treat it as personal data. */
bool x509_is_sign_cert(const uint8_t *der, size_t len);

#endif

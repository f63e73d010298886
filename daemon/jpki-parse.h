/* jpki-parse.h — parsers for what the My Number card sends back.
 *
 * Contract:
 *  - Pure functions over (pointer, length) pairs; no I/O, no allocation, no
 *    logging.  Every length read from card data is checked against the buffer
 *    before use; malformed input gives an error code, never a read outside
 *    the buffer.  These are the libFuzzer targets (daemon/fuzz/).
 *  - Messages returned by jpki_sw_message() are constant English strings
 *    that never contain card data, so they are safe to log and to put in a
 *    D-Bus error.
 */
#ifndef ONSHI_JPKI_PARSE_H
#define ONSHI_JPKI_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- status words ------------------------------------------------------ */

enum jpki_sw_class {
	JPKI_SW_OK,                     /* 9000 */
	JPKI_SW_VERIFY_FAILED,          /* 63Cx: detail = tries left (0 = now blocked) */
	JPKI_SW_VERIFY_FAILED_NO_COUNT, /* 6300 */
	JPKI_SW_BLOCKED,                /* 6983, 6984 */
	JPKI_SW_SECURITY_NOT_SATISFIED, /* 6982 */
	JPKI_SW_FILE_NOT_FOUND,         /* 6A82 */
	JPKI_SW_WRONG_LENGTH,           /* 6700 */
	JPKI_SW_CHANNEL_UNSUPPORTED,    /* 6881 */
	JPKI_SW_MORE_DATA,              /* 61xx: detail = bytes available (00 -> 256) */
	JPKI_SW_WRONG_LE,               /* 6Cxx: detail = exact Le to resend (00 -> 256) */
	JPKI_SW_OTHER,                  /* anything else: detail = the SW itself */
};

struct jpki_sw_info {
	enum jpki_sw_class cls;
	unsigned detail;
};

struct jpki_sw_info jpki_sw_classify(uint16_t sw);

/* Human message for a status word, e.g. "PIN incorrect", "file not found". */
const char *jpki_sw_message(uint16_t sw);

/* Splits a response APDU into data and SW1SW2.  Returns 0, or -1 when the
 * response is shorter than the two status bytes. */
int jpki_response_split(const uint8_t *rapdu, size_t rlen, size_t *data_len, uint16_t *sw);

/* ---- certificate length from an EF's first bytes ----------------------- */

/* Largest certificate EF accepted, header included.  Real JPKI certs are
 * about 1.5 KiB; anything near this limit is garbage. */
#define JPKI_CERT_MAX_LEN 65536

enum jpki_parse_result {
	JPKI_PARSE_OK = 0,
	JPKI_PARSE_TRUNCATED,   /* need more bytes; *need says how many in total */
	JPKI_PARSE_INVALID,     /* not a definite-length SEQUENCE */
	JPKI_PARSE_TOO_LARGE,   /* length over the limit */
};

/* Reads the BER header 30 <len> at the start of hdr (generic definite
 * length: short form, 81, 82, 83, 84 long forms).  On JPKI_PARSE_OK sets
 * *total to header + content length (<= JPKI_CERT_MAX_LEN) and *hdr_len to
 * the header length.  On JPKI_PARSE_TRUNCATED sets *hdr_len to the number of
 * header bytes needed.  Rejects: a first byte other than 30, indefinite
 * length (80), length-of-length > 4, total > JPKI_CERT_MAX_LEN. */
enum jpki_parse_result jpki_cert_length(const uint8_t *hdr, size_t len, size_t *total, size_t *hdr_len);

/* ---- token info (JPKI EF 0006) and cert presence (EF 0008) ------------- */

enum jpki_card_type {
	JPKI_CARD_MYNUMBER,          /* JPKIAPICCTOKEN2: physical My Number card */
	JPKI_CARD_JUKI,              /* JPKIAPICCTOKEN: old 住基カード */
	JPKI_CARD_SMARTPHONE_GPSE,   /* JPKIAPGPSETOKEN: Android */
	JPKI_CARD_SMARTPHONE_IOS,    /* JPKIAPIOSTOKEN: iPhone */
	JPKI_CARD_OTHER,             /* a readable label we do not know */
};

/* Stable name: "mynumber", "juki-card", "jpki-smartphone", "other". */
const char *jpki_card_type_name(enum jpki_card_type type);

/* Parses the 32-byte space-padded ASCII label at the start of EF 0006.
 * Needs len >= 32.  label (33 bytes) receives the label without trailing
 * spaces/NULs, NUL-terminated (may be NULL).  Returns 0, or -1 when the
 * buffer is short or the label holds non-printable / non-ASCII bytes. */
int jpki_token_info_parse(const uint8_t *ef, size_t len, enum jpki_card_type *type, char label[33]);

/* EF 0008: byte 0 = sign cert, byte 1 = auth cert; 00 = absent, anything
 * else (seen: 8F) = present.  Needs len >= 3.  Returns 0 or -1. */
int jpki_cert_presence_parse(const uint8_t *ef, size_t len, bool *sign_present, bool *auth_present);

/* ---- bounded BER-TLV reader for card records --------------------------- */

struct jpki_tlv {
	uint32_t tag;           /* tag bytes big-endian, e.g. 0xFF20, 0xDF22 */
	bool constructed;       /* b6 of the first tag byte */
	const uint8_t *value;   /* points into the parsed buffer */
	size_t len;
};

enum jpki_tlv_result {
	JPKI_TLV_OK = 0,
	JPKI_TLV_END,           /* no more objects (only 00/FF filler left) */
	JPKI_TLV_ERROR,         /* malformed: truncated tag/length/value, bad length form */
};

/* Reads the next TLV at *pos in buf[0..len).  Tags are 1..3 bytes, lengths
 * short form or 81..84.  On OK, *pos moves past the object.  Trailing bytes
 * that are all 00 or all FF (card filler, e.g. EF 0001 of the text AP ends
 * FF FF) give END.  Never reads outside buf. */
enum jpki_tlv_result jpki_tlv_next(const uint8_t *buf, size_t len, size_t *pos, struct jpki_tlv *out);

/* Finds the first object with tag among the top-level objects of buf.
 * Returns OK, END (not found) or ERROR (malformed before it was found). */
enum jpki_tlv_result jpki_tlv_find(const uint8_t *buf, size_t len, uint32_t tag, struct jpki_tlv *out);

/* Follows path[0..depth) through nested constructed objects, e.g.
 * {0xFF20, 0xDF22}.  depth 1..8. */
enum jpki_tlv_result jpki_tlv_find_path(const uint8_t *buf, size_t len, const uint32_t *path,
					size_t depth, struct jpki_tlv *out);

/* 基本4情報 (text AP EF 0002): FF20 { DF21 offsets, DF22 name, DF23 address,
 * DF24 birth YYYYMMDD, DF25 sex }.  Pointers go into buf (personal data:
 * never log them).  Returns 0, or -1 when a field is missing or malformed
 * (birth must be 8 ASCII digits, sex 1 ASCII digit). */
struct jpki_basic4 {
	const uint8_t *name;    size_t name_len;    /* UTF-8 */
	const uint8_t *address; size_t address_len; /* UTF-8 */
	const uint8_t *birth;                       /* 8 ASCII digits */
	char sex;                                   /* '1' male, '2' female, '9' n/a, '0' unknown */
};
int jpki_basic4_parse(const uint8_t *buf, size_t len, struct jpki_basic4 *out);

#endif

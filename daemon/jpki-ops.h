/* jpki-ops.h — JPKI operations (read certificate, PIN status, VERIFY, sign)
 * as logic over an injected transmit function.
 *
 * Contract:
 *  - No PC/SC here.  The caller supplies transmit(); the PC/SC layer wraps
 *    SCardTransmit, tests supply a scripted card.  transmit() receives one
 *    command APDU and must write the complete response APDU (data + SW1 SW2)
 *    into rapdu; *rlen is the capacity on entry and the received length on
 *    return.  It returns JPKI_OK, or JPKI_ERR_NO_CARD / JPKI_ERR_CARD_REMOVED /
 *    JPKI_ERR_READER for transport failures (anything else is treated as
 *    JPKI_ERR_READER).  It must not keep the command buffer: VERIFY commands
 *    carry the PIN and are wiped right after transmit() returns.
 *  - Session state: struct jpki_card remembers which application (DF) is
 *    selected so that jpki_sign() and the sign-certificate read after a
 *    jpki_verify() do not re-SELECT the JPKI AP (a re-SELECT drops the
 *    verified state on this card).  Call jpki_card_forget_selection() after a
 *    reset/reconnect.  Do VERIFY and the protected operation inside one PC/SC
 *    transaction and reset the card afterwards (dbus-design.md §2).
 *  - PINs: jpki_verify() validates the format before anything is sent, never
 *    retries, and refuses the last remaining try unless told otherwise.  The
 *    PIN is copied only into a stack APDU buffer that is wiped after use; the
 *    caller wipes its own copy (see secret.h).  Results never contain the PIN.
 *  - Trace: an optional callback sees every exchange.  VERIFY commands that
 *    carry data are cut to their 4-byte header (Lc and PIN removed, so not
 *    even the PIN length leaks) and flagged redacted.  Response data read
 *    from the sign certificate EF is withheld too (it holds the holder's
 *    name, address and birth date): only SW1 SW2 are shown.  Everything
 *    else is passed as is.
 *  - Results map 1:1 to D-Bus errors via jpki_result_name().
 */
#ifndef ONSHI_JPKI_OPS_H
#define ONSHI_JPKI_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jpki-apdu.h"
#include "jpki-parse.h"

enum jpki_result {
	JPKI_OK = 0,
	JPKI_ERR_NO_CARD,            /* NoCard */
	JPKI_ERR_UNSUPPORTED_CARD,   /* UnsupportedCard: no JPKI AP / unexpected answers to SELECT */
	JPKI_ERR_PIN_INCORRECT,      /* PinIncorrect (tries left in *tries_left, -1 = unknown) */
	JPKI_ERR_PIN_BLOCKED,        /* PinBlocked */
	JPKI_ERR_LAST_TRY_REFUSED,   /* LastTryRefused: one try left and not allowed; nothing sent */
	JPKI_ERR_PIN_FORMAT,         /* InvalidPinFormat: rejected before reaching the card */
	JPKI_ERR_READER,             /* ReaderError */
	JPKI_ERR_CARD_REMOVED,       /* CardRemoved */
	JPKI_ERR_NOT_AUTHORIZED,     /* NotAuthorized: 6982, PIN not verified */
	JPKI_ERR_NOT_FOUND,          /* NotFound: 6A82 on an EF (e.g. no sign cert on this card) */
	JPKI_ERR_CARD_PROTOCOL,      /* CardError: malformed/truncated/unexpected response */
	JPKI_ERR_INVALID_ARGUMENT,   /* InvalidArgument: caller bug or bad D-Bus argument */
	JPKI_ERR_BUFFER_TOO_SMALL,   /* InvalidArgument: output buffer too small */
};

/* D-Bus error suffix, e.g. "PinIncorrect" (the service prefixes its namespace). */
const char *jpki_result_name(enum jpki_result r);
/* Short English description without any card or PIN data. */
const char *jpki_result_message(enum jpki_result r);

typedef int (*jpki_transmit_fn)(void *ctx, const uint8_t *capdu, size_t clen,
				uint8_t *rapdu, size_t *rlen);

/* One exchange as the trace sees it (see the redaction rules above). */
struct jpki_trace_event {
	const uint8_t *command;  size_t command_len;
	const uint8_t *response; size_t response_len; /* NULL/0 when transmit failed */
	bool command_redacted;
	bool response_redacted;
	int transmit_result;     /* enum jpki_result of transmit() */
};
typedef void (*jpki_trace_fn)(void *ctx, const struct jpki_trace_event *ev);

struct jpki_card;

/* Allocates a session over transmit.  Returns NULL when out of memory. */
struct jpki_card *jpki_card_new(jpki_transmit_fn transmit, void *transmit_ctx);
void jpki_card_free(struct jpki_card *card);
void jpki_card_set_trace(struct jpki_card *card, jpki_trace_fn trace, void *trace_ctx);
/* Forget the selected application (after a card reset or reconnect). */
void jpki_card_forget_selection(struct jpki_card *card);
/* Status word of the last response received (0 if none), for diagnostics. */
uint16_t jpki_card_last_sw(const struct jpki_card *card);

enum jpki_cert {
	JPKI_CERT_AUTH,      /* EF 000A, free on a physical card */
	JPKI_CERT_AUTH_CA,   /* EF 000B */
	JPKI_CERT_SIGN_CA,   /* EF 0002 */
	JPKI_CERT_SIGN,      /* EF 0001, needs jpki_verify(JPKI_KEY_SIGN) first */
};

/* "auth", "auth-ca", "sign-ca", "sign"; from_name returns 0 or -1. */
const char *jpki_cert_name(enum jpki_cert which);
int jpki_cert_from_name(const char *name, enum jpki_cert *which);

/* Reads a certificate EF: SELECT JPKI AP (unless selected), SELECT EF, READ
 * 4 header bytes, parse the BER length, then read the rest either in chunks
 * of max_le (1..256, 0 = 256) or, when extended_ok and more than 256 bytes
 * remain, with one extended-Le READ.  61xx is followed by GET RESPONSE, 6Cxx
 * by a resend with the Le the card names.  The DER is written to out
 * (cap bytes) and *out_len is set; the total must match the header.
 * Errors: NOT_FOUND (no such EF), NOT_AUTHORIZED (sign cert without PIN),
 * CARD_PROTOCOL (bad header, short/long data), BUFFER_TOO_SMALL, transport. */
enum jpki_result jpki_read_certificate(struct jpki_card *card, enum jpki_cert which,
				       size_t max_le, bool extended_ok,
				       uint8_t *out, size_t cap, size_t *out_len);

enum jpki_key {
	JPKI_KEY_AUTH,       /* JPKI AP EF 0018: 4 digits, 3 tries */
	JPKI_KEY_SIGN,       /* JPKI AP EF 001B: 6-16 [A-Z0-9], 5 tries */
	JPKI_KEY_CARD_INFO,  /* text AP EF 0011: 4 digits, 3 tries */
};

/* "auth", "sign", "card-info"; from_name returns 0 or -1. */
const char *jpki_key_name(enum jpki_key key);
int jpki_key_from_name(const char *name, enum jpki_key *key);

enum jpki_pin_state {
	JPKI_PIN_TRIES,             /* tries_left valid (1..15) */
	JPKI_PIN_BLOCKED,           /* 6984/6983, or 63C0 */
	JPKI_PIN_VERIFIED_OR_UNKNOWN, /* 9000 (already verified this session) or 6300 */
};

struct jpki_pin_status {
	enum jpki_pin_state state;
	int tries_left;             /* -1 unless state == JPKI_PIN_TRIES */
};

/* Queries the retry counter with an empty VERIFY; never consumes a try. */
enum jpki_result jpki_pin_status(struct jpki_card *card, enum jpki_key key,
				 struct jpki_pin_status *status);

/* Checks the PIN's format for key without any I/O.  The sign password is
 * checked case-insensitively (it is upper-cased before sending).
 * Returns JPKI_OK or JPKI_ERR_PIN_FORMAT. */
enum jpki_result jpki_pin_format_check(enum jpki_key key, const uint8_t *pin, size_t pin_len);

/* Verifies pin for key:
 *  1. format check (JPKI_ERR_PIN_FORMAT, nothing sent);
 *  2. SELECT AP/EF and empty VERIFY: blocked -> JPKI_ERR_PIN_BLOCKED;
 *     exactly one try left and !allow_last_try -> JPKI_ERR_LAST_TRY_REFUSED
 *     (no VERIFY with data is sent); 9000/6300 (count unknown) -> go on,
 *     since nothing says this is the last try;
 *  3. VERIFY: 9000 -> JPKI_OK; 63Cx (x > 0) -> JPKI_ERR_PIN_INCORRECT with
 *     *tries_left = x; 63C0/6983/6984 -> JPKI_ERR_PIN_BLOCKED (tries 0);
 *     6300 -> JPKI_ERR_PIN_INCORRECT with *tries_left = -1.
 * tries_left (may be NULL) is set on every return: known count or -1. */
enum jpki_result jpki_verify(struct jpki_card *card, enum jpki_key key,
			     const uint8_t *pin, size_t pin_len, bool allow_last_try,
			     int *tries_left);

/* Signs digest (length must match hash) with the auth or sign key: SELECT
 * key EF 0017/001A in the JPKI AP, COMPUTE DIGITAL SIGNATURE over the
 * DigestInfo.  Requires a prior successful jpki_verify() of the matching
 * key in this session (else NOT_AUTHORIZED).  The card must answer exactly
 * 256 bytes; they go to sig (cap >= 256) and *sig_len. */
enum jpki_result jpki_sign(struct jpki_card *card, enum jpki_key key, enum jpki_hash hash,
			   const uint8_t *digest, size_t digest_len,
			   uint8_t *sig, size_t cap, size_t *sig_len);

/* Reads EF 0006 and classifies the token (card type).  Selects the JPKI AP:
 * a card without it is JPKI_ERR_UNSUPPORTED_CARD. */
enum jpki_result jpki_read_card_type(struct jpki_card *card, enum jpki_card_type *type);

#endif

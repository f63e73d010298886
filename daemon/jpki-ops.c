/* jpki-ops.c — JPKI operations over an injected transmit(); see jpki-ops.h. */
#include <stdlib.h>
#include <string.h>

#include <onshi/jpki-const.h>

#include "jpki-ops.h"

/* Upper bound on GET RESPONSE rounds for one command: far more than any
 * JPKI answer needs, and it bounds a card that keeps answering 61xx. */
#define GET_RESPONSE_ROUNDS_MAX 300

enum selected_df {
	DF_NONE,
	DF_JPKI,
	DF_TEXT,
};

struct jpki_card {
	jpki_transmit_fn transmit;
	void *transmit_ctx;
	jpki_trace_fn trace;
	void *trace_ctx;
	enum selected_df df;
	uint16_t last_sw;
	bool redact_responses;  /* set while reading the sign certificate */
	uint8_t rbuf[ISO_EXTENDED_LE_MAX + 2];
};

static const uint8_t aid_jpki[JPKI_AID_LEN] = JPKI_AID_JPKI;
static const uint8_t aid_text[JPKI_AID_LEN] = JPKI_AID_TEXT;

/* ---- names ------------------------------------------------------------- */

const char *jpki_result_name(enum jpki_result r)
{
	switch (r) {
	case JPKI_OK:                   return "Success";
	case JPKI_ERR_NO_CARD:          return "NoCard";
	case JPKI_ERR_UNSUPPORTED_CARD: return "UnsupportedCard";
	case JPKI_ERR_PIN_INCORRECT:    return "PinIncorrect";
	case JPKI_ERR_PIN_BLOCKED:      return "PinBlocked";
	case JPKI_ERR_LAST_TRY_REFUSED: return "LastTryRefused";
	case JPKI_ERR_PIN_FORMAT:       return "InvalidPinFormat";
	case JPKI_ERR_READER:           return "ReaderError";
	case JPKI_ERR_CARD_REMOVED:     return "CardRemoved";
	case JPKI_ERR_NOT_AUTHORIZED:   return "NotAuthorized";
	case JPKI_ERR_NOT_FOUND:        return "NotFound";
	case JPKI_ERR_CARD_PROTOCOL:    return "CardError";
	case JPKI_ERR_INVALID_ARGUMENT:
	case JPKI_ERR_BUFFER_TOO_SMALL: return "InvalidArgument";
	}
	return "CardError";
}

const char *jpki_result_message(enum jpki_result r)
{
	switch (r) {
	case JPKI_OK:                   return "success";
	case JPKI_ERR_NO_CARD:          return "no card in the reader";
	case JPKI_ERR_UNSUPPORTED_CARD: return "not a My Number card (no JPKI application)";
	case JPKI_ERR_PIN_INCORRECT:    return "PIN incorrect";
	case JPKI_ERR_PIN_BLOCKED:      return "PIN blocked; it must be reset at the municipal office";
	case JPKI_ERR_LAST_TRY_REFUSED: return "only one PIN try left; refused without explicit permission";
	case JPKI_ERR_PIN_FORMAT:       return "PIN has the wrong format for this key";
	case JPKI_ERR_READER:           return "reader error";
	case JPKI_ERR_CARD_REMOVED:     return "card removed";
	case JPKI_ERR_NOT_AUTHORIZED:   return "PIN not verified for this operation";
	case JPKI_ERR_NOT_FOUND:        return "file not found on the card";
	case JPKI_ERR_CARD_PROTOCOL:    return "unexpected or malformed card response";
	case JPKI_ERR_INVALID_ARGUMENT: return "invalid argument";
	case JPKI_ERR_BUFFER_TOO_SMALL: return "output buffer too small";
	}
	return "unknown error";
}

static const struct { const char *name; enum jpki_cert which; uint16_t fid; } cert_table[] = {
	{ "auth",    JPKI_CERT_AUTH,    JPKI_EF_AUTH_CERT },
	{ "auth-ca", JPKI_CERT_AUTH_CA, JPKI_EF_AUTH_CA_CERT },
	{ "sign-ca", JPKI_CERT_SIGN_CA, JPKI_EF_SIGN_CA_CERT },
	{ "sign",    JPKI_CERT_SIGN,    JPKI_EF_SIGN_CERT },
};

static const struct {
	const char *name;
	enum jpki_key key;
	enum selected_df df;
	uint16_t pin_ef;
	uint16_t key_ef;   /* 0: no signing key */
} key_table[] = {
	{ "auth",      JPKI_KEY_AUTH,      DF_JPKI, JPKI_EF_AUTH_PIN, JPKI_EF_AUTH_KEY },
	{ "sign",      JPKI_KEY_SIGN,      DF_JPKI, JPKI_EF_SIGN_PIN, JPKI_EF_SIGN_KEY },
	{ "card-info", JPKI_KEY_CARD_INFO, DF_TEXT, TEXT_EF_PIN,      0 },
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *jpki_cert_name(enum jpki_cert which)
{
	for (size_t i = 0; i < N_ELEMS(cert_table); i++) {
		if (cert_table[i].which == which)
			return cert_table[i].name;
	}
	return NULL;
}

int jpki_cert_from_name(const char *name, enum jpki_cert *which)
{
	for (size_t i = 0; name && i < N_ELEMS(cert_table); i++) {
		if (strcmp(name, cert_table[i].name) == 0) {
			*which = cert_table[i].which;
			return 0;
		}
	}
	return -1;
}

const char *jpki_key_name(enum jpki_key key)
{
	for (size_t i = 0; i < N_ELEMS(key_table); i++) {
		if (key_table[i].key == key)
			return key_table[i].name;
	}
	return NULL;
}

int jpki_key_from_name(const char *name, enum jpki_key *key)
{
	for (size_t i = 0; name && i < N_ELEMS(key_table); i++) {
		if (strcmp(name, key_table[i].name) == 0) {
			*key = key_table[i].key;
			return 0;
		}
	}
	return -1;
}

static int key_index(enum jpki_key key)
{
	for (size_t i = 0; i < N_ELEMS(key_table); i++) {
		if (key_table[i].key == key)
			return (int)i;
	}
	return -1;
}

/* ---- session ----------------------------------------------------------- */

struct jpki_card *jpki_card_new(jpki_transmit_fn transmit, void *transmit_ctx)
{
	struct jpki_card *card;

	if (!transmit)
		return NULL;
	card = calloc(1, sizeof(*card));
	if (!card)
		return NULL;
	card->transmit = transmit;
	card->transmit_ctx = transmit_ctx;
	card->df = DF_NONE;
	return card;
}

void jpki_card_free(struct jpki_card *card)
{
	if (!card)
		return;
	/* The buffer may still hold sign-certificate bytes (personal data). */
	explicit_bzero(card, sizeof(*card));
	free(card);
}

void jpki_card_set_trace(struct jpki_card *card, jpki_trace_fn trace, void *trace_ctx)
{
	card->trace = trace;
	card->trace_ctx = trace_ctx;
}

void jpki_card_forget_selection(struct jpki_card *card)
{
	card->df = DF_NONE;
}

uint16_t jpki_card_last_sw(const struct jpki_card *card)
{
	return card->last_sw;
}

/* ---- exchange ---------------------------------------------------------- */

static enum jpki_result transport_result(int rc)
{
	switch (rc) {
	case JPKI_OK:
	case JPKI_ERR_NO_CARD:
	case JPKI_ERR_CARD_REMOVED:
	case JPKI_ERR_READER:
		return (enum jpki_result)rc;
	default:
		return JPKI_ERR_READER;
	}
}

static void trace_exchange(struct jpki_card *card, const uint8_t *capdu, size_t clen,
			   bool redact_command, size_t rlen, enum jpki_result rc)
{
	struct jpki_trace_event ev = {
		.command = capdu,
		.command_len = redact_command && clen > 4 ? 4 : clen,
		.command_redacted = redact_command && clen > 4,
		.transmit_result = rc,
	};

	if (!card->trace)
		return;
	if (rc == JPKI_OK) {
		ev.response = card->rbuf;
		ev.response_len = rlen;
		if (card->redact_responses && rlen > 2) {
			ev.response = card->rbuf + rlen - 2;
			ev.response_len = 2;
			ev.response_redacted = true;
		}
	}
	card->trace(card->trace_ctx, &ev);
}

/* One transmit() into card->rbuf.  On success *rlen >= 2 and card->last_sw
 * is set.  Any failure forgets the selected DF: the card state is unknown. */
static enum jpki_result transmit_once(struct jpki_card *card, const uint8_t *capdu, size_t clen,
				      bool redact_command, size_t *rlen)
{
	size_t got = sizeof(card->rbuf);
	enum jpki_result rc = transport_result(card->transmit(card->transmit_ctx, capdu, clen,
								card->rbuf, &got));

	if (rc == JPKI_OK && got > sizeof(card->rbuf))
		rc = JPKI_ERR_READER; /* transmit() broke its contract */
	trace_exchange(card, capdu, clen, redact_command, rc == JPKI_OK ? got : 0, rc);
	if (rc != JPKI_OK) {
		card->df = DF_NONE;
		return rc;
	}
	if (got < 2) {
		card->df = DF_NONE;
		return JPKI_ERR_CARD_PROTOCOL;
	}
	card->last_sw = (uint16_t)(card->rbuf[got - 2] << 8 | card->rbuf[got - 1]);
	*rlen = got;
	return JPKI_OK;
}

/* Appends response data from rbuf to out, bounded by cap. */
static enum jpki_result take_data(struct jpki_card *card, size_t rlen, uint8_t *out, size_t cap, size_t *len)
{
	size_t n = rlen - 2;

	if (n > cap - *len)
		return JPKI_ERR_CARD_PROTOCOL; /* more than we asked for */
	if (n)
		memcpy(out + *len, card->rbuf, n);
	*len += n;
	return JPKI_OK;
}

/*
 * Sends a command and collects its response data into out[0..cap).
 * - 6Cxx on a command with a short Le (short_le_cmd): resent once with Le = xx.
 * - 61xx: GET RESPONSE until the card stops asking, bounded.
 * Returns JPKI_OK with the final *sw, or a transport/protocol error.
 * The caller interprets *sw.
 */
static enum jpki_result exchange(struct jpki_card *card, const uint8_t *capdu, size_t clen,
				 bool redact_command, bool short_le_cmd,
				 uint8_t *out, size_t cap, size_t *out_len, uint16_t *sw)
{
	uint8_t resend[JPKI_APDU_SHORT_MAX];
	size_t rlen = 0, len = 0;
	enum jpki_result rc = transmit_once(card, capdu, clen, redact_command, &rlen);

	if (rc != JPKI_OK)
		return rc;
	if (short_le_cmd && (card->last_sw >> 8) == (SW_WRONG_LE_BASE >> 8) && clen <= sizeof(resend)) {
		memcpy(resend, capdu, clen);
		resend[clen - 1] = (uint8_t)card->last_sw;
		rc = transmit_once(card, resend, clen, redact_command, &rlen);
		if (rc != JPKI_OK)
			return rc;
	}
	rc = take_data(card, rlen, out, cap, &len);
	for (int round = 0; rc == JPKI_OK && (card->last_sw >> 8) == (SW_BYTES_REMAINING_BASE >> 8); round++) {
		uint8_t get[5];
		size_t want = (card->last_sw & 0xFF) ? (card->last_sw & 0xFF) : ISO_SHORT_LE_MAX;
		size_t glen = jpki_apdu_get_response(get, sizeof(get), want);

		if (round >= GET_RESPONSE_ROUNDS_MAX)
			return JPKI_ERR_CARD_PROTOCOL;
		rc = transmit_once(card, get, glen, false, &rlen);
		if (rc == JPKI_OK)
			rc = take_data(card, rlen, out, cap, &len);
	}
	if (rc != JPKI_OK)
		return rc;
	*out_len = len;
	*sw = card->last_sw;
	return JPKI_OK;
}

/* Maps a status word that ends an operation unsuccessfully. */
static enum jpki_result sw_failure(uint16_t sw)
{
	switch (jpki_sw_classify(sw).cls) {
	case JPKI_SW_SECURITY_NOT_SATISFIED: return JPKI_ERR_NOT_AUTHORIZED;
	case JPKI_SW_FILE_NOT_FOUND:         return JPKI_ERR_NOT_FOUND;
	case JPKI_SW_BLOCKED:                return JPKI_ERR_PIN_BLOCKED;
	default:                             return JPKI_ERR_CARD_PROTOCOL;
	}
}

/* Sends a command that has no response data; data in the answer is a
 * protocol error.  redact marks a VERIFY carrying a PIN. */
static enum jpki_result command_no_data(struct jpki_card *card, const uint8_t *capdu, size_t clen,
					bool redact, uint16_t *sw)
{
	uint8_t none[1];
	size_t len = 0;

	return exchange(card, capdu, clen, redact, false, none, 0, &len, sw);
}

static enum jpki_result select_df(struct jpki_card *card, enum selected_df df)
{
	uint8_t cmd[JPKI_APDU_SHORT_MAX];
	const uint8_t *aid = df == DF_TEXT ? aid_text : aid_jpki;
	size_t clen = jpki_apdu_select_df(cmd, sizeof(cmd), aid, JPKI_AID_LEN);
	uint16_t sw = 0;
	enum jpki_result rc;

	if (card->df == df)
		return JPKI_OK;
	card->df = DF_NONE;
	rc = command_no_data(card, cmd, clen, false, &sw);
	if (rc == JPKI_ERR_CARD_PROTOCOL)
		return JPKI_ERR_UNSUPPORTED_CARD; /* data in a no-response SELECT: not our card */
	if (rc != JPKI_OK)
		return rc;
	if (sw != SW_OK)
		return JPKI_ERR_UNSUPPORTED_CARD;
	card->df = df;
	return JPKI_OK;
}

static enum jpki_result select_ef(struct jpki_card *card, uint16_t fid)
{
	uint8_t cmd[8];
	size_t clen = jpki_apdu_select_ef(cmd, sizeof(cmd), fid);
	uint16_t sw = 0;
	enum jpki_result rc = command_no_data(card, cmd, clen, false, &sw);

	if (rc != JPKI_OK)
		return rc;
	return sw == SW_OK ? JPKI_OK : sw_failure(sw);
}

/* ---- certificate read -------------------------------------------------- */

/* Reads out[pos..end) of the current EF.  Each READ asks for at most max_le
 * bytes (short Le) or, if extended_ok and more than 256 remain, everything
 * left in one extended READ.  A card may answer fewer bytes than asked; we
 * continue from where it stopped, but never accept zero or extra bytes. */
static enum jpki_result read_range(struct jpki_card *card, size_t pos, size_t end,
				   size_t max_le, bool extended_ok, uint8_t *out)
{
	while (pos < end) {
		uint8_t cmd[8];
		size_t remaining = end - pos, le, clen, got = 0;
		bool extended = extended_ok && remaining > ISO_SHORT_LE_MAX;
		uint16_t sw = 0;
		enum jpki_result rc;

		if (pos > ISO_READ_BINARY_OFFSET_MAX)
			return JPKI_ERR_CARD_PROTOCOL; /* EF larger than short offsets can address */
		if (extended) {
			le = remaining < ISO_EXTENDED_LE_MAX ? remaining : ISO_EXTENDED_LE_MAX;
			clen = jpki_apdu_read_binary_ext(cmd, sizeof(cmd), (uint16_t)pos, le);
		} else {
			le = remaining < max_le ? remaining : max_le;
			clen = jpki_apdu_read_binary(cmd, sizeof(cmd), (uint16_t)pos, le);
		}
		if (clen == 0)
			return JPKI_ERR_INVALID_ARGUMENT;
		rc = exchange(card, cmd, clen, false, !extended, out + pos, le, &got, &sw);
		if (rc != JPKI_OK)
			return rc;
		if (sw != SW_OK)
			return sw_failure(sw);
		if (got == 0)
			return JPKI_ERR_CARD_PROTOCOL; /* would loop forever */
		pos += got;
	}
	return JPKI_OK;
}

/* Reads the header, then the rest; out must hold at least the header. */
static enum jpki_result read_certificate_body(struct jpki_card *card, size_t max_le, bool extended_ok,
					      uint8_t *out, size_t cap, size_t *out_len)
{
	size_t have = 4, total = 0, hdr_len = 0;
	enum jpki_parse_result pr;
	enum jpki_result rc;

	if (cap < have)
		return JPKI_ERR_BUFFER_TOO_SMALL;
	rc = read_range(card, 0, have, max_le, false, out);
	if (rc != JPKI_OK)
		return rc;
	pr = jpki_cert_length(out, have, &total, &hdr_len);
	if (pr == JPKI_PARSE_TRUNCATED && hdr_len > have) {
		/* 30 83 / 30 84 headers are longer than the 4 bytes read first. */
		if (cap < hdr_len)
			return JPKI_ERR_BUFFER_TOO_SMALL;
		rc = read_range(card, have, hdr_len, max_le, false, out);
		if (rc != JPKI_OK)
			return rc;
		have = hdr_len;
		pr = jpki_cert_length(out, have, &total, &hdr_len);
	}
	if (pr != JPKI_PARSE_OK)
		return JPKI_ERR_CARD_PROTOCOL;
	if (total < have)
		return JPKI_ERR_CARD_PROTOCOL; /* short-form header: we read past the end */
	if (total > cap)
		return JPKI_ERR_BUFFER_TOO_SMALL;
	rc = read_range(card, have, total, max_le, extended_ok, out);
	if (rc != JPKI_OK)
		return rc;
	*out_len = total;
	return JPKI_OK;
}

enum jpki_result jpki_read_certificate(struct jpki_card *card, enum jpki_cert which,
				       size_t max_le, bool extended_ok,
				       uint8_t *out, size_t cap, size_t *out_len)
{
	uint16_t fid = 0;
	enum jpki_result rc;

	for (size_t i = 0; i < N_ELEMS(cert_table); i++) {
		if (cert_table[i].which == which)
			fid = cert_table[i].fid;
	}
	if (max_le == 0)
		max_le = ISO_SHORT_LE_MAX;
	if (!card || !out || !out_len || fid == 0 || max_le > ISO_SHORT_LE_MAX)
		return JPKI_ERR_INVALID_ARGUMENT;
	*out_len = 0;
	rc = select_df(card, DF_JPKI);
	if (rc == JPKI_OK)
		rc = select_ef(card, fid);
	if (rc != JPKI_OK)
		return rc;
	card->redact_responses = which == JPKI_CERT_SIGN;
	rc = read_certificate_body(card, max_le, extended_ok, out, cap, out_len);
	card->redact_responses = false;
	if (which == JPKI_CERT_SIGN)
		explicit_bzero(card->rbuf, sizeof(card->rbuf)); /* its last chunk */
	if (rc != JPKI_OK && which == JPKI_CERT_SIGN)
		explicit_bzero(out, cap); /* do not leave half a personal cert behind */
	return rc;
}

/* ---- PINs -------------------------------------------------------------- */

static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_upper(uint8_t c) { return c >= 'A' && c <= 'Z'; }
static uint8_t to_upper(uint8_t c) { return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c; }

enum jpki_result jpki_pin_format_check(enum jpki_key key, const uint8_t *pin, size_t pin_len)
{
	if (!pin)
		return JPKI_ERR_PIN_FORMAT;
	switch (key) {
	case JPKI_KEY_AUTH:
	case JPKI_KEY_CARD_INFO:
		if (pin_len != (key == JPKI_KEY_AUTH ? JPKI_AUTH_PIN_LEN : TEXT_PIN_LEN))
			return JPKI_ERR_PIN_FORMAT;
		for (size_t i = 0; i < pin_len; i++) {
			if (!is_digit(pin[i]))
				return JPKI_ERR_PIN_FORMAT;
		}
		return JPKI_OK;
	case JPKI_KEY_SIGN:
		if (pin_len < JPKI_SIGN_PW_MIN || pin_len > JPKI_SIGN_PW_MAX)
			return JPKI_ERR_PIN_FORMAT;
		for (size_t i = 0; i < pin_len; i++) {
			uint8_t c = to_upper(pin[i]);

			if (!is_digit(c) && !is_upper(c))
				return JPKI_ERR_PIN_FORMAT;
		}
		return JPKI_OK;
	}
	return JPKI_ERR_PIN_FORMAT;
}

/* SELECT AP + PIN EF, then an empty VERIFY. */
static enum jpki_result query_pin(struct jpki_card *card, int ki, struct jpki_pin_status *st)
{
	uint8_t cmd[4];
	size_t clen = jpki_apdu_verify_status(cmd, sizeof(cmd));
	uint16_t sw = 0;
	enum jpki_result rc = select_df(card, key_table[ki].df);

	if (rc == JPKI_OK)
		rc = select_ef(card, key_table[ki].pin_ef);
	if (rc == JPKI_OK)
		rc = command_no_data(card, cmd, clen, false, &sw);
	if (rc != JPKI_OK)
		return rc;
	struct jpki_sw_info info = jpki_sw_classify(sw);

	st->tries_left = -1;
	switch (info.cls) {
	case JPKI_SW_VERIFY_FAILED:
		if (info.detail == 0) {
			st->state = JPKI_PIN_BLOCKED;
		} else {
			st->state = JPKI_PIN_TRIES;
			st->tries_left = (int)info.detail;
		}
		return JPKI_OK;
	case JPKI_SW_BLOCKED:
		st->state = JPKI_PIN_BLOCKED;
		return JPKI_OK;
	case JPKI_SW_OK:
	case JPKI_SW_VERIFY_FAILED_NO_COUNT:
		st->state = JPKI_PIN_VERIFIED_OR_UNKNOWN;
		return JPKI_OK;
	default:
		return sw_failure(sw);
	}
}

enum jpki_result jpki_pin_status(struct jpki_card *card, enum jpki_key key,
				 struct jpki_pin_status *status)
{
	int ki = key_index(key);

	if (!card || !status || ki < 0)
		return JPKI_ERR_INVALID_ARGUMENT;
	return query_pin(card, ki, status);
}

/* Sends VERIFY with the (already validated) wire PIN and maps the answer. */
static enum jpki_result send_verify(struct jpki_card *card, const uint8_t *wire, size_t wire_len, int *tries)
{
	uint8_t cmd[5 + JPKI_SIGN_PW_MAX];
	size_t clen = jpki_apdu_verify(cmd, sizeof(cmd), wire, wire_len);
	uint16_t sw = 0;
	enum jpki_result rc;

	if (clen == 0)
		return JPKI_ERR_INVALID_ARGUMENT;
	rc = command_no_data(card, cmd, clen, true, &sw);
	explicit_bzero(cmd, sizeof(cmd));
	if (rc != JPKI_OK)
		return rc;
	struct jpki_sw_info info = jpki_sw_classify(sw);

	switch (info.cls) {
	case JPKI_SW_OK:
		return JPKI_OK;
	case JPKI_SW_VERIFY_FAILED:
		*tries = (int)info.detail;
		return info.detail ? JPKI_ERR_PIN_INCORRECT : JPKI_ERR_PIN_BLOCKED;
	case JPKI_SW_VERIFY_FAILED_NO_COUNT:
		return JPKI_ERR_PIN_INCORRECT;
	case JPKI_SW_BLOCKED:
		*tries = 0;
		return JPKI_ERR_PIN_BLOCKED;
	default:
		return sw_failure(sw);
	}
}

enum jpki_result jpki_verify(struct jpki_card *card, enum jpki_key key,
			     const uint8_t *pin, size_t pin_len, bool allow_last_try,
			     int *tries_left)
{
	uint8_t wire[JPKI_SIGN_PW_MAX];
	struct jpki_pin_status st;
	int ki = key_index(key), tries = -1;
	enum jpki_result rc;

	if (!card || ki < 0)
		rc = JPKI_ERR_INVALID_ARGUMENT;
	else
		rc = jpki_pin_format_check(key, pin, pin_len);
	if (rc != JPKI_OK)
		goto out;
	/* The card wants the sign password in upper case (jpki.md §7.12). */
	for (size_t i = 0; i < pin_len; i++)
		wire[i] = key == JPKI_KEY_SIGN ? to_upper(pin[i]) : pin[i];

	rc = query_pin(card, ki, &st);
	if (rc != JPKI_OK)
		goto wipe;
	tries = st.tries_left;
	if (st.state == JPKI_PIN_BLOCKED) {
		tries = 0;
		rc = JPKI_ERR_PIN_BLOCKED;
		goto wipe;
	}
	if (st.state == JPKI_PIN_TRIES && st.tries_left == 1 && !allow_last_try) {
		rc = JPKI_ERR_LAST_TRY_REFUSED;
		goto wipe;
	}
	tries = -1;
	rc = send_verify(card, wire, pin_len, &tries);
wipe:
	explicit_bzero(wire, sizeof(wire));
out:
	if (tries_left)
		*tries_left = tries;
	return rc;
}

/* ---- signing ----------------------------------------------------------- */

enum jpki_result jpki_sign(struct jpki_card *card, enum jpki_key key, enum jpki_hash hash,
			   const uint8_t *digest, size_t digest_len,
			   uint8_t *sig, size_t cap, size_t *sig_len)
{
	uint8_t digest_info[DIGESTINFO_PREFIX_LEN + JPKI_SHA512_LEN];
	uint8_t cmd[JPKI_APDU_SHORT_MAX];
	size_t di_len, clen, got = 0;
	int ki = key_index(key);
	uint16_t sw = 0;
	enum jpki_result rc;

	if (!card || ki < 0 || key_table[ki].key_ef == 0 || !sig || !sig_len)
		return JPKI_ERR_INVALID_ARGUMENT;
	*sig_len = 0;
	if (cap < JPKI_RSA_SIGNATURE_LEN)
		return JPKI_ERR_BUFFER_TOO_SMALL;
	di_len = jpki_digest_info(hash, digest, digest_len, digest_info, sizeof(digest_info));
	if (di_len == 0)
		return JPKI_ERR_INVALID_ARGUMENT;
	clen = jpki_apdu_compute_signature(cmd, sizeof(cmd), digest_info, di_len);
	if (clen == 0)
		return JPKI_ERR_INVALID_ARGUMENT;

	/* Cached: after jpki_verify() the JPKI AP is current and must stay so. */
	rc = select_df(card, key_table[ki].df);
	if (rc == JPKI_OK)
		rc = select_ef(card, key_table[ki].key_ef);
	if (rc == JPKI_OK)
		rc = exchange(card, cmd, clen, false, true, sig, JPKI_RSA_SIGNATURE_LEN, &got, &sw);
	if (rc != JPKI_OK)
		return rc;
	if (sw != SW_OK)
		return sw_failure(sw);
	if (got != JPKI_RSA_SIGNATURE_LEN)
		return JPKI_ERR_CARD_PROTOCOL;
	*sig_len = got;
	return JPKI_OK;
}

/* ---- card type --------------------------------------------------------- */

enum jpki_result jpki_read_card_type(struct jpki_card *card, enum jpki_card_type *type)
{
	uint8_t label[JPKI_TOKEN_LABEL_LEN];
	enum jpki_result rc;

	if (!card || !type)
		return JPKI_ERR_INVALID_ARGUMENT;
	rc = select_df(card, DF_JPKI);
	if (rc == JPKI_OK)
		rc = select_ef(card, JPKI_EF_TOKEN_INFO);
	if (rc == JPKI_OK)
		rc = read_range(card, 0, sizeof(label), ISO_SHORT_LE_MAX, false, label);
	if (rc != JPKI_OK)
		return rc;
	if (jpki_token_info_parse(label, sizeof(label), type, NULL) != 0)
		return JPKI_ERR_CARD_PROTOCOL;
	return JPKI_OK;
}

/* vcard.c — command processing of the virtual My Number card.
 *
 * Layout: an APDU parser (ISO 7816-3 cases 1-4, short and extended), one
 * handler per instruction, and helpers for the security state.  Every field
 * taken from the APDU is checked before use; every error path answers a
 * status word and leaves the card usable.
 */
#include "vcard-priv.h"

#include <onshi/jpki-const.h>

#include <string.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

/* ---- APDU parsing ------------------------------------------------------- */

struct capdu {
	uint8_t cla, ins, p1, p2;
	const uint8_t *data;
	size_t lc;
	size_t ne;          /* expected response length; 0 = no Le field */
	bool extended;
};

/* Splits a command APDU into its fields (ISO 7816-3 §12.1.3).  Returns
 * false for any encoding that is not one of the seven valid cases. */
static bool parse_capdu(const uint8_t *b, size_t len, struct capdu *c)
{
	memset(c, 0, sizeof *c);
	if (len < 4)
		return false;
	c->cla = b[0];
	c->ins = b[1];
	c->p1 = b[2];
	c->p2 = b[3];
	if (len == 4)
		return true;                                    /* case 1 */
	if (len == 5) {                                         /* case 2S */
		c->ne = b[4] ? b[4] : 256;
		return true;
	}
	if (b[4] != 0) {                                        /* case 3S / 4S */
		c->lc = b[4];
		c->data = b + 5;
		if (len == 5 + c->lc)
			return true;
		if (len == 6 + c->lc) {
			c->ne = b[len - 1] ? b[len - 1] : 256;
			return true;
		}
		return false;
	}
	c->extended = true;
	if (len < 7)            /* 00 then fewer than two length bytes */
		return false;
	if (len == 7) {                                         /* case 2E */
		size_t le = (size_t)b[5] << 8 | b[6];
		c->ne = le ? le : 65536;
		return true;
	}
	c->lc = (size_t)b[5] << 8 | b[6];
	if (c->lc == 0)
		return false;
	c->data = b + 7;
	if (len == 7 + c->lc)                                   /* case 3E */
		return true;
	if (len == 9 + c->lc) {                                 /* case 4E */
		size_t le = (size_t)b[len - 2] << 8 | b[len - 1];
		c->ne = le ? le : 65536;
		return true;
	}
	return false;
}

/* ---- responses -------------------------------------------------------- */

static size_t sw(uint8_t *rapdu, size_t data_len, uint16_t status)
{
	rapdu[data_len] = status >> 8;
	rapdu[data_len + 1] = status & 0xFF;
	return data_len + 2;
}

/* ---- security state ------------------------------------------------------ */

void vcard_clear_security_state(vcard *card)
{
	for (int k = 0; k < VCARD_KEY_COUNT; k++)
		card->keys[k].verified = false;
}

static bool verified(const vcard *card, enum vcard_key key)
{
	return card->keys[key].verified;
}

/* A data EF is open if it is free or any key in open_with is verified. */
static bool ef_readable(const vcard *card, const struct vcard_ef *ef)
{
	if (ef->open_with == 0)
		return true;
	for (int k = 0; k < VCARD_KEY_COUNT; k++)
		if ((ef->open_with & 1u << k) && verified(card, k))
			return true;
	return false;
}

/* Constant-time in the content: every byte of the stored secret is looked
 * at whatever the candidate holds.  Lengths are not secret (the APDU shows them). */
static bool secret_matches(const struct vcard_key_state *key, const uint8_t *candidate, size_t len)
{
	uint8_t diff = (uint8_t)(len != key->secret_len);
	for (size_t i = 0; i < key->secret_len; i++)
		diff |= key->secret[i] ^ (i < len ? candidate[i] : 0);
	return diff == 0;
}

/* ---- EF lookup ------------------------------------------------------------ */

static int find_ef(const vcard *card, enum vcard_ap ap, uint16_t fid)
{
	if (ap == VCARD_AP_NONE)
		return -1;
	for (size_t i = 0; i < card->n_efs; i++)
		if (card->efs[i].ap == ap && card->efs[i].fid == fid)
			return (int)i;
	return -1;
}

/* Resolves the key/EF a P2 names: 80 = the current EF, 80|SFI = the EF with
 * that short identifier (FIDs 0001-001E) in the current AP.  Returns the EF
 * index, -1 if none, -2 if P2 is malformed. */
static int ef_from_p2(const vcard *card, uint8_t p2)
{
	if ((p2 & ~SFI_MASK) != KEY_P2_SFI)
		return -2;
	if ((p2 & SFI_MASK) == 0)
		return card->current_ef;
	if ((p2 & SFI_MASK) == SFI_MASK)
		return -2;
	return find_ef(card, card->current_ap, p2 & SFI_MASK);
}

/* ---- SELECT -------------------------------------------------------------- */

struct aid_entry {
	uint8_t aid[JPKI_AID_LEN];
	size_t len;
	enum vcard_ap ap;
};

static const struct aid_entry known_aids[] = {
	{ JPKI_AID_JPKI, JPKI_AID_LEN, VCARD_AP_JPKI },
	{ JPKI_AID_TEXT, JPKI_AID_LEN, VCARD_AP_TEXT },
	{ JPKI_AID_VISUAL, JPKI_AID_LEN, VCARD_AP_VISUAL },
	{ JPKI_AID_COMMON, JPKI_AID_LEN, VCARD_AP_COMMON },
	{ JPKI_AID_ISD, JPKI_AID_ISD_LEN, VCARD_AP_NONE },
};

static uint16_t select_df_name(vcard *card, const struct capdu *c)
{
	for (size_t i = 0; i < sizeof known_aids / sizeof known_aids[0]; i++) {
		const struct aid_entry *e = &known_aids[i];
		if (c->lc == e->len && memcmp(c->data, e->aid, e->len) == 0) {
			/* Selecting an application (even the current one) resets
			 * the security state: OpenSC logs out this way. */
			vcard_clear_security_state(card);
			card->current_ap = e->ap;
			card->current_ef = -1;
			return SW_OK;
		}
	}
	return SW_FILE_NOT_FOUND;
}

static uint16_t select_ef_id(vcard *card, const struct capdu *c)
{
	if (c->lc != 2)
		return SW_WRONG_LENGTH;
	int ef = find_ef(card, card->current_ap, (uint16_t)(c->data[0] << 8 | c->data[1]));
	if (ef < 0)
		return SW_FILE_NOT_FOUND;
	card->current_ef = ef;
	return SW_OK;
}

/* SELECT MF: 6A86 at MF level, 9000 without effect inside an AP, 6A82 for
 * an explicit 3F00 (jpki.md §3.1; nothing under the MF is readable). */
static uint16_t select_mf(const vcard *card, const struct capdu *c)
{
	if (c->lc != 0)
		return SW_FILE_NOT_FOUND;
	return card->current_ap == VCARD_AP_NONE ? SW_INCORRECT_P1P2 : SW_OK;
}

static size_t cmd_select(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->p2 != SELECT_P2_NO_RESPONSE && c->p2 != SELECT_P2_FCI_OPTIONAL)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	switch (c->p1) {
	case SELECT_P1_DF_NAME:
		return sw(rapdu, 0, c->lc ? select_df_name(card, c) : SW_WRONG_LENGTH);
	case SELECT_P1_EF_ID:
		return sw(rapdu, 0, select_ef_id(card, c));
	case SELECT_P1_MF:
		return sw(rapdu, 0, select_mf(card, c));
	default:
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	}
}

/* ---- READ BINARY -------------------------------------------------------- */

static size_t cmd_read_binary(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->lc != 0 || c->ne == 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	size_t offset;
	int ef_index;
	if (c->p1 & READ_BINARY_P1_SFI) {
		/* 100x xxxx: b7-b6 must be 0, SFI 1-30; the offset is P2 only. */
		uint8_t sfi = c->p1 & SFI_MASK;
		if ((c->p1 & 0x60) || sfi == 0 || sfi == SFI_MASK)
			return sw(rapdu, 0, SW_INCORRECT_P1P2);
		ef_index = find_ef(card, card->current_ap, sfi);
		if (ef_index < 0)
			return sw(rapdu, 0, SW_FILE_NOT_FOUND);
		card->current_ef = ef_index;    /* READ by SFI selects the EF (ISO 7816-4) */
		offset = c->p2;
	} else {
		ef_index = card->current_ef;
		if (ef_index < 0)
			return sw(rapdu, 0, SW_COMMAND_NOT_ALLOWED_NO_EF);
		offset = (size_t)c->p1 << 8 | c->p2;
	}
	const struct vcard_ef *ef = &card->efs[ef_index];
	if (ef->kind != VCARD_EF_DATA)
		return sw(rapdu, 0, SW_INCOMPATIBLE_FILE);
	if (!ef_readable(card, ef))
		return sw(rapdu, 0, SW_SECURITY_NOT_SATISFIED);
	if (offset >= ef->len)
		return sw(rapdu, 0, SW_WRONG_P1P2);
	size_t left = ef->len - offset;
	size_t n = c->ne < left ? c->ne : left;
	memcpy(rapdu, ef->data + offset, n);
	/* Le = 00 / 0000 asks for "up to 256 / 65536": a short answer is normal.
	 * An explicit Le past the end gets the warning 6282. */
	bool le_is_max = c->ne == (c->extended ? 65536u : 256u);
	return sw(rapdu, n, n < c->ne && !le_is_max ? SW_END_OF_FILE_BEFORE_LE : SW_OK);
}

/* ---- VERIFY ----------------------------------------------------------- */

static uint16_t tries_sw(unsigned tries_left)
{
	return SW_VERIFY_FAILED_BASE | (tries_left & 0x0F);
}

static uint16_t verify_key(struct vcard_key_state *key, const struct capdu *c)
{
	if (c->lc == 0)         /* retry-counter query: costs nothing */
		return key->verified ? SW_OK : tries_sw(key->tries_left);
	if (key->tries_left == 0)
		return SW_REF_DATA_BLOCKED;
	if (c->lc < key->min_len || c->lc > key->max_len)
		return SW_WRONG_LENGTH;
	if (secret_matches(key, c->data, c->lc)) {
		key->tries_left = key->max_tries;
		key->verified = true;
		return SW_OK;
	}
	key->verified = false;
	key->tries_left--;
	return tries_sw(key->tries_left);
}

static size_t cmd_verify(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->ne != 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	if (c->p1 != 0x00)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	int ef = ef_from_p2(card, c->p2);
	if (ef == -2)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	if (ef < 0 || card->efs[ef].kind != VCARD_EF_PIN)
		return sw(rapdu, 0, SW_REF_DATA_NOT_FOUND);
	return sw(rapdu, 0, verify_key(&card->keys[card->efs[ef].key], c));
}

/* ---- COMPUTE DIGITAL SIGNATURE ------------------------------------------ */

/* RSA PKCS#1 v1.5 (block type 1) over `in` as given: the caller supplies
 * the DigestInfo, the card only pads and exponentiates. */
static size_t rsa_pkcs1_sign(EVP_PKEY *pkey, const uint8_t *in, size_t in_len, uint8_t *out)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);
	size_t out_len = 0;
	if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
	    EVP_PKEY_sign(ctx, NULL, &out_len, in, in_len) <= 0 || out_len > 512 ||
	    EVP_PKEY_sign(ctx, out, &out_len, in, in_len) <= 0)
		out_len = 0;
	EVP_PKEY_CTX_free(ctx);
	return out_len;
}

/* Builds what is signed for scheme P1 into buf: P1 00 signs the data as
 * given (a DigestInfo, 1-245 bytes for RSA-2048), P1 02 wraps a 32-byte
 * SHA-256 hash in its DigestInfo.  Returns the length or 0 (wrong length). */
static size_t signature_input(const struct capdu *c, uint8_t buf[256])
{
	static const uint8_t sha256_prefix[] = DIGESTINFO_SHA256_PREFIX;
	if (c->p1 == SIGN_P1_PKCS1_RAW) {
		if (c->lc == 0 || c->lc > 256 - 11)
			return 0;
		memcpy(buf, c->data, c->lc);
		return c->lc;
	}
	if (c->lc != 32)
		return 0;
	memcpy(buf, sha256_prefix, sizeof sha256_prefix);
	memcpy(buf + sizeof sha256_prefix, c->data, 32);
	return sizeof sha256_prefix + 32;
}

static size_t cmd_sign(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->p1 != SIGN_P1_PKCS1_RAW && c->p1 != SIGN_P1_DIGESTINFO_WRAP)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	int ef = ef_from_p2(card, c->p2);
	if (ef == -2)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	if (ef < 0 || card->efs[ef].kind != VCARD_EF_PRIVATE_KEY)
		return sw(rapdu, 0, SW_REF_DATA_NOT_FOUND);
	const struct vcard_ef *key = &card->efs[ef];
	if (!verified(card, key->key))
		return sw(rapdu, 0, SW_SECURITY_NOT_SATISFIED);
	if (c->lc == 0 || c->ne == 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	uint8_t input[256];
	size_t input_len = signature_input(c, input);
	if (input_len == 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	size_t sig_len = rsa_pkcs1_sign(key->pkey, input, input_len, rapdu);
	if (sig_len == 0)
		return sw(rapdu, 0, SW_UNKNOWN);
	if (c->ne < sig_len)    /* the whole signature or nothing */
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	return sw(rapdu, sig_len, SW_OK);
}

/* ---- GET CHALLENGE, GET DATA ------------------------------------------------ */

static size_t cmd_get_challenge(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->p1 != 0 || c->p2 != 0)
		return sw(rapdu, 0, SW_INCORRECT_P1P2);
	if (c->extended)        /* jpki.md §3.1: extended Le → 6985 */
		return sw(rapdu, 0, SW_CONDITIONS_NOT_SATISFIED);
	if (c->lc != 0 || c->ne == 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	if (RAND_bytes(rapdu, (int)c->ne) != 1)
		return sw(rapdu, 0, SW_UNKNOWN);
	return sw(rapdu, c->ne, SW_OK);
}

static size_t cmd_get_data(vcard *card, const struct capdu *c, uint8_t *rapdu)
{
	if (c->lc != 0 || c->ne == 0)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	if ((c->p1 << 8 | c->p2) != GET_DATA_TAG_CONTACT_ATR)
		return sw(rapdu, 0, SW_REF_DATA_NOT_FOUND);
	size_t n = card->atr_len - 1;   /* without TS */
	if (c->ne < n)
		return sw(rapdu, 0, SW_WRONG_LE_BASE | n);
	memcpy(rapdu, card->atr + 1, n);
	return sw(rapdu, n, SW_OK);
}

/* ---- dispatch ---------------------------------------------------------- */

/* Class byte: 00/80 plus a logical channel in b2-b1, or 40-7F (channels
 * 4-19).  Only channel 0 exists on this card (jpki.md pitfall 10). */
static uint16_t check_class(uint8_t cla)
{
	if ((cla & 0xE0) == 0x40)
		return SW_LOGICAL_CHANNEL_UNSUPPORTED;
	if ((cla & 0x7C) != 0)          /* secure messaging, chaining, other classes */
		return SW_CLA_NOT_SUPPORTED;
	if (cla & 0x03)
		return SW_LOGICAL_CHANNEL_UNSUPPORTED;
	return SW_OK;
}

typedef size_t (*cmd_handler)(vcard *card, const struct capdu *c, uint8_t *rapdu);

struct command {
	uint8_t cla;    /* without channel bits */
	uint8_t ins;
	cmd_handler handler;
};

static const struct command commands[] = {
	{ ISO_CLA, ISO_INS_SELECT, cmd_select },
	{ ISO_CLA, ISO_INS_READ_BINARY, cmd_read_binary },
	{ ISO_CLA, ISO_INS_VERIFY, cmd_verify },
	{ ISO_CLA, ISO_INS_GET_CHALLENGE, cmd_get_challenge },
	{ ISO_CLA, ISO_INS_GET_DATA, cmd_get_data },
	{ JPKI_CLA_PROPRIETARY, JPKI_INS_COMPUTE_SIGNATURE, cmd_sign },
};

size_t vcard_process(vcard *card, const uint8_t *capdu, size_t len, uint8_t *rapdu)
{
	struct capdu c;
	if (!parse_capdu(capdu, len, &c))
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	uint16_t class_status = check_class(c.cla);
	if (class_status != SW_OK)
		return sw(rapdu, 0, class_status);
	if (c.extended && !card->extended_length)
		return sw(rapdu, 0, SW_WRONG_LENGTH);
	bool ins_known = false;
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (commands[i].ins != c.ins)
			continue;
		ins_known = true;
		if (commands[i].cla == c.cla)
			return commands[i].handler(card, &c, rapdu);
	}
	return sw(rapdu, 0, ins_known ? SW_CLA_NOT_SUPPORTED : SW_INS_NOT_SUPPORTED);
}

/* ---- power and configuration ---------------------------------------------- */

static void write_atr(const vcard *card, uint8_t *atr, size_t *atr_len)
{
	memcpy(atr, card->atr, card->atr_len);
	*atr_len = card->atr_len;
}

void vcard_power_on(vcard *card, uint8_t *atr, size_t *atr_len)
{
	vcard_clear_security_state(card);
	card->current_ap = VCARD_AP_NONE;
	card->current_ef = -1;
	write_atr(card, atr, atr_len);
}

/* The card's RAM survives a warm reset (jpki.md pitfall 7): the verified
 * keys and the current AP/EF stay, so a client that skips SELECT can use a
 * key another client unlocked.  This is the hazard the daemon must handle. */
void vcard_warm_reset(vcard *card, uint8_t *atr, size_t *atr_len)
{
	write_atr(card, atr, atr_len);
}

void vcard_power_off(vcard *card)
{
	vcard_clear_security_state(card);
	card->current_ap = VCARD_AP_NONE;
	card->current_ef = -1;
}

void vcard_set_extended_length(vcard *card, bool enabled)
{
	card->extended_length = enabled;
}

unsigned vcard_tries_left(const vcard *card, enum vcard_key key)
{
	return (unsigned)key < VCARD_KEY_COUNT ? card->keys[key].tries_left : 0;
}

bool vcard_key_verified(const vcard *card, enum vcard_key key)
{
	return (unsigned)key < VCARD_KEY_COUNT && card->keys[key].verified;
}

void vcard_restore_retry_counters(vcard *card)
{
	for (int k = 0; k < VCARD_KEY_COUNT; k++)
		card->keys[k].tries_left = card->keys[k].max_tries;
}

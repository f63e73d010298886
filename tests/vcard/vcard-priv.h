/* vcard-priv.h — the virtual card's data model, shared by vcard.c (command
 * processing) and vcard-load.c (building the model from a card directory).
 * Not for use outside tests/vcard/.
 */
#ifndef ONSHI_VCARD_PRIV_H
#define ONSHI_VCARD_PRIV_H

#include "vcard.h"
#include <openssl/evp.h>

/* The applications the card answers SELECT for. */
enum vcard_ap {
	VCARD_AP_NONE,          /* MF level: after a cold reset or SELECT of the ISD */
	VCARD_AP_JPKI,
	VCARD_AP_TEXT,          /* 券面事項入力補助AP */
	VCARD_AP_VISUAL,        /* 券面事項確認AP */
	VCARD_AP_COMMON,        /* 共通AP: selectable, holds nothing we model */
};

enum vcard_ef_kind {
	VCARD_EF_DATA,          /* transparent EF, READ BINARY */
	VCARD_EF_PIN,           /* key EF checked by VERIFY */
	VCARD_EF_PRIVATE_KEY,   /* RSA key used by COMPUTE DIGITAL SIGNATURE */
};

/* Longest key value the card stores (the sign password). */
#define VCARD_SECRET_MAX 16
/* Largest transparent EF: READ BINARY offsets are 15 bits. */
#define VCARD_EF_MAX 0x7FFF
#define VCARD_MAX_EFS 24

struct vcard_ef {
	enum vcard_ap ap;
	uint16_t fid;
	enum vcard_ef_kind kind;
	uint8_t *data;          /* VCARD_EF_DATA */
	size_t len;
	/* VCARD_EF_DATA: bit (1u << key) set = that key being verified opens
	 * the EF; 0 = free.  VCARD_EF_PRIVATE_KEY: the one key needed. */
	unsigned open_with;
	enum vcard_key key;     /* VCARD_EF_PIN: the key; VCARD_EF_PRIVATE_KEY: the PIN needed */
	EVP_PKEY *pkey;         /* VCARD_EF_PRIVATE_KEY */
};

struct vcard_key_state {
	uint8_t secret[VCARD_SECRET_MAX];
	size_t secret_len;
	size_t min_len, max_len;    /* lengths the key's format allows */
	unsigned max_tries;
	unsigned tries_left;        /* 0 = blocked */
	bool verified;
};

struct vcard {
	struct vcard_key_state keys[VCARD_KEY_COUNT];
	struct vcard_ef efs[VCARD_MAX_EFS];
	size_t n_efs;
	enum vcard_ap current_ap;
	int current_ef;             /* index into efs, or -1 */
	bool extended_length;
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
};

/* Wipes the security state (verified flags) of every key. */
void vcard_clear_security_state(vcard *card);

#endif

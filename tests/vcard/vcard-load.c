/* vcard-load.c — builds the virtual card from a mkcard.sh directory.
 *
 * Every file is size-checked before use; card.conf values are checked
 * against the key formats of jpki.md §2 and §5.5 so a bad directory fails
 * at load time with a message that names the file and key (never a value).
 */
#include "vcard-priv.h"

#include <onshi/jpki-const.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/pem.h>

/* Contact ATR of a real card (jpki.md §4, OpenSC minidriver list):
 * TA1 13, TC1 FF, T=1 with TA3 = IFSC 251 and TB3 = BWI 4 / CWI 6, ten
 * historical bytes, TCK 3B (XOR of T0..the last historical byte). */
static const uint8_t contact_atr[] = {
	0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
	0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B,
};

static void set_error(char **error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_error(char **error, const char *fmt, ...)
{
	va_list ap;
	if (!error)
		return;
	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
}

static char *path_join(const char *dir, const char *name)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		return NULL;
	return path;
}

/* Reads DIR/NAME whole; at most max bytes.  0, or -1 + *error. */
static int read_whole(const char *dir, const char *name, size_t max,
		      uint8_t **data, size_t *len, char **error)
{
	char *path = path_join(dir, name);
	if (!path) {
		set_error(error, "out of memory");
		return -1;
	}
	FILE *f = fopen(path, "rb");
	if (!f) {
		set_error(error, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	uint8_t *buf = malloc(max + 1);
	size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
	bool failed = !buf || ferror(f);
	fclose(f);
	if (failed || n == 0 || n > max) {
		set_error(error, "%s: %s", path, !buf ? "out of memory" :
			  failed ? "read error" : n == 0 ? "empty" : "too large for an EF");
		free(buf);
		free(path);
		return -1;
	}
	free(path);
	*data = buf;
	*len = n;
	return 0;
}

static bool file_exists(const char *dir, const char *name)
{
	char *path = path_join(dir, name);
	bool exists = path && access(path, F_OK) == 0;
	free(path);
	return exists;
}

static EVP_PKEY *read_rsa_key(const char *dir, const char *name, char **error)
{
	char *path = path_join(dir, name);
	FILE *f = path ? fopen(path, "r") : NULL;
	EVP_PKEY *pkey = f ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;
	if (f)
		fclose(f);
	if (!pkey || EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pkey) != 2048) {
		set_error(error, "%s: not a readable RSA-2048 private key", path ? path : name);
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	free(path);
	return pkey;
}

/* ---- card.conf -------------------------------------------------------- */

struct key_format {
	const char *conf_name;
	size_t min_len, max_len;
	const char *charset;
	unsigned tries;
};

/* Indexed by enum vcard_key.  照合番号A's limit is not published (jpki.md
 * §5.4); 3 is what other tools assume. */
static const struct key_format key_formats[VCARD_KEY_COUNT] = {
	[VCARD_KEY_AUTH_PIN]   = { "auth_pin", JPKI_AUTH_PIN_LEN, JPKI_AUTH_PIN_LEN, "0123456789", JPKI_AUTH_PIN_TRIES },
	[VCARD_KEY_SIGN_PW]    = { "sign_pw", JPKI_SIGN_PW_MIN, JPKI_SIGN_PW_MAX,
				   "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", JPKI_SIGN_PW_TRIES },
	[VCARD_KEY_TEXT_PIN]   = { "text_pin", 4, 4, "0123456789", TEXT_PIN_TRIES },
	[VCARD_KEY_TEXT_A]     = { "my_number", COLLATION_A_LEN, COLLATION_A_LEN, "0123456789", COLLATION_A_TRIES },
	[VCARD_KEY_TEXT_B]     = { "collation_b", COLLATION_B_LEN, COLLATION_B_LEN, "0123456789", COLLATION_B_TRIES },
	[VCARD_KEY_VISUAL_B]   = { "collation_b", COLLATION_B_LEN, COLLATION_B_LEN, "0123456789", COLLATION_B_TRIES },
	[VCARD_KEY_VISUAL_A]   = { "my_number", COLLATION_A_LEN, COLLATION_A_LEN, "0123456789", COLLATION_A_TRIES },
};

static bool value_has_format(const char *value, const struct key_format *fmt)
{
	size_t n = strlen(value);
	return n >= fmt->min_len && n <= fmt->max_len && strspn(value, fmt->charset) == n;
}

/* Applies one card.conf line to the card; unknown keys are informational. */
static int apply_conf_line(vcard *card, char *line, bool *sign_cert, char **error)
{
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0] == '#' || line[0] == '\0')
		return 0;
	char *eq = strchr(line, '=');
	if (!eq) {
		set_error(error, "card.conf: line without '='");
		return -1;
	}
	*eq = '\0';
	const char *name = line, *value = eq + 1;
	if (strcmp(name, "sign_cert") == 0) {
		*sign_cert = strcmp(value, "no") != 0;
		return 0;
	}
	for (int k = 0; k < VCARD_KEY_COUNT; k++) {
		const struct key_format *fmt = &key_formats[k];
		if (strcmp(name, fmt->conf_name) != 0)
			continue;
		if (!value_has_format(value, fmt)) {
			set_error(error, "card.conf: %s has the wrong format", name);
			return -1;
		}
		struct vcard_key_state *key = &card->keys[k];
		key->secret_len = strlen(value);
		memcpy(key->secret, value, key->secret_len);
	}
	return 0;
}

static int load_conf(vcard *card, const char *dir, bool *sign_cert, char **error)
{
	char *path = path_join(dir, "card.conf");
	FILE *f = path ? fopen(path, "r") : NULL;
	if (!f) {
		set_error(error, "%s: %s", path ? path : "card.conf", strerror(errno));
		free(path);
		return -1;
	}
	free(path);
	char line[512];
	int rc = 0;
	*sign_cert = true;
	while (rc == 0 && fgets(line, sizeof line, f))
		rc = apply_conf_line(card, line, sign_cert, error);
	explicit_bzero(line, sizeof line);
	fclose(f);
	for (int k = 0; rc == 0 && k < VCARD_KEY_COUNT; k++) {
		if (card->keys[k].secret_len == 0) {
			set_error(error, "card.conf: %s missing", key_formats[k].conf_name);
			rc = -1;
		}
	}
	return rc;
}

/* ---- EFs ---------------------------------------------------------------- */

static struct vcard_ef *add_ef(vcard *card, enum vcard_ap ap, uint16_t fid, enum vcard_ef_kind kind)
{
	if (card->n_efs >= VCARD_MAX_EFS)
		abort();        /* a programming error in the tables below */
	struct vcard_ef *ef = &card->efs[card->n_efs++];
	ef->ap = ap;
	ef->fid = fid;
	ef->kind = kind;
	return ef;
}

static int add_file_ef(vcard *card, enum vcard_ap ap, uint16_t fid, unsigned open_with,
		       const char *dir, const char *name, char **error)
{
	struct vcard_ef *ef = add_ef(card, ap, fid, VCARD_EF_DATA);
	ef->open_with = open_with;
	return read_whole(dir, name, VCARD_EF_MAX, &ef->data, &ef->len, error);
}

static int add_bytes_ef(vcard *card, enum vcard_ap ap, uint16_t fid, const uint8_t *bytes, size_t len)
{
	struct vcard_ef *ef = add_ef(card, ap, fid, VCARD_EF_DATA);
	ef->data = malloc(len);
	if (!ef->data)
		return -1;
	memcpy(ef->data, bytes, len);
	ef->len = len;
	return 0;
}

static void add_pin_ef(vcard *card, enum vcard_ap ap, uint16_t fid, enum vcard_key key)
{
	add_ef(card, ap, fid, VCARD_EF_PIN)->key = key;
}

static int add_key_ef(vcard *card, uint16_t fid, enum vcard_key needs,
		      const char *dir, const char *name, char **error)
{
	struct vcard_ef *ef = add_ef(card, VCARD_AP_JPKI, fid, VCARD_EF_PRIVATE_KEY);
	ef->key = needs;
	ef->pkey = read_rsa_key(dir, name, error);
	return ef->pkey ? 0 : -1;
}

static void put_padded(uint8_t *dst, size_t width, const char *text)
{
	memset(dst, ' ', width);
	memcpy(dst, text, strnlen(text, width));
}

static void put_u32be(uint8_t *dst, uint32_t v)
{
	dst[0] = v >> 24;
	dst[1] = v >> 16;
	dst[2] = v >> 8;
	dst[3] = v;
}

/* EF 0006: a CK_TOKEN_INFO with 32-bit big-endian CK_ULONGs (jpki.md §2.1). */
static void build_token_info(uint8_t info[JPKI_TOKEN_INFO_LEN])
{
	memset(info, 0, JPKI_TOKEN_INFO_LEN);
	put_padded(info, 32, JPKI_TOKEN_LABEL_CARD);             /* label */
	put_padded(info + 32, 32, "onshi test bench (not J-LIS)");   /* manufacturerID */
	put_padded(info + 64, 16, "vcard");                          /* model */
	put_padded(info + 80, 16, "0000000000000001");               /* serialNumber */
	/* flags, session counts: 0.  ulMaxPinLen / ulMinPinLen: */
	put_u32be(info + 96 + 5 * 4, JPKI_SIGN_PW_MAX);
	put_u32be(info + 96 + 6 * 4, JPKI_AUTH_PIN_LEN);
	put_padded(info + 144, 16, "");                              /* utcTime */
}

static int load_jpki_ap(vcard *card, const char *dir, bool sign_cert, char **error)
{
	const unsigned sign_pw = 1u << VCARD_KEY_SIGN_PW;
	uint8_t token_info[JPKI_TOKEN_INFO_LEN];
	const uint8_t presence_both[] = JPKI_CERT_PRESENCE_BOTH;
	const uint8_t presence_auth[] = JPKI_CERT_PRESENCE_AUTH_ONLY;

	build_token_info(token_info);
	if (sign_cert && add_file_ef(card, VCARD_AP_JPKI, JPKI_EF_SIGN_CERT, sign_pw, dir, "sign.der", error))
		return -1;
	if (add_file_ef(card, VCARD_AP_JPKI, JPKI_EF_SIGN_CA_CERT, 0, dir, "sign-ca.der", error) ||
	    add_file_ef(card, VCARD_AP_JPKI, JPKI_EF_AUTH_CERT, 0, dir, "auth.der", error) ||
	    add_file_ef(card, VCARD_AP_JPKI, JPKI_EF_AUTH_CA_CERT, 0, dir, "auth-ca.der", error))
		return -1;
	if (add_bytes_ef(card, VCARD_AP_JPKI, JPKI_EF_TOKEN_INFO, token_info, sizeof token_info) ||
	    add_bytes_ef(card, VCARD_AP_JPKI, JPKI_EF_CERT_PRESENCE,
			 sign_cert ? presence_both : presence_auth, sizeof presence_both)) {
		set_error(error, "out of memory");
		return -1;
	}
	add_pin_ef(card, VCARD_AP_JPKI, JPKI_EF_AUTH_PIN, VCARD_KEY_AUTH_PIN);
	add_pin_ef(card, VCARD_AP_JPKI, JPKI_EF_SIGN_PIN, VCARD_KEY_SIGN_PW);
	if (add_key_ef(card, JPKI_EF_AUTH_KEY, VCARD_KEY_AUTH_PIN, dir, "auth.key.pem", error))
		return -1;
	if (sign_cert && add_key_ef(card, JPKI_EF_SIGN_KEY, VCARD_KEY_SIGN_PW, dir, "sign.key.pem", error))
		return -1;
	return 0;
}

static int load_text_ap(vcard *card, const char *dir, char **error)
{
	const unsigned pin = 1u << VCARD_KEY_TEXT_PIN;
	if (add_file_ef(card, VCARD_AP_TEXT, TEXT_EF_MY_NUMBER, pin | 1u << VCARD_KEY_TEXT_A,
			dir, "my-number.bin", error) ||
	    add_file_ef(card, VCARD_AP_TEXT, TEXT_EF_ATTRIBUTES, pin | 1u << VCARD_KEY_TEXT_B,
			dir, "attributes.bin", error))
		return -1;
	add_pin_ef(card, VCARD_AP_TEXT, TEXT_EF_PIN, VCARD_KEY_TEXT_PIN);
	add_pin_ef(card, VCARD_AP_TEXT, TEXT_EF_COLLATION_A, VCARD_KEY_TEXT_A);
	add_pin_ef(card, VCARD_AP_TEXT, TEXT_EF_COLLATION_B, VCARD_KEY_TEXT_B);
	return 0;
}

static int load_visual_ap(vcard *card, const char *dir, char **error)
{
	if (add_file_ef(card, VCARD_AP_VISUAL, VISUAL_EF_FACE,
			1u << VCARD_KEY_VISUAL_A | 1u << VCARD_KEY_VISUAL_B, dir, "card-face.bin", error))
		return -1;
	add_pin_ef(card, VCARD_AP_VISUAL, VISUAL_EF_COLLATION_B, VCARD_KEY_VISUAL_B);
	add_pin_ef(card, VCARD_AP_VISUAL, VISUAL_EF_COLLATION_A, VCARD_KEY_VISUAL_A);
	return 0;
}

/* card.conf and the files must agree on whether there is a sign cert. */
static int check_sign_cert_files(const char *dir, bool sign_cert, char **error)
{
	if (sign_cert != file_exists(dir, "sign.der")) {
		set_error(error, "%s: card.conf sign_cert=%s but sign.der is %s", dir,
			  sign_cert ? "yes" : "no", sign_cert ? "missing" : "present");
		return -1;
	}
	return 0;
}

static void init_keys(vcard *card)
{
	for (int k = 0; k < VCARD_KEY_COUNT; k++) {
		struct vcard_key_state *key = &card->keys[k];
		key->min_len = key_formats[k].min_len;
		key->max_len = key_formats[k].max_len;
		key->max_tries = key->tries_left = key_formats[k].tries;
	}
}

vcard *vcard_load(const char *dir, char **error)
{
	if (error)
		*error = NULL;
	vcard *card = calloc(1, sizeof *card);
	if (!card) {
		set_error(error, "out of memory");
		return NULL;
	}
	card->current_ef = -1;
	card->extended_length = true;
	memcpy(card->atr, contact_atr, sizeof contact_atr);
	card->atr_len = sizeof contact_atr;
	init_keys(card);

	bool sign_cert = true;
	if (load_conf(card, dir, &sign_cert, error) ||
	    check_sign_cert_files(dir, sign_cert, error) ||
	    load_jpki_ap(card, dir, sign_cert, error) ||
	    load_text_ap(card, dir, error) ||
	    load_visual_ap(card, dir, error)) {
		vcard_free(card);
		return NULL;
	}
	return card;
}

void vcard_free(vcard *card)
{
	if (!card)
		return;
	for (size_t i = 0; i < card->n_efs; i++) {
		free(card->efs[i].data);
		EVP_PKEY_free(card->efs[i].pkey);
	}
	explicit_bzero(card->keys, sizeof card->keys);
	free(card);
}

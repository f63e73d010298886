/* x509-info.c — certificate facts and chain checks with libcrypto; see x509-info.h. */
#include <dirent.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <onshi/jpki-const.h>

#include "x509-info.h"

#define SERIAL_BYTES_MAX      64
#define ANCHOR_FILES_MAX      256
#define ANCHOR_FILE_SIZE_MAX  (1024 * 1024)
#define JPKI_OID_BASIC4_ARC   "1.2.392.200149.8.5.5."
#define JPKI_SIGN_CA_OU       "JPKI for digital signature"

/* DER -> X509, rejecting trailing bytes (a card EF read must be exact). */
static X509 *x509_from_der(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x;

	if (!der || len == 0 || len > LONG_MAX)
		return NULL;
	x = d2i_X509(NULL, &p, (long)len);
	if (x && p != der + len) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int serial_to_hex(const ASN1_INTEGER *serial, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	uint8_t bytes[SERIAL_BYTES_MAX];
	BIGNUM *bn = ASN1_INTEGER_to_BN(serial, NULL);
	int n, rc = -1;
	size_t o = 0;

	if (!bn)
		return -1;
	n = BN_num_bytes(bn);
	if (n < 0 || n > SERIAL_BYTES_MAX || cap < (size_t)n * 2 + 4)
		goto done;
	BN_bn2bin(bn, bytes);
	if (BN_is_negative(bn))
		out[o++] = '-';
	if (n == 0) {
		out[o++] = '0';
		out[o++] = '0';
	}
	for (int i = 0; i < n; i++) {
		out[o++] = hex[bytes[i] >> 4];
		out[o++] = hex[bytes[i] & 0x0F];
	}
	out[o] = '\0';
	rc = 0;
done:
	BN_free(bn);
	return rc;
}

static char *name_to_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL, *out = NULL;
	long len;

	if (!bio)
		return NULL;
	/* RFC 2253 layout, but keep UTF-8 bytes instead of \XX escapes. */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
		len = BIO_get_mem_data(bio, &data);
		if (len >= 0)
			out = strndup(data ? data : "", (size_t)len);
	}
	BIO_free(bio);
	return out;
}

static int time_to_unix(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = (int64_t)timegm(&tm);
	return 0;
}

static void key_facts(X509 *x, struct x509_info *info)
{
	EVP_PKEY *pkey = X509_get0_pubkey(x);
	const char *type = "unknown";

	if (!pkey)
		return;
	info->key_bits = EVP_PKEY_get_bits(pkey);
	switch (EVP_PKEY_get_base_id(pkey)) {
	case EVP_PKEY_RSA:     type = "RSA"; break;
	case EVP_PKEY_EC:      type = "EC"; break;
	case EVP_PKEY_ED25519: type = "ED25519"; break;
	default: {
		const char *sn = OBJ_nid2sn(EVP_PKEY_get_base_id(pkey));

		if (sn)
			type = sn;
	}
	}
	snprintf(info->key_type, sizeof(info->key_type), "%s", type);
}

int x509_info_parse(const uint8_t *der, size_t len, struct x509_info *info)
{
	X509 *x;

	if (!info)
		return -1;
	memset(info, 0, sizeof(*info));
	x = x509_from_der(der, len);
	if (!x)
		return -1;
	info->subject = name_to_string(X509_get_subject_name(x));
	info->issuer = name_to_string(X509_get_issuer_name(x));
	if (!info->subject || !info->issuer ||
	    serial_to_hex(X509_get0_serialNumber(x), info->serial_hex, sizeof(info->serial_hex)) != 0 ||
	    time_to_unix(X509_get0_notBefore(x), &info->not_before) != 0 ||
	    time_to_unix(X509_get0_notAfter(x), &info->not_after) != 0) {
		X509_free(x);
		x509_info_clear(info);
		return -1;
	}
	key_facts(x, info);
	X509_free(x);
	return 0;
}

static void free_wiped_string(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void x509_info_clear(struct x509_info *info)
{
	if (!info)
		return;
	free_wiped_string(info->subject);
	free_wiped_string(info->issuer);
	explicit_bzero(info, sizeof(*info));
}

/* libcrypto hands frees no size: malloc_usable_size (glibc, and ASan's
 * allocator) gives the whole block. */
static void wiping_free(void *p, const char *file, int line)
{
	(void)file;
	(void)line;
	if (p) {
		explicit_bzero(p, malloc_usable_size(p));
		free(p);
	}
}

static void *plain_malloc(size_t n, const char *file, int line)
{
	(void)file;
	(void)line;
	return malloc(n);
}

/* Never realloc in place: the old block could move and stay unwiped. */
static void *wiping_realloc(void *p, size_t n, const char *file, int line)
{
	if (!p)
		return malloc(n);
	if (n == 0) {
		wiping_free(p, file, line);
		return NULL;
	}
	void *q = malloc(n);
	if (!q)
		return NULL;
	size_t old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wiping_free(p, file, line);
	return q;
}

int x509_wipe_freed_memory(void)
{
	return CRYPTO_set_mem_functions(plain_malloc, wiping_realloc, wiping_free) ? 0 : -1;
}

static void set_reason(char *reason, size_t cap, const char *text)
{
	if (reason && cap)
		snprintf(reason, cap, "%s", text);
}

/* Adds every certificate in one file (PEM bundle or single DER). */
static int add_anchor_file(X509_STORE *store, const char *path)
{
	BIO *bio = BIO_new_file(path, "rb");
	X509 *x;
	int added = 0;

	if (!bio)
		return 0;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			added++;
		X509_free(x);
	}
	if (added == 0 && BIO_reset(bio) == 0) {
		x = d2i_X509_bio(bio, NULL);
		if (x && X509_STORE_add_cert(store, x) == 1)
			added++;
		X509_free(x);
	}
	BIO_free(bio);
	return added;
}

static int add_anchor_dir(X509_STORE *store, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int files = 0, added = 0;

	if (!d)
		return 0;
	while ((de = readdir(d)) != NULL && files < ANCHOR_FILES_MAX) {
		char path[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > ANCHOR_FILE_SIZE_MAX)
			continue;
		files++;
		added += add_anchor_file(store, path);
	}
	closedir(d);
	/* Parsing failures above leave entries on the error queue; they are
	 * expected (non-certificate files) and must not leak into later calls. */
	ERR_clear_error();
	return added;
}

bool x509_chain_valid(const uint8_t *leaf_der, size_t leaf_len,
		      const uint8_t *ca_der, size_t ca_len,
		      const char *anchor_dir, int64_t at_time,
		      char *reason, size_t reason_cap)
{
	X509 *leaf = x509_from_der(leaf_der, leaf_len);
	X509 *ca = x509_from_der(ca_der, ca_len);
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	bool ok = false;

	if (!leaf || !ca) {
		set_reason(reason, reason_cap, !leaf ? "leaf certificate does not parse"
						     : "CA certificate does not parse");
		goto done;
	}
	if (!store || !ctx || !untrusted) {
		set_reason(reason, reason_cap, "out of memory");
		goto done;
	}
	if (!anchor_dir) {
		if (X509_STORE_add_cert(store, ca) != 1) {
			set_reason(reason, reason_cap, "cannot use the CA certificate");
			goto done;
		}
	} else {
		if (add_anchor_dir(store, anchor_dir) == 0) {
			set_reason(reason, reason_cap, "no trust anchors found in the anchor directory");
			goto done;
		}
		if (!sk_X509_push(untrusted, ca)) {
			set_reason(reason, reason_cap, "out of memory");
			goto done;
		}
		X509_up_ref(ca);
	}
	if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1) {
		set_reason(reason, reason_cap, "cannot initialise verification");
		goto done;
	}
	X509_STORE_CTX_set_time(ctx, 0, (time_t)at_time);
	ok = X509_verify_cert(ctx) == 1;
	set_reason(reason, reason_cap,
		   ok ? "ok" : X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
done:
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	X509_free(leaf);
	ERR_clear_error();
	return ok;
}

bool x509_verify_pkcs1_sha256(const uint8_t *cert_der, size_t cert_len,
			      const uint8_t *data, size_t data_len,
			      const uint8_t *sig, size_t sig_len)
{
	X509 *x = x509_from_der(cert_der, cert_len);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY *pkey = x ? X509_get0_pubkey(x) : NULL;
	bool ok = false;

	if (pkey && md && sig && data && EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
	    EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1)
		ok = EVP_DigestVerify(md, sig, sig_len, data, data_len) == 1;
	EVP_MD_CTX_free(md);
	X509_free(x);
	ERR_clear_error();
	return ok;
}

static bool san_has_basic4(X509 *x, bool *unsure)
{
	int crit = -1;
	GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	bool found = false;

	if (!names) {
		/* crit >= 0: present but undecodable; -2: duplicated extension. */
		*unsure = crit != -1;
		return false;
	}
	for (int i = 0; i < sk_GENERAL_NAME_num(names) && !found; i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		char oid[80];

		if (gn->type != GEN_OTHERNAME || !gn->d.otherName)
			continue;
		if (OBJ_obj2txt(oid, sizeof(oid), gn->d.otherName->type_id, 1) > 0 &&
		    strncmp(oid, JPKI_OID_BASIC4_ARC, strlen(JPKI_OID_BASIC4_ARC)) == 0)
			found = true;
	}
	GENERAL_NAMES_free(names);
	return found;
}

static bool issuer_is_sign_ca(X509 *x)
{
	const X509_NAME *issuer = X509_get_issuer_name(x);
	int pos = -1;

	while ((pos = X509_NAME_get_index_by_NID(issuer, NID_organizationalUnitName, pos)) >= 0) {
		const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(issuer, pos));
		size_t want = strlen(JPKI_SIGN_CA_OU);

		if (s && (size_t)ASN1_STRING_length(s) == want &&
		    memcmp(ASN1_STRING_get0_data(s), JPKI_SIGN_CA_OU, want) == 0)
			return true;
	}
	return false;
}

bool x509_is_sign_cert(const uint8_t *der, size_t len)
{
	X509 *x = x509_from_der(der, len);
	bool unsure = false, sign;

	if (!x) {
		ERR_clear_error();
		return true;
	}
	sign = san_has_basic4(x, &unsure) || unsure || issuer_is_sign_ca(x);
	X509_free(x);
	ERR_clear_error();
	return sign;
}

/* test-x509-info.c — certificate facts, chain checks and signatures, on
 * certificates generated here with libcrypto (RSA-2048 CA + leaf, a foreign
 * CA, a sign-style leaf with 基本4情報 subjectAltName). */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "x509-info.h"

#define T_NOT_BEFORE 1700000000   /* 2023-11-14 */
#define T_NOT_AFTER  1900000000   /* 2030-03-17 */
#define T_INSIDE     1800000000

struct der {
	uint8_t *p;
	int len;
};

struct pki {
	EVP_PKEY *ca_key, *foreign_key, *leaf_key;
	X509 *ca, *foreign, *sign_ca;
	struct der ca_der, foreign_der, leaf_der, foreign_leaf_der, sign_leaf_der, utf8_der;
};

static struct pki pki;

static void add_name(X509_NAME *n, const char *field, const char *value)
{
	ck_assert_int_eq(X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8, (const unsigned char *)value,
						    -1, -1, 0), 1);
}

static void add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(cert, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* subject: list of field,value pairs in encoding order (C first). */
static X509 *make_cert(EVP_PKEY *key, EVP_PKEY *signer, X509 *issuer, const char *const *subject,
		       const char *serial_hex, bool is_ca)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = NULL;

	ck_assert_int_eq(X509_set_version(x, 2), 1);
	ck_assert_int_gt(BN_hex2bn(&bn, serial_hex), 0);
	ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
	BN_free(bn);
	for (size_t i = 0; subject[i]; i += 2)
		add_name(name, subject[i], subject[i + 1]);
	ck_assert_int_eq(X509_set_subject_name(x, name), 1);
	ck_assert_int_eq(X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name), 1);
	X509_NAME_free(name);
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notBefore(x), T_NOT_BEFORE));
	ck_assert_ptr_nonnull(ASN1_TIME_set(X509_getm_notAfter(x), T_NOT_AFTER));
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	if (is_ca) {
		add_ext(x, issuer ? issuer : x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, issuer ? issuer : x, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		add_ext(x, issuer, NID_key_usage, "critical,digitalSignature");
	}
	(void)signer;
	return x;
}

static void sign_cert(X509 *x, EVP_PKEY *signer)
{
	ck_assert_int_gt(X509_sign(x, signer, EVP_sha256()), 0);
}

static struct der to_der(X509 *x)
{
	struct der d = { NULL, 0 };

	d.len = i2d_X509(x, &d.p);
	ck_assert_int_gt(d.len, 0);
	return d;
}

static void make_pki(void)
{
	static const char *const ca_subject[] = { "C", "JP", "O", "JPKI", "OU", "JPKI for user authentication",
						  "CN", "Test Auth CA", NULL };
	static const char *const sign_ca_subject[] = { "C", "JP", "O", "JPKI", "OU", "JPKI for digital signature",
						       "CN", "Test Sign CA", NULL };
	static const char *const foreign_subject[] = { "C", "JP", "O", "Elsewhere", "CN", "Foreign CA", NULL };
	static const char *const leaf_subject[] = { "C", "JP", "CN", "AB12CD34EF56GH78IJ90", NULL };
	static const char *const utf8_subject[] = { "C", "JP", "CN", "山田 太郎", NULL };
	X509 *leaf;

	pki.ca_key = EVP_RSA_gen(2048);
	pki.foreign_key = EVP_RSA_gen(2048);
	pki.leaf_key = EVP_RSA_gen(2048);
	ck_assert(pki.ca_key && pki.foreign_key && pki.leaf_key);

	pki.ca = make_cert(pki.ca_key, pki.ca_key, NULL, ca_subject, "01", true);
	sign_cert(pki.ca, pki.ca_key);
	pki.ca_der = to_der(pki.ca);
	pki.foreign = make_cert(pki.foreign_key, pki.foreign_key, NULL, foreign_subject, "01", true);
	sign_cert(pki.foreign, pki.foreign_key);
	pki.foreign_der = to_der(pki.foreign);
	/* The sign CA shares the auth CA's key: only its name matters here. */
	pki.sign_ca = make_cert(pki.ca_key, pki.ca_key, NULL, sign_ca_subject, "02", true);
	sign_cert(pki.sign_ca, pki.ca_key);

	/* Serial 0x00FF... in DER gets a sign byte; the hex must not show it. */
	leaf = make_cert(pki.leaf_key, pki.ca_key, pki.ca, leaf_subject, "FF0A1B2C3D", false);
	sign_cert(leaf, pki.ca_key);
	pki.leaf_der = to_der(leaf);
	X509_free(leaf);

	leaf = make_cert(pki.leaf_key, pki.foreign_key, pki.foreign, leaf_subject, "0A", false);
	sign_cert(leaf, pki.foreign_key);
	pki.foreign_leaf_der = to_der(leaf);
	X509_free(leaf);

	leaf = make_cert(pki.leaf_key, pki.ca_key, pki.sign_ca, utf8_subject, "0", false);
	sign_cert(leaf, pki.ca_key);
	pki.utf8_der = to_der(leaf);
	X509_free(leaf);

	/* Sign-style leaf under the *auth* CA name, detected by its SAN alone. */
	leaf = make_cert(pki.leaf_key, pki.ca_key, pki.ca, leaf_subject, "1234", false);
	add_ext(leaf, pki.ca, NID_subject_alt_name, "otherName:1.2.392.200149.8.5.5.1;UTF8:YAMADA TARO");
	sign_cert(leaf, pki.ca_key);
	pki.sign_leaf_der = to_der(leaf);
	X509_free(leaf);
}

static void setup(void)
{
	if (!pki.ca)
		make_pki();
}

START_TEST(info_of_leaf)
{
	struct x509_info info;

	ck_assert_int_eq(x509_info_parse(pki.leaf_der.p, (size_t)pki.leaf_der.len, &info), 0);
	ck_assert_str_eq(info.serial_hex, "FF0A1B2C3D");
	ck_assert_str_eq(info.subject, "CN=AB12CD34EF56GH78IJ90,C=JP");
	ck_assert_str_eq(info.issuer, "CN=Test Auth CA,OU=JPKI for user authentication,O=JPKI,C=JP");
	ck_assert_int_eq(info.not_before, T_NOT_BEFORE);
	ck_assert_int_eq(info.not_after, T_NOT_AFTER);
	ck_assert_int_eq(info.key_bits, 2048);
	ck_assert_str_eq(info.key_type, "RSA");
	x509_info_clear(&info);
	ck_assert_ptr_null(info.subject);
}
END_TEST

START_TEST(info_serial_and_utf8)
{
	struct x509_info info;

	ck_assert_int_eq(x509_info_parse(pki.foreign_leaf_der.p, (size_t)pki.foreign_leaf_der.len, &info), 0);
	ck_assert_str_eq(info.serial_hex, "0A");
	x509_info_clear(&info);
	ck_assert_int_eq(x509_info_parse(pki.utf8_der.p, (size_t)pki.utf8_der.len, &info), 0);
	ck_assert_str_eq(info.serial_hex, "00");
	ck_assert_str_eq(info.subject, "CN=山田 太郎,C=JP");   /* UTF-8 kept, not \-escaped */
	x509_info_clear(&info);
}
END_TEST

START_TEST(info_rejects_garbage)
{
	struct x509_info info;
	uint8_t *buf = malloc((size_t)pki.leaf_der.len + 1);

	memcpy(buf, pki.leaf_der.p, (size_t)pki.leaf_der.len);
	buf[pki.leaf_der.len] = 0x00;
	ck_assert_int_eq(x509_info_parse(buf, (size_t)pki.leaf_der.len + 1, &info), -1);  /* trailing byte */
	ck_assert_int_eq(x509_info_parse(buf, (size_t)pki.leaf_der.len - 1, &info), -1);  /* truncated */
	ck_assert_int_eq(x509_info_parse(buf, 4, &info), -1);
	ck_assert_int_eq(x509_info_parse(NULL, 0, &info), -1);
	memset(buf, 0xA5, (size_t)pki.leaf_der.len);
	ck_assert_int_eq(x509_info_parse(buf, (size_t)pki.leaf_der.len, &info), -1);
	ck_assert_ptr_null(info.subject);
	free(buf);
}
END_TEST

START_TEST(chain_with_card_ca)
{
	char reason[128];

	ck_assert(x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				   NULL, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "ok");
	ck_assert(!x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				    NULL, T_NOT_AFTER + 1, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "certificate has expired");
	ck_assert(!x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				    NULL, T_NOT_BEFORE - 1, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "certificate is not yet valid");
	/* A leaf from another CA does not verify against the card CA. */
	ck_assert(!x509_chain_valid(pki.foreign_leaf_der.p, (size_t)pki.foreign_leaf_der.len, pki.ca_der.p,
				    (size_t)pki.ca_der.len, NULL, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "unable to get local issuer certificate");
	ck_assert(!x509_chain_valid(pki.leaf_der.p, 10, pki.ca_der.p, (size_t)pki.ca_der.len,
				    NULL, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "leaf certificate does not parse");
}
END_TEST

static char *make_dir(void)
{
	char *dir = strdup("/tmp/onshi-x509-XXXXXX");
	const char *tmp = getenv("TMPDIR");

	if (tmp && *tmp) {
		free(dir);
		ck_assert_int_gt(asprintf(&dir, "%s/onshi-x509-XXXXXX", tmp), 0);
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void write_pem(const char *dir, const char *name, X509 *x)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(PEM_write_X509(f, x), 1);
	fclose(f);
}

static void write_bytes(const char *dir, const char *name, const void *p, size_t n)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	fclose(f);
}

static void remove_dir(char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	free(dir);
}

START_TEST(chain_with_anchor_dir)
{
	char reason[128], *dir = make_dir();

	/* Empty directory: nothing to trust. */
	ck_assert(!x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				    dir, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "no trust anchors found in the anchor directory");
	/* Only a foreign anchor: the card's self-signed CA is not trusted. */
	write_pem(dir, "foreign.pem", pki.foreign);
	write_bytes(dir, "README", "not a certificate\n", 18);
	ck_assert(!x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				    dir, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "self-signed certificate in certificate chain");
	/* Add the real CA as DER: now the chain ends at an anchor. */
	write_bytes(dir, "auth-ca.der", pki.ca_der.p, (size_t)pki.ca_der.len);
	ck_assert(x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				   dir, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "ok");
	/* With only the real CA trusted, a card presenting a foreign CA and its
	 * leaf is refused, whatever it claims. */
	{
		char path[512];

		snprintf(path, sizeof(path), "%s/foreign.pem", dir);
		ck_assert_int_eq(unlink(path), 0);
	}
	ck_assert(!x509_chain_valid(pki.foreign_leaf_der.p, (size_t)pki.foreign_leaf_der.len, pki.foreign_der.p,
				    (size_t)pki.foreign_der.len, dir, T_INSIDE, reason, sizeof(reason)));
	ck_assert_str_eq(reason, "self-signed certificate in certificate chain");
	ck_assert(x509_chain_valid(pki.leaf_der.p, (size_t)pki.leaf_der.len, pki.ca_der.p, (size_t)pki.ca_der.len,
				   dir, T_INSIDE, reason, sizeof(reason)));
	remove_dir(dir);
}
END_TEST

START_TEST(pkcs1_sha256_signature)
{
	static const char msg[] = "nonce from the qualification server";
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t sig[256];
	size_t sig_len = sizeof(sig);

	ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, pki.leaf_key), 1);
	ck_assert_int_eq(EVP_DigestSign(ctx, sig, &sig_len, (const uint8_t *)msg, strlen(msg)), 1);
	EVP_MD_CTX_free(ctx);
	ck_assert(x509_verify_pkcs1_sha256(pki.leaf_der.p, (size_t)pki.leaf_der.len, (const uint8_t *)msg,
					   strlen(msg), sig, sig_len));
	ck_assert(!x509_verify_pkcs1_sha256(pki.leaf_der.p, (size_t)pki.leaf_der.len, (const uint8_t *)msg,
					    strlen(msg) - 1, sig, sig_len));
	ck_assert(!x509_verify_pkcs1_sha256(pki.ca_der.p, (size_t)pki.ca_der.len, (const uint8_t *)msg,
					    strlen(msg), sig, sig_len));
	sig[100] ^= 0x01;
	ck_assert(!x509_verify_pkcs1_sha256(pki.leaf_der.p, (size_t)pki.leaf_der.len, (const uint8_t *)msg,
					    strlen(msg), sig, sig_len));
}
END_TEST

START_TEST(sign_cert_detection)
{
	uint8_t junk[16] = { 0x30, 0x0E };

	ck_assert(!x509_is_sign_cert(pki.leaf_der.p, (size_t)pki.leaf_der.len));
	ck_assert(!x509_is_sign_cert(pki.ca_der.p, (size_t)pki.ca_der.len));
	ck_assert(x509_is_sign_cert(pki.sign_leaf_der.p, (size_t)pki.sign_leaf_der.len));  /* SAN otherName */
	ck_assert(x509_is_sign_cert(pki.utf8_der.p, (size_t)pki.utf8_der.len));            /* issuer OU */
	ck_assert(x509_is_sign_cert(junk, sizeof(junk)));                                  /* unsure -> personal */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("x509-info");
	TCase *tc = tcase_create("x509");
	SRunner *sr;
	int failed;

	/* Unchecked fixture: the PKI is generated once, before the forks. */
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, info_of_leaf);
	tcase_add_test(tc, info_serial_and_utf8);
	tcase_add_test(tc, info_rejects_garbage);
	tcase_add_test(tc, chain_with_card_ca);
	tcase_add_test(tc, chain_with_anchor_dir);
	tcase_add_test(tc, pkcs1_sha256_signature);
	tcase_add_test(tc, sign_cert_detection);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* fuzz-jpki-ops.c — the JPKI operations against a card whose every answer
 * comes from the fuzz input.  Input layout: a sequence of responses, each
 * <len hi> <len lo> <bytes>; the first byte picks the operation.  Checks:
 * no crash, no out-of-bounds access, results within the enum, and the
 * trace never shows the PIN. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jpki-ops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	const uint8_t *p;
	size_t left;
	unsigned calls;
};

static int fuzz_transmit(void *ctx, const uint8_t *capdu, size_t clen, uint8_t *rapdu, size_t *rlen)
{
	struct feed *f = ctx;
	size_t n;

	(void)capdu;
	(void)clen;
	if (++f->calls > 400 || f->left < 2)
		return JPKI_ERR_CARD_REMOVED;
	n = (size_t)(f->p[0] << 8 | f->p[1]);
	f->p += 2;
	f->left -= 2;
	if (n > f->left)
		n = f->left;
	if (n > *rlen)
		n = *rlen;
	memcpy(rapdu, f->p, n);
	*rlen = n;
	f->p += n;
	f->left -= n;
	return JPKI_OK;
}

static void check_trace(void *ctx, const struct jpki_trace_event *ev)
{
	(void)ctx;
	if (memmem(ev->command, ev->command_len, "7391", 4) || memmem(ev->command, ev->command_len, "PWQ8ZX", 6))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[70000];
	struct feed f = { data + 1, size ? size - 1 : 0, 0 };
	struct jpki_card *card;
	size_t len = 0;
	int tries = 0;
	enum jpki_result rc = JPKI_OK;

	if (size < 1)
		return 0;
	card = jpki_card_new(fuzz_transmit, &f);
	if (!card)
		return 0;
	jpki_card_set_trace(card, check_trace, NULL);
	switch (data[0] % 6) {
	case 0: rc = jpki_read_certificate(card, JPKI_CERT_AUTH, 0, false, out, sizeof(out), &len); break;
	case 1: rc = jpki_read_certificate(card, JPKI_CERT_SIGN, 100, true, out, sizeof(out), &len); break;
	case 2: rc = jpki_verify(card, JPKI_KEY_AUTH, (const uint8_t *)"7391", 4, data[0] & 0x80, &tries); break;
	case 3: rc = jpki_verify(card, JPKI_KEY_SIGN, (const uint8_t *)"pwq8zx", 6, false, &tries); break;
	case 4: {
		uint8_t digest[32] = { 0 };

		rc = jpki_sign(card, JPKI_KEY_AUTH, JPKI_HASH_SHA256, digest, sizeof(digest), out, sizeof(out), &len);
		break;
	}
	default: {
		enum jpki_card_type type;

		rc = jpki_read_card_type(card, &type);
		break;
	}
	}
	if ((unsigned)rc > JPKI_ERR_BUFFER_TOO_SMALL || !jpki_result_name(rc))
		__builtin_trap();
	if (rc == JPKI_OK && (data[0] % 6) <= 1 && len > sizeof(out))
		__builtin_trap();
	jpki_card_free(card);
	return 0;
}

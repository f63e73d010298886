/* fuzz-emu-ccid.c — libFuzzer: random PC_to_RDR messages into the emulated
 * reader's firmware.  The first input byte picks the profile and what sits
 * in the slots; the rest is a sequence of messages, each prefixed with a
 * one-byte length.  Every response frame must be well formed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "emu-ccid.h"

static unsigned long frames;

static void on_bulk_in(void *user, const uint8_t *frame, size_t len)
{
	(void)user;
	/* the firmware must never emit less than a header or more than it may */
	if (len < CCID_HEADER_LEN || len > 271 + 522)
		abort();
	frames++;
}

static void on_interrupt(void *user, const uint8_t *frame, size_t len)
{
	(void)user;
	(void)frame;
	if (len < 2)
		abort();
}

static bool on_wait(void *user, unsigned ms)
{
	(void)user;
	(void)ms;
	return false;   /* never really wait: every wait ends as aborted */
}

/* A card that answers 90 00 after echoing up to 300 bytes of the command. */
static int fz_power_on(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *len)
{
	static const uint8_t a[] = { 0x3B, 0xDA, 0x13, 0xFF, 0x81, 0x31, 0xFB, 0x46, 0x80, 0x12,
				     0x39, 0x2F, 0x31, 0xC1, 0x73, 0xC6, 0x01, 0xC0, 0x3B };
	(void)card;
	memcpy(atr, a, sizeof(a));
	*len = sizeof(a);
	return 0;
}

static int fz_transmit(emu_card *card, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen)
{
	(void)card;
	size_t n = clen > 300 ? 300 : clen;
	memcpy(r, c, n);
	r[n] = 0x90;
	r[n + 1] = 0x00;
	*rlen = n + 2;
	return 0;
}

static void fz_power_off(emu_card *card) { (void)card; }
static void fz_destroy(emu_card *card) { free(card); }

static const emu_card_ops fz_ops = { fz_power_on, fz_power_on, fz_power_off, fz_transmit, fz_destroy };

static emu_card *fz_card(void)
{
	emu_card *card = calloc(1, sizeof(*card));
	if (card) {
		card->ops = &fz_ops;
		card->kind = "fuzz";
	}
	return card;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t nprofiles = 0;
	while (emu_profiles[nprofiles])
		nprofiles++;
	const emu_profile *p = emu_profiles[data[0] % nprofiles];
	emu_ccid_env env = { NULL, on_bulk_in, on_interrupt, on_wait, NULL };
	emu_ccid *c = emu_ccid_new(p, &env);
	if (!c)
		abort();
	for (unsigned s = 0; s < p->nslots; s++)
		if (data[0] & (0x10u << s))
			emu_ccid_insert(c, s, fz_card());
	if (data[0] & 0x40)
		emu_ccid_set_keypad(c, "1234,5678,5678");
	size_t pos = 1;
	while (pos < size) {
		size_t len = data[pos++];
		if (len > size - pos)
			len = size - pos;
		emu_ccid_bulk_out(c, data + pos, len);
		pos += len;
	}
	emu_ccid_free(c);
	return 0;
}

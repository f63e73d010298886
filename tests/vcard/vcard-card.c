/* vcard-card.c — adaptor from the emu_card backend contract to vcard.c. */
#include "vcard-card.h"
#include "vcard.h"

#include <stdlib.h>
#include <string.h>

struct vcard_emu {
	emu_card base;          /* first: the emu_card pointer is the object */
	vcard *card;
};

static struct vcard_emu *from_base(emu_card *base)
{
	return (struct vcard_emu *)base;
}

static int vc_power_on(emu_card *base, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	vcard_power_on(from_base(base)->card, atr, atr_len);
	return 0;
}

static int vc_warm_reset(emu_card *base, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	vcard_warm_reset(from_base(base)->card, atr, atr_len);
	return 0;
}

static void vc_power_off(emu_card *base)
{
	vcard_power_off(from_base(base)->card);
}

static int vc_transmit(emu_card *base, const uint8_t *capdu, size_t capdu_len,
		       uint8_t *rapdu, size_t *rapdu_len)
{
	*rapdu_len = vcard_process(from_base(base)->card, capdu, capdu_len, rapdu);
	return 0;
}

static void vc_destroy(emu_card *base)
{
	vcard_free(from_base(base)->card);
	free(base);
}

static const emu_card_ops vcard_ops = {
	.power_on = vc_power_on,
	.warm_reset = vc_warm_reset,
	.power_off = vc_power_off,
	.transmit = vc_transmit,
	.destroy = vc_destroy,
};

/* ATQB of a real card: with MBLI 0 a PC/SC Part 3 reader turns these into
 * 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F (jpki.md §4). */
static const uint8_t atqb_app_data[4] = { 0x00, 0x00, 0x05, 0xE0 };
static const uint8_t atqb_protocol_info[3] = { 0xB3, 0x81, 0xA1 };

emu_card *vcard_card_open(const char *dir, bool extended_length, char **error)
{
	_Static_assert(VCARD_ATR_MAX <= ATR_MAX_LEN, "vcard ATR must fit the reader's buffer");
	vcard *card = vcard_load(dir, error);
	if (!card)
		return NULL;
	struct vcard_emu *emu = calloc(1, sizeof *emu);
	if (!emu) {
		vcard_free(card);
		if (error)
			*error = strdup("out of memory");
		return NULL;
	}
	vcard_set_extended_length(card, extended_length);
	emu->card = card;
	emu->base.ops = &vcard_ops;
	emu->base.kind = "vcard";
	memcpy(emu->base.atqb_app_data, atqb_app_data, sizeof atqb_app_data);
	memcpy(emu->base.atqb_protocol_info, atqb_protocol_info, sizeof atqb_protocol_info);
	emu->base.atqb_mbli = 0x00;
	return &emu->base;
}

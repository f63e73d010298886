/* backend-common.h — small helpers shared by the card backends.
 *
 * Contract: no I/O; only fills fields of struct emu_card.
 */
#ifndef ONSHI_BACKEND_COMMON_H
#define ONSHI_BACKEND_COMMON_H

#include <stdint.h>
#include <string.h>
#include "tests/emu/emu-card.h"

/* What a backend without its own Type B data reports: the ATQB of a real
 * My Number card, as read back from a PC/SC pseudo-ATR
 * 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F (shared/reference/jpki.md §4). */
static inline void backend_default_atqb(emu_card *card)
{
	static const uint8_t app[4] = { 0x00, 0x00, 0x05, 0xE0 };
	static const uint8_t proto[3] = { 0xB3, 0x81, 0xA1 };

	memcpy(card->atqb_app_data, app, sizeof app);
	memcpy(card->atqb_protocol_info, proto, sizeof proto);
	card->atqb_mbli = 0x00;
}

/* atqb: app data 4 ‖ protocol info 3 ‖ ATTRIB byte 1, as in a transcript. */
static inline void backend_set_atqb(emu_card *card, const uint8_t atqb[8])
{
	memcpy(card->atqb_app_data, atqb, 4);
	memcpy(card->atqb_protocol_info, atqb + 4, 3);
	card->atqb_mbli = atqb[7];
}

static inline void backend_get_atqb(const emu_card *card, uint8_t atqb[8])
{
	memcpy(atqb, card->atqb_app_data, 4);
	memcpy(atqb + 4, card->atqb_protocol_info, 3);
	atqb[7] = card->atqb_mbli;
}

#endif

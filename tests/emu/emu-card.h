/* emu-card.h — a card that can sit in a slot of the emulated reader.
 *
 * Contract: backends (virtual My Number card, vsmartcard vicc over TCP,
 * transcript replay, transcript recorder) implement these operations at the
 * APDU level; the emulated reader's firmware does everything below that
 * (ATR transport, T=1 blocks, CCID chaining, Type B pseudo-ATR).
 * Calls come from the reader's firmware thread only, one at a time.
 */
#ifndef ONSHI_EMU_CARD_H
#define ONSHI_EMU_CARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <onshi/ccid-const.h>

/* Largest command APDU: 4 header + 3 extended Lc + 65535 data + 2 extended Le. */
#define EMU_CAPDU_MAX (4 + 3 + 65535 + 2)
/* Largest response APDU: 65536 data + SW1 SW2. */
#define EMU_RAPDU_MAX (65536 + 2)

typedef struct emu_card emu_card;

typedef struct emu_card_ops {
	/* Cold reset (contacts activated / field on).  Writes the card's contact
	 * ATR.  Clears the card's security state.  0, or -1 if the card is mute. */
	int (*power_on)(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len);
	/* Warm reset: ATR again, the security state is kept (as on real cards). */
	int (*warm_reset)(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len);
	/* Contacts deactivated / field off.  Clears the security state. */
	void (*power_off)(emu_card *card);
	/* One command APDU in, one response APDU (data ‖ SW1 SW2) out.
	 * rapdu has room for EMU_RAPDU_MAX bytes.  0, or -1 if the card is mute. */
	int (*transmit)(emu_card *card, const uint8_t *capdu, size_t capdu_len,
			uint8_t *rapdu, size_t *rapdu_len);
	void (*destroy)(emu_card *card);
	/* Optional (NULL: the backend never blocks for long).  Any thread: end
	 * a blocking wait inside the operation in progress now, that operation
	 * failing as mute (a CCID Abort, an unplug, the emulator quitting).
	 * Must not block.  Without an operation in progress it has no effect
	 * on later ones.  The firmware calls it only while a command runs, so
	 * the card is not destroyed meanwhile. */
	void (*interrupt)(emu_card *card);
} emu_card_ops;

struct emu_card {
	const emu_card_ops *ops;
	const char *kind;          /* "vcard", "vicc", "replay", "recorder" */
	/* What a contactless reader reads in ATQB, from which it builds the
	 * PC/SC Part 3 pseudo-ATR 3B 88 80 01 <app data 4> <protocol info 3> <MBLI> TCK. */
	uint8_t atqb_app_data[4];
	uint8_t atqb_protocol_info[3];
	uint8_t atqb_mbli;        /* ATTRIB answer byte: MBLI in the high nibble */
};

static inline void emu_card_destroy(emu_card *card)
{
	if (card && card->ops->destroy)
		card->ops->destroy(card);
}

/* Open a backend from a command-line spec (implemented in tests/backends/):
 *   vcard:DIR[,noext]     the virtual My Number card made by tests/vcard/mkcard.sh
 *   vicc:PORT             wait for a vsmartcard vicc card to connect to 127.0.0.1:PORT
 *   replay:FILE           answer from an APDU transcript, fail loudly on deviation
 * and, wrapped around any of them, record:FILE:SPEC writes a transcript.
 * Returns NULL with *error set (free() it) on failure. */
emu_card *emu_card_open(const char *spec, char **error);

#endif

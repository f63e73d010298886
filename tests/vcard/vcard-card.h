/* vcard-card.h — the virtual My Number card as an emu_card backend.
 *
 * Contract: vcard_card_open() loads a card directory made by mkcard.sh and
 * returns an emu_card (tests/emu/emu-card.h) whose power/transmit operations
 * drive vcard.c.  Contact ATR: 3B DA 13 FF 81 31 FB 46 80 12 39 2F 31 C1 73
 * C6 01 C0 3B (a real card's, T=1).  ATQB app data 00 00 05 E0, protocol info
 * B3 81 A1, MBLI 0, so a PC/SC Part 3 reader builds the real pseudo-ATR
 * 3B 88 80 01 00 00 05 E0 B3 81 A1 00 7F.  With extended_length false the
 * card answers every extended APDU with 6700 (a card behind a reader that
 * cannot pass them).  NULL with *error set (free() it) on failure.
 */
#ifndef ONSHI_VCARD_CARD_H
#define ONSHI_VCARD_CARD_H

#include <stdbool.h>
#include "emu/emu-card.h"

emu_card *vcard_card_open(const char *dir, bool extended_length, char **error);

#endif

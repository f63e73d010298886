/* backends.h — what the emulator needs from tests/backends/ beyond
 * emu_card_open() (declared in tests/emu/emu-card.h).
 *
 * Contract: each function looks through a recorder to the card it wraps,
 * and does nothing harmful for a card of another kind.
 */
#ifndef ONSHI_BACKENDS_H
#define ONSHI_BACKENDS_H

#include <stdbool.h>
#include "tests/emu/emu-card.h"

/* The TCP port a vicc card must connect to, or -1 if card is no vicc. */
int emu_card_vicc_port(emu_card *card);
/* End of session: for a replay card, check the whole transcript was
 * replayed (reporting on stderr if not).  0 if all is well (always for
 * other kinds), -1 if a replay deviated or has exchanges left — the
 * emulator should then exit non-zero. */
int emu_card_finish(emu_card *card);
/* True once a replay card deviated from its transcript. */
bool emu_card_failed(emu_card *card);

#endif

/* vicc.h — the reader (vpcd) side of vsmartcard's vicc protocol: a card
 * emulated by another process (e.g. vsmartcard's Python vicc) connects over
 * TCP and the emulated reader talks to it.
 *
 * Wire protocol (virtualsmartcard/src/vpcd/vpcd.c, VirtualSmartcard.py):
 * every message is a 2-byte big-endian length and that many bytes.  From the
 * reader, a 1-byte message is a control code (power off 0, power on 1,
 * reset 2, get ATR 4; only get ATR is answered) and a longer one is a
 * command APDU, answered with the response APDU.
 *
 * Contract: listens on 127.0.0.1 only and serves one card at a time; the
 * card is accepted at the first power-on (waiting at most the timeout).
 * Every length from the socket is checked (ATR 1..ATR_MAX_LEN, response
 * 2..EMU_RAPDU_MAX); a bad length, a closed connection or a card that stays
 * silent for the timeout drops the connection and the operation is mute
 * (-1).  A later power-on accepts a new card.  Blocking, called from the
 * reader's firmware thread only, except the interrupt operation: from any
 * thread it ends the wait of the operation in progress (that operation is
 * mute; a half-done exchange drops the connection).
 */
#ifndef ONSHI_VICC_H
#define ONSHI_VICC_H

#include "tests/emu/emu-card.h"

#define VICC_DEFAULT_TIMEOUT_MS 30000

/* port 0: pick a free port (see vicc_card_port).  timeout_ms > 0. */
emu_card *vicc_card_open(unsigned port, int timeout_ms, char **error);
/* The TCP port the card must connect to. */
int vicc_card_port(emu_card *card);

#endif

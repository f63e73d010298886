/* recorder.h — a card that passes everything to another card and writes a
 * transcript (transcript.h) of it.
 *
 * Contract: the reader sees exactly what the inner card does (same ATR,
 * answers, mute results, ATQB).  Each exchange is written and flushed as it
 * happens, so the file is usable even if the emulator dies; PIN data is
 * redacted by the transcript writer.  A write error is reported once on
 * stderr and recording stops; the card itself keeps working.
 * The recorder owns the inner card and destroys it.
 */
#ifndef ONSHI_RECORDER_H
#define ONSHI_RECORDER_H

#include "tests/emu/emu-card.h"

/* On failure the inner card is destroyed too.  spec is written in the
 * header comment (what was recorded). */
emu_card *recorder_card_open(const char *path, emu_card *inner, const char *spec,
			     char **error);
/* The wrapped card. */
emu_card *recorder_card_inner(emu_card *card);

#endif

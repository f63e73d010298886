/* replay.h — a card that answers from an APDU transcript (transcript.h).
 *
 * Contract: each reader operation must be the transcript's next entry
 * (power-on, warm-reset, or a command that matches exactly, redacted PIN data
 * excepted); the card then gives that entry's answer.  On the first deviation
 * it writes a report to its diagnostic stream — file and line, expected vs
 * got in hex with the first differing byte marked — keeps the report, and
 * stays mute (-1) for everything after.  A power-off while entries other than
 * power-off remain, or the end of the session (replay_card_finish, destroy)
 * with entries left, is also a failure: "N exchanges not replayed".
 * Power-off after the last entry is accepted, so a transcript need not end
 * with one.
 *
 * Loose power (replay:FILE,power=loose) is for sessions through pcscd, whose
 * idle power-downs depend on timing: the reader may then power the card off
 * and on where the transcript does not (a power-on gets the latest ATR), and
 * may skip a recorded power-off + power-on; the commands must still match,
 * and entries left are still a failure at the end of the session.
 */
#ifndef ONSHI_REPLAY_H
#define ONSHI_REPLAY_H

#include <stdbool.h>
#include <stdio.h>
#include "tests/emu/emu-card.h"
#include "tests/backends/transcript.h"

/* Takes ownership of t.  name is used in reports (e.g. the file name).
 * diag receives the reports (stderr if NULL). */
emu_card *replay_card_new(struct transcript *t, const char *name, FILE *diag,
			  bool loose_power, char **error);
/* replay:FILE[,power=loose] */
emu_card *replay_card_open(const char *path, bool loose_power, char **error);

/* True once the card deviated from its transcript. */
bool replay_card_failed(emu_card *card);
/* The report of the first failure, or NULL. Owned by the card. */
const char *replay_card_report(emu_card *card);
/* End of session: fails (and reports) if entries are left.
 * 0 if the whole transcript was replayed, -1 otherwise. */
int replay_card_finish(emu_card *card);

/* The report text for a command that differs from the transcript's
 * (pure; exposed for tests).  malloc'd. */
char *replay_format_diff(const char *name, unsigned line, const char *what,
			 const uint8_t *expected, size_t expected_len,
			 const uint8_t *got, size_t got_len);

#endif

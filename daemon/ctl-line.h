/* ctl-line.h — the line editor behind onshictl's agent prompts: bytes in,
 * one line out, with a hard length limit.  Pure (no I/O) so that Check
 * tests drive it; the agent feeds it one byte per read.
 *
 * Contract:
 *  - The caller owns the buffer (cap bytes, cap >= 2); the line is kept
 *    NUL-terminated in it.  At most cap - 1 bytes are stored.
 *  - '\n' or '\r' ends the line (the terminator is not stored).  A longer
 *    line is consumed up to its end and reported as CTL_LINE_TOO_LONG; the
 *    bytes past the limit are never stored anywhere.
 *  - ctl_line_wipe() zeroes the whole buffer (explicit_bzero) and resets.
 */
#ifndef ONSHI_CTL_LINE_H
#define ONSHI_CTL_LINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum ctl_line_state {
	CTL_LINE_MORE,      /* keep feeding */
	CTL_LINE_DONE,      /* a complete line is in the buffer */
	CTL_LINE_TOO_LONG,  /* the line ended but did not fit */
	CTL_LINE_EMPTY_EOF, /* end of input before any byte */
};

struct ctl_line {
	char *buf;
	size_t cap;
	size_t len;
	bool overflow;
};

void ctl_line_init(struct ctl_line *l, char *buf, size_t cap);
enum ctl_line_state ctl_line_feed(struct ctl_line *l, char c);
/* End of input: a partial line counts as complete. */
enum ctl_line_state ctl_line_eof(struct ctl_line *l);
void ctl_line_wipe(struct ctl_line *l);

/* The agent's prompt for RequestPin(kind, tries_left) into buf (always
 * NUL-terminated, cut at cap - 1).  tries_left 0 means onshid does not know
 * the count (the card gave none), so no count is shown; 1 adds a warning
 * line before the prompt.  Returns buf. */
char *ctl_line_pin_prompt(char *buf, size_t cap, const char *kind, uint32_t tries_left);

/* The same for DisplayPinPadPrompt: one line, ending in '\n'. */
char *ctl_line_pinpad_prompt(char *buf, size_t cap, uint32_t tries_left);

#endif

/* ctl-line.c — see ctl-line.h. */
#include <stdio.h>
#include <string.h>

#include "ctl-line.h"

void ctl_line_init(struct ctl_line *l, char *buf, size_t cap)
{
	l->buf = buf;
	l->cap = cap;
	ctl_line_wipe(l);
}

void ctl_line_wipe(struct ctl_line *l)
{
	explicit_bzero(l->buf, l->cap);
	l->len = 0;
	l->overflow = false;
}

enum ctl_line_state ctl_line_feed(struct ctl_line *l, char c)
{
	if (c == '\n' || c == '\r')
		return l->overflow ? CTL_LINE_TOO_LONG : CTL_LINE_DONE;
	if (l->len + 1 < l->cap) {
		l->buf[l->len++] = c;
		l->buf[l->len] = '\0';
	} else {
		l->overflow = true;
	}
	return CTL_LINE_MORE;
}

enum ctl_line_state ctl_line_eof(struct ctl_line *l)
{
	if (l->overflow)
		return CTL_LINE_TOO_LONG;
	return l->len ? CTL_LINE_DONE : CTL_LINE_EMPTY_EOF;
}

static const char *kind_text(const char *kind)
{
	if (strcmp(kind, "auth") == 0)
		return "PIN of the user-authentication certificate (4 digits)";
	if (strcmp(kind, "sign") == 0)
		return "password of the signature certificate (6-16 letters and digits)";
	if (strcmp(kind, "card-info") == 0)
		return "card-information PIN (4 digits)";
	return "PIN";
}

/* " (N tries left)", or "" when the count is unknown (0). */
static void tries_text(char out[32], uint32_t tries_left)
{
	if (tries_left == 0)
		out[0] = '\0';
	else
		snprintf(out, 32, " (%u %s left)", tries_left, tries_left == 1 ? "try" : "tries");
}

char *ctl_line_pin_prompt(char *buf, size_t cap, const char *kind, uint32_t tries_left)
{
	char tries[32];

	if (!buf || cap == 0)
		return buf;
	tries_text(tries, tries_left);
	snprintf(buf, cap, "%sEnter the %s%s: ",
		 tries_left == 1 ? "WARNING: this is the last try; a wrong entry blocks it.\n" : "",
		 kind_text(kind), tries);
	return buf;
}

char *ctl_line_pinpad_prompt(char *buf, size_t cap, uint32_t tries_left)
{
	char tries[32];

	if (!buf || cap == 0)
		return buf;
	tries_text(tries, tries_left);
	snprintf(buf, cap, "enter your PIN on the reader's keypad%s\n", tries);
	return buf;
}

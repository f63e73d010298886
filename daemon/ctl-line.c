/* ctl-line.c — see ctl-line.h. */
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

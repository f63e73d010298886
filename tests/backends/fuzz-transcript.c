/* fuzz-transcript.c — libFuzzer target: the transcript parser must accept or
 * reject any bytes without crashing, and whatever it accepts must be written
 * back as text that parses to the same entries. */
#include "tests/backends/transcript.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* b is a re-parse of what a's writer produced: same entries, except that
 * the writer redacts PIN data, so a clear command may come back redacted. */
static void check_same(const struct transcript *a, const struct transcript *b)
{
	if (a->count != b->count || a->has_atqb != b->has_atqb ||
	    (a->has_atqb && memcmp(a->atqb, b->atqb, sizeof a->atqb)))
		abort();
	for (size_t i = 0; i < a->count; i++) {
		const struct transcript_entry *x = &a->entries[i], *y = &b->entries[i];

		if (x->event != y->event || x->mute != y->mute || x->reply_len != y->reply_len ||
		    (x->reply_len && memcmp(x->reply, y->reply, x->reply_len)))
			abort();
		if (x->event != TRANSCRIPT_APDU)
			continue;
		if (!x->redacted) {
			if (!transcript_command_matches(y, x->command, x->command_len))
				abort();
			continue;
		}
		if (!y->redacted || x->command_len != y->command_len ||
		    x->command_tail_len != y->command_tail_len ||
		    x->redacted_len != y->redacted_len ||
		    memcmp(x->command, y->command, x->command_len) ||
		    (x->command_tail_len && memcmp(x->command_tail, y->command_tail, x->command_tail_len)))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *error = NULL, *text = NULL;
	size_t text_len = 0;
	struct transcript *t = transcript_parse((const char *)data, size, &error);
	struct transcript *again;
	FILE *f;

	if (!t) {
		/* Every rejection names a line. */
		if (!error || (strncmp(error, "line ", 5) != 0 && strcmp(error, "out of memory") != 0))
			abort();
		free(error);
		return 0;
	}
	f = open_memstream(&text, &text_len);
	if (!f || transcript_write(f, t) < 0)
		abort();
	fclose(f);
	again = transcript_parse(text, text_len, &error);
	if (!again)
		abort();
	check_same(t, again);
	transcript_free(again);
	transcript_free(t);
	free(text);
	return 0;
}

/* replay.c — the replay card (see replay.h). */
#include "tests/backends/replay.h"
#include "tests/backends/backend-common.h"

#include <stdlib.h>
#include <string.h>

struct replay_card {
	emu_card base;
	struct transcript *t;
	size_t next;              /* index of the entry the reader must do next */
	char *name;
	FILE *diag;
	bool failed;
	char *report;             /* first failure, kept for the emulator and tests */
	/* Loose power: power cycles need not match (see replay.h). */
	bool loose_power;
	const struct transcript_entry *last_atr;   /* latest ATR answered */
};

static struct replay_card *replay_of(emu_card *card)
{
	return (struct replay_card *)card;
}

/* The column where each space-separated token of s starts. */
static size_t token_column(const char *s, size_t index)
{
	size_t col = 0, tok = 0;

	while (s[col]) {
		while (s[col] == ' ')
			col++;
		if (tok == index || !s[col])
			return col;
		while (s[col] && s[col] != ' ')
			col++;
		tok++;
	}
	return col;
}

/* Index of the first token in which a and b differ (tokens are hex bytes or
 * the redaction mark). */
static size_t first_differing_token(const char *a, const char *b)
{
	size_t i = 0;

	for (;; i++) {
		size_t ca = token_column(a, i), cb = token_column(b, i);
		size_t la = strcspn(a + ca, " "), lb = strcspn(b + cb, " ");

		if (la == 0 && lb == 0)
			return i;   /* equal: no difference (not expected here) */
		if (la != lb || memcmp(a + ca, b + cb, la) != 0)
			return i;
	}
}

static size_t count_tokens(const char *s)
{
	size_t n = 0;

	while (s[token_column(s, n)])
		n++;
	return n;
}

static char *format_token_diff(const char *name, unsigned line, const char *what,
			       const char *expected, const char *got)
{
	static const char indent[] = "  expected: ";
	size_t idx = first_differing_token(expected, got);
	size_t col_e = token_column(expected, idx), col_g = token_column(got, idx);
	size_t col = col_e > col_g ? col_e : col_g;
	char *out = NULL;

	if (asprintf(&out,
		     "replay %s:%u: %s differs from the transcript\n"
		     "  expected: %s\n"
		     "  got:      %s\n"
		     "  %*s^^ first difference at offset %zu (expected %zu bytes, got %zu)\n",
		     name, line, what, expected, got,
		     (int)(sizeof indent - 3 + col), "", idx, count_tokens(expected),
		     count_tokens(got)) < 0)
		return NULL;
	return out;
}

char *replay_format_diff(const char *name, unsigned line, const char *what,
			 const uint8_t *expected, size_t expected_len,
			 const uint8_t *got, size_t got_len)
{
	char *e = transcript_hex(expected, expected_len);
	char *g = transcript_hex(got, got_len);
	char *out = NULL;

	if (e && g)
		out = format_token_diff(name, line, what, e, g);
	free(e);
	free(g);
	return out;
}

/* How a reader operation looks in a transcript, PIN data redacted. */
static char *render_command(const uint8_t *capdu, size_t len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	if (transcript_write_command(f, capdu, len) < 0) {
		fclose(f);
		free(buf);
		return NULL;
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	/* "> HEX\n" → "HEX" */
	if (size >= 3) {
		memmove(buf, buf + 2, size - 2);
		buf[size - 3] = '\0';
	}
	return buf;
}

static char *render_entry(const struct transcript_entry *e)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	struct transcript one = { .entries = (struct transcript_entry *)e, .count = 1 };

	if (!f)
		return NULL;
	/* The command line only: the answer is not what is being compared. */
	if (e->event == TRANSCRIPT_APDU) {
		struct transcript_entry cmd = *e;

		cmd.mute = true;
		one.entries = &cmd;
		transcript_write(f, &one);
	} else {
		transcript_write(f, &one);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	if (e->event == TRANSCRIPT_APDU) {
		char *nl = strchr(buf, '\n');

		if (nl)
			*nl = '\0';      /* drop the "! mute" line */
	} else if (size && buf[size - 1] == '\n') {
		buf[size - 1] = '\0';
	}
	return buf;
}

static void fail(struct replay_card *r, char *report)
{
	r->failed = true;
	if (!report)
		report = strdup("replay: failed (out of memory while formatting the report)\n");
	if (!r->report) {
		r->report = report;
		if (report) {
			fputs(report, r->diag);
			fflush(r->diag);
		}
	} else {
		free(report);
	}
}

static void fail_unexpected(struct replay_card *r, const char *got)
{
	char *out = NULL;

	if (r->next >= r->t->count) {
		unsigned last = r->t->count ? r->t->entries[r->t->count - 1].reply_line : 0;

		if (asprintf(&out, "replay %s: the transcript ended (last entry at line %u),"
			     " but the reader went on:\n  got:      %s\n", r->name, last, got) < 0)
			out = NULL;
	} else {
		const struct transcript_entry *e = &r->t->entries[r->next];
		char *want = render_entry(e);

		if (asprintf(&out, "replay %s:%u: the reader did something else than the transcript\n"
			     "  expected: %s\n  got:      %s\n", r->name, e->line,
			     want ? want : "?", got) < 0)
			out = NULL;
		free(want);
	}
	fail(r, out);
}

/* Loose power: a recorded power-off + power-on that the reader did not do
 * this time (an idle power-down by pcscd, say) is passed over. */
static void skip_power_cycle(struct replay_card *r)
{
	const struct transcript_entry *e = r->t->entries;

	while (r->loose_power && r->next + 1 < r->t->count &&
	       e[r->next].event == TRANSCRIPT_POWER_OFF && e[r->next + 1].event == TRANSCRIPT_POWER_ON &&
	       !e[r->next + 1].mute) {
		r->last_atr = &e[r->next + 1];
		r->next += 2;
	}
}

static const struct transcript_entry *expect(struct replay_card *r, enum transcript_event ev,
					     const char *got)
{
	const struct transcript_entry *e;

	if (r->failed)
		return NULL;
	if (ev != TRANSCRIPT_POWER_ON)
		skip_power_cycle(r);
	if (r->next >= r->t->count || r->t->entries[r->next].event != ev) {
		fail_unexpected(r, got);
		return NULL;
	}
	e = &r->t->entries[r->next++];
	return e;
}

static int answer_reset(struct replay_card *r, enum transcript_event ev, const char *got,
			uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	const struct transcript_entry *e = expect(r, ev, got);

	if (!e || e->mute)
		return -1;
	r->last_atr = e;
	memcpy(atr, e->reply, e->reply_len);
	*atr_len = e->reply_len;
	return 0;
}

/* The ATR a power-on gets in loose mode when the transcript has no power-on
 * next: the latest one answered, else the transcript's first. */
static const struct transcript_entry *any_atr(struct replay_card *r)
{
	if (r->last_atr)
		return r->last_atr;
	for (size_t i = 0; i < r->t->count; i++)
		if (r->t->entries[i].event == TRANSCRIPT_POWER_ON && !r->t->entries[i].mute)
			return &r->t->entries[i];
	return NULL;
}

static int replay_power_on(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	struct replay_card *r = replay_of(card);
	const struct transcript_entry *e;

	if (!r->failed && r->loose_power &&
	    (r->next >= r->t->count || r->t->entries[r->next].event != TRANSCRIPT_POWER_ON) &&
	    (e = any_atr(r)) != NULL) {
		memcpy(atr, e->reply, e->reply_len);
		*atr_len = e->reply_len;
		return 0;
	}
	return answer_reset(r, TRANSCRIPT_POWER_ON, "! power-on", atr, atr_len);
}

static int replay_warm_reset(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	return answer_reset(replay_of(card), TRANSCRIPT_WARM_RESET, "! warm-reset", atr, atr_len);
}

/* Entries left that the reader still had to do; trailing power-offs do not
 * count (a session may end without one). */
static size_t exchanges_left(const struct replay_card *r, size_t *first_line)
{
	size_t n = 0;

	*first_line = 0;
	for (size_t i = r->next; i < r->t->count; i++) {
		if (r->t->entries[i].event == TRANSCRIPT_POWER_OFF)
			continue;
		if (!n)
			*first_line = r->t->entries[i].line;
		n++;
	}
	return n;
}

static void fail_leftover(struct replay_card *r, const char *when)
{
	size_t line;
	size_t n = exchanges_left(r, &line);
	char *out = NULL;

	if (asprintf(&out, "replay %s:%zu: %zu exchanges not replayed (%s)\n",
		     r->name, line, n, when) < 0)
		out = NULL;
	fail(r, out);
}

static void replay_power_off(emu_card *card)
{
	struct replay_card *r = replay_of(card);

	if (r->failed || r->next >= r->t->count)
		return;
	if (r->t->entries[r->next].event == TRANSCRIPT_POWER_OFF) {
		r->next++;
		return;
	}
	/* Loose: whether the rest is replayed is judged at the end. */
	if (!r->loose_power)
		fail_leftover(r, "the reader powered the card off");
}

static int replay_transmit(emu_card *card, const uint8_t *capdu, size_t capdu_len,
			   uint8_t *rapdu, size_t *rapdu_len)
{
	struct replay_card *r = replay_of(card);
	const struct transcript_entry *e;
	char *got;

	if (r->failed)
		return -1;
	got = render_command(capdu, capdu_len);
	skip_power_cycle(r);
	if (r->next >= r->t->count || r->t->entries[r->next].event != TRANSCRIPT_APDU) {
		fail_unexpected(r, got ? got : "?");
		free(got);
		return -1;
	}
	e = &r->t->entries[r->next];
	if (!transcript_command_matches(e, capdu, capdu_len)) {
		char *want = render_entry(e);

		/* render_entry gives "> HEX": compare the hex parts. */
		fail(r, want && got ? format_token_diff(r->name, e->line, "command",
							 want + 2, got) : NULL);
		free(want);
		free(got);
		return -1;
	}
	free(got);
	r->next++;
	if (e->mute)
		return -1;
	memcpy(rapdu, e->reply, e->reply_len);
	*rapdu_len = e->reply_len;
	return 0;
}

int replay_card_finish(emu_card *card)
{
	struct replay_card *r = replay_of(card);
	size_t line;

	if (r->failed)
		return -1;
	if (exchanges_left(r, &line) == 0)
		return 0;
	fail_leftover(r, "the session ended");
	return -1;
}

bool replay_card_failed(emu_card *card)
{
	return replay_of(card)->failed;
}

const char *replay_card_report(emu_card *card)
{
	return replay_of(card)->report;
}

static void replay_destroy(emu_card *card)
{
	struct replay_card *r = replay_of(card);

	replay_card_finish(card);
	transcript_free(r->t);
	free(r->name);
	free(r->report);
	free(r);
}

static const emu_card_ops replay_ops = {
	.power_on = replay_power_on,
	.warm_reset = replay_warm_reset,
	.power_off = replay_power_off,
	.transmit = replay_transmit,
	.destroy = replay_destroy,
};

emu_card *replay_card_new(struct transcript *t, const char *name, FILE *diag,
			  bool loose_power, char **error)
{
	struct replay_card *r = calloc(1, sizeof *r);

	*error = NULL;
	if (!r || !(r->name = strdup(name))) {
		free(r);
		transcript_free(t);
		*error = strdup("out of memory");
		return NULL;
	}
	r->base.ops = &replay_ops;
	r->base.kind = "replay";
	r->t = t;
	r->diag = diag ? diag : stderr;
	r->loose_power = loose_power;
	if (t->has_atqb)
		backend_set_atqb(&r->base, t->atqb);
	else
		backend_default_atqb(&r->base);
	return &r->base;
}

emu_card *replay_card_open(const char *path, bool loose_power, char **error)
{
	struct transcript *t = transcript_load(path, error);

	if (!t)
		return NULL;
	return replay_card_new(t, path, NULL, loose_power, error);
}

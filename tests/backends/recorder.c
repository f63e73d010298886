/* recorder.c — transcript recorder (see recorder.h). */
#include "tests/backends/recorder.h"
#include "tests/backends/backend-common.h"
#include "tests/backends/transcript.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct recorder_card {
	emu_card base;
	emu_card *inner;
	FILE *out;                /* NULL once a write failed */
	char *path;
};

static struct recorder_card *recorder_of(emu_card *card)
{
	return (struct recorder_card *)card;
}

/* Called after each write: flush, and give up recording on error. */
static void check_written(struct recorder_card *r, int written)
{
	if (!r->out)
		return;
	if (written == 0 && fflush(r->out) == 0)
		return;
	fprintf(stderr, "recorder: writing %s failed (%s); recording stopped\n",
		r->path, strerror(errno));
	fclose(r->out);
	r->out = NULL;
}

static int recorder_power_on(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	struct recorder_card *r = recorder_of(card);
	int rc = r->inner->ops->power_on(r->inner, atr, atr_len);

	if (r->out)
		check_written(r, transcript_write_power_on(r->out, rc == 0 ? atr : NULL,
							   rc == 0 ? *atr_len : 0));
	return rc;
}

static int recorder_warm_reset(emu_card *card, uint8_t atr[ATR_MAX_LEN], size_t *atr_len)
{
	struct recorder_card *r = recorder_of(card);
	int rc = r->inner->ops->warm_reset(r->inner, atr, atr_len);

	if (r->out)
		check_written(r, transcript_write_warm_reset(r->out, rc == 0 ? atr : NULL,
							     rc == 0 ? *atr_len : 0));
	return rc;
}

static void recorder_power_off(emu_card *card)
{
	struct recorder_card *r = recorder_of(card);

	r->inner->ops->power_off(r->inner);
	if (r->out)
		check_written(r, transcript_write_power_off(r->out));
}

static int recorder_transmit(emu_card *card, const uint8_t *capdu, size_t capdu_len,
			     uint8_t *rapdu, size_t *rapdu_len)
{
	struct recorder_card *r = recorder_of(card);
	int rc = r->inner->ops->transmit(r->inner, capdu, capdu_len, rapdu, rapdu_len);
	int written;

	if (!r->out)
		return rc;
	written = transcript_write_command(r->out, capdu, capdu_len);
	if (written == 0)
		written = rc == 0 ? transcript_write_response(r->out, rapdu, *rapdu_len)
				  : transcript_write_mute(r->out);
	check_written(r, written);
	return rc;
}

static void recorder_destroy(emu_card *card)
{
	struct recorder_card *r = recorder_of(card);

	if (r->out && fclose(r->out) != 0)
		fprintf(stderr, "recorder: closing %s failed (%s)\n", r->path, strerror(errno));
	emu_card_destroy(r->inner);
	free(r->path);
	free(r);
}

/* The inner card may block (vicc): pass the interrupt on. */
static void rec_interrupt(emu_card *card)
{
	emu_card *inner = recorder_of(card)->inner;

	if (inner->ops->interrupt)
		inner->ops->interrupt(inner);
}

static const emu_card_ops recorder_ops = {
	.power_on = recorder_power_on,
	.warm_reset = recorder_warm_reset,
	.power_off = recorder_power_off,
	.transmit = recorder_transmit,
	.destroy = recorder_destroy,
	.interrupt = rec_interrupt,
};

emu_card *recorder_card_inner(emu_card *card)
{
	return recorder_of(card)->inner;
}

emu_card *recorder_card_open(const char *path, emu_card *inner, const char *spec,
			     char **error)
{
	struct recorder_card *r = calloc(1, sizeof *r);
	uint8_t atqb[8];

	*error = NULL;
	if (!r || !(r->path = strdup(path))) {
		free(r);
		emu_card_destroy(inner);
		*error = strdup("out of memory");
		return NULL;
	}
	r->out = fopen(path, "we");
	if (!r->out) {
		if (asprintf(error, "record: cannot create %s: %s", path, strerror(errno)) < 0)
			*error = NULL;
		free(r->path);
		free(r);
		emu_card_destroy(inner);
		return NULL;
	}
	r->base.ops = &recorder_ops;
	r->base.kind = "recorder";
	r->inner = inner;
	memcpy(r->base.atqb_app_data, inner->atqb_app_data, sizeof r->base.atqb_app_data);
	memcpy(r->base.atqb_protocol_info, inner->atqb_protocol_info,
	       sizeof r->base.atqb_protocol_info);
	r->base.atqb_mbli = inner->atqb_mbli;
	backend_get_atqb(inner, atqb);
	/* Comment lines must stay single lines: the spec comes from a command line. */
	fprintf(r->out, "# onshi APDU transcript (doc/transcripts.md), recorded from ");
	for (const char *c = spec; *c; c++)
		fputc(*c == '\n' || *c == '\r' ? ' ' : *c, r->out);
	fputc('\n', r->out);
	check_written(r, transcript_write_atqb(r->out, atqb));
	return &r->base;
}

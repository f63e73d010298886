/* card-spec.c — emu_card_open(): card backends from a command-line spec
 * (see tests/emu/emu-card.h and backends.h). */
#include "tests/backends/backends.h"
#include "tests/backends/recorder.h"
#include "tests/backends/replay.h"
#include "tests/backends/vicc.h"
#include "tests/vcard/vcard-card.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SPEC_USAGE "vcard:DIR[,noext] | vicc:PORT[,timeout=MS] | replay:FILE[,power=loose] | record:FILE:SPEC"

static emu_card *spec_error(char **error, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static emu_card *spec_error(char **error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (vasprintf(error, fmt, ap) < 0)
		*error = NULL;
	va_end(ap);
	return NULL;
}

/* Decimal number in [0, max] filling all of s. */
static bool parse_number(const char *s, size_t len, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0 || len > 9)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static emu_card *open_vicc(const char *arg, char **error)
{
	const char *comma = strchr(arg, ',');
	size_t port_len = comma ? (size_t)(comma - arg) : strlen(arg);
	unsigned long port, timeout = VICC_DEFAULT_TIMEOUT_MS;

	if (!parse_number(arg, port_len, 65535, &port))
		return spec_error(error, "vicc:%s: PORT must be a number 0..65535 (0 picks a free port)", arg);
	if (comma) {
		const char *opt = comma + 1;

		if (strncmp(opt, "timeout=", 8) != 0 ||
		    !parse_number(opt + 8, strlen(opt + 8), 3600000, &timeout) || timeout == 0)
			return spec_error(error, "vicc:%s: the only option is timeout=MS (1..3600000)", arg);
	}
	return vicc_card_open((unsigned)port, (int)timeout, error);
}

/* vcard:DIR[,noext] — ",noext": a card behind a reader without extended
 * APDUs (the card answers them 6700). */
static emu_card *open_vcard(const char *arg, char **error)
{
	static const char noext[] = ",noext";
	size_t len = strlen(arg);
	bool extended = true;
	char *dir;
	emu_card *card;

	if (len >= strlen(noext) && strcmp(arg + len - strlen(noext), noext) == 0) {
		extended = false;
		len -= strlen(noext);
	}
	if (len == 0)
		return spec_error(error, "vcard:%s: expected vcard:DIR[,noext]", arg);
	dir = strndup(arg, len);
	if (!dir) {
		*error = strdup("out of memory");
		return NULL;
	}
	card = vcard_card_open(dir, extended, error);
	free(dir);
	return card;
}

/* replay:FILE[,power=loose] */
static emu_card *open_replay(const char *arg, char **error)
{
	static const char loose[] = ",power=loose";
	size_t len = strlen(arg);
	bool loose_power = false;
	char *path;
	emu_card *card;

	if (len >= strlen(loose) && strcmp(arg + len - strlen(loose), loose) == 0) {
		loose_power = true;
		len -= strlen(loose);
	}
	if (len == 0)
		return spec_error(error, "replay:%s: expected replay:FILE[,power=loose]", arg);
	path = strndup(arg, len);
	if (!path) {
		*error = strdup("out of memory");
		return NULL;
	}
	card = replay_card_open(path, loose_power, error);
	free(path);
	return card;
}

static emu_card *open_record(const char *arg, const char *spec, char **error)
{
	const char *colon = strchr(arg, ':');
	char *path;
	emu_card *inner, *card;

	if (!colon || colon == arg || !colon[1])
		return spec_error(error, "record:%s: expected record:FILE:SPEC", arg);
	path = strndup(arg, (size_t)(colon - arg));
	if (!path) {
		*error = strdup("out of memory");
		return NULL;
	}
	inner = emu_card_open(colon + 1, error);
	if (!inner) {
		free(path);
		return NULL;
	}
	card = recorder_card_open(path, inner, spec, error);
	free(path);
	return card;
}

emu_card *emu_card_open(const char *spec, char **error)
{
	const char *colon;
	size_t kind_len;

	*error = NULL;
	if (!spec || !(colon = strchr(spec, ':')))
		return spec_error(error, "card spec '%s': expected " SPEC_USAGE, spec ? spec : "");
	kind_len = (size_t)(colon - spec);
	if (kind_len == 5 && strncmp(spec, "vcard", 5) == 0)
		return open_vcard(colon + 1, error);
	if (kind_len == 4 && strncmp(spec, "vicc", 4) == 0)
		return open_vicc(colon + 1, error);
	if (kind_len == 6 && strncmp(spec, "replay", 6) == 0)
		return open_replay(colon + 1, error);
	if (kind_len == 6 && strncmp(spec, "record", 6) == 0)
		return open_record(colon + 1, spec, error);
	return spec_error(error, "card spec '%s': unknown kind; expected " SPEC_USAGE, spec);
}

/* The card under any recorders. */
static emu_card *unwrap(emu_card *card)
{
	while (card && strcmp(card->kind, "recorder") == 0)
		card = recorder_card_inner(card);
	return card;
}

int emu_card_vicc_port(emu_card *card)
{
	card = unwrap(card);
	return card && strcmp(card->kind, "vicc") == 0 ? vicc_card_port(card) : -1;
}

int emu_card_finish(emu_card *card)
{
	card = unwrap(card);
	return card && strcmp(card->kind, "replay") == 0 ? replay_card_finish(card) : 0;
}

bool emu_card_failed(emu_card *card)
{
	card = unwrap(card);
	return card && strcmp(card->kind, "replay") == 0 && replay_card_failed(card);
}

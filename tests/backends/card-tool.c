/* card-tool.c — drive one card backend from a script, for script tests and
 * for poking at a card by hand.
 *
 * Usage: card-tool SPEC        (SPEC as for emu_card_open, e.g. vicc:0)
 * Prints "port N" first for a vicc card (the port the card must connect to).
 * Then reads one operation per line from stdin and prints one answer line:
 *   power-on | warm-reset   ->  "atr HEX" or "mute"
 *   power-off               ->  "ok"
 *   HEX (a command APDU)    ->  "HEX" (the response) or "mute"
 * Blank lines and lines starting with '#' are ignored; anything else prints
 * "error: ..." and is skipped.  At end of input the session is finished
 * (a replay card checks it was replayed to the end); exit status 0, or 1 if
 * the card was a replay that deviated, 2 for a bad spec.
 */
#include "tests/backends/backends.h"
#include "tests/backends/transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void print_reset(int rc, const uint8_t *atr, size_t len)
{
	char *hex;

	if (rc < 0) {
		puts("mute");
		return;
	}
	hex = transcript_hex(atr, len);
	printf("atr %s\n", hex ? hex : "?");
	free(hex);
}

/* Parse a command line with the transcript parser (one "> HEX" line and a
 * dummy response), so that the tool accepts exactly the transcript syntax. */
static int parse_command(const char *line, uint8_t **capdu, size_t *len, char **error)
{
	char *text = NULL;
	struct transcript *t;

	if (asprintf(&text, "> %s\n< 90 00\n", line) < 0)
		return -1;
	t = transcript_parse(text, strlen(text), error);
	free(text);
	if (!t)
		return -1;
	if (t->count != 1 || t->entries[0].redacted) {
		transcript_free(t);
		*error = strdup("not a plain command");
		return -1;
	}
	*capdu = t->entries[0].command;
	*len = t->entries[0].command_len;
	t->entries[0].command = NULL;
	transcript_free(t);
	return 0;
}

static void run_line(emu_card *card, char *line, uint8_t *rapdu)
{
	uint8_t atr[ATR_MAX_LEN];
	size_t atr_len = 0, rlen = 0, clen;
	uint8_t *capdu;
	char *error = NULL, *hex;
	int rc;

	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0] || line[0] == '#')
		return;
	if (strcmp(line, "power-on") == 0) {
		rc = card->ops->power_on(card, atr, &atr_len);
		print_reset(rc, atr, atr_len);
		return;
	}
	if (strcmp(line, "warm-reset") == 0) {
		rc = card->ops->warm_reset(card, atr, &atr_len);
		print_reset(rc, atr, atr_len);
		return;
	}
	if (strcmp(line, "power-off") == 0) {
		card->ops->power_off(card);
		puts("ok");
		return;
	}
	if (parse_command(line, &capdu, &clen, &error) < 0) {
		printf("error: %s\n", error ? error : "out of memory");
		free(error);
		return;
	}
	rc = card->ops->transmit(card, capdu, clen, rapdu, &rlen);
	free(capdu);
	if (rc < 0) {
		puts("mute");
		return;
	}
	hex = transcript_hex(rapdu, rlen);
	puts(hex ? hex : "?");
	free(hex);
}

int main(int argc, char **argv)
{
	char *error = NULL, *line = NULL;
	size_t cap = 0;
	emu_card *card;
	uint8_t *rapdu;
	int status;

	if (argc != 2) {
		fprintf(stderr, "usage: card-tool SPEC < operations\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	card = emu_card_open(argv[1], &error);
	if (!card) {
		fprintf(stderr, "card-tool: %s\n", error ? error : "out of memory");
		free(error);
		return 2;
	}
	rapdu = malloc(EMU_RAPDU_MAX);
	if (!rapdu) {
		emu_card_destroy(card);
		return 2;
	}
	if (emu_card_vicc_port(card) >= 0)
		printf("port %d\n", emu_card_vicc_port(card));
	while (getline(&line, &cap, stdin) >= 0)
		run_line(card, line, rapdu);
	status = emu_card_finish(card) == 0 ? 0 : 1;
	emu_card_destroy(card);
	free(line);
	free(rapdu);
	return status;
}

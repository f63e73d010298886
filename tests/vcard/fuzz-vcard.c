/* fuzz-vcard.c — libFuzzer target: sequences of APDUs and power events
 * against the virtual card.
 *
 * The card directory is made once by mkcard.sh (VCARD_TOP_SRCDIR is baked in
 * by the build rule, ONSHI_TOP_SRCDIR overrides it) and removed at exit.
 * The card is loaded once; each input starts from a cold reset with every
 * retry counter restored and extended length on, so inputs do not depend
 * on each other.  Input = records:
 *   00 LL LL <APDU>   send an APDU of LL LL bytes (capped at the input left)
 *   01                warm reset
 *   02                power off + on
 *   03                SELECT JPKI AP and VERIFY the right auth PIN (reaches
 *                     the authenticated states a fuzzer cannot guess)
 *   04                toggle extended length
 * Invariants checked: every answer is 2..EMU_RAPDU_MAX bytes and ends in a
 * plausible SW1 (61-6F or 90).
 */
#include "vcard/vcard.h"
#include "emu/emu-card.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef VCARD_TOP_SRCDIR
#define VCARD_TOP_SRCDIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char card_root[] = "/tmp/fuzz-vcard-XXXXXX";
static char card_dir[64];
static uint8_t rapdu[EMU_RAPDU_MAX];
static vcard *card;

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	return remove(path);
}

static void remove_card(void)
{
	vcard_free(card);
	nftw(card_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *top = getenv("ONSHI_TOP_SRCDIR");
	char script[4096];
	if (!mkdtemp(card_root))
		abort();
	atexit(remove_card);
	snprintf(card_dir, sizeof card_dir, "%s/card", card_root);
	snprintf(script, sizeof script, "%s/tests/vcard/mkcard.sh", top ? top : VCARD_TOP_SRCDIR);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", script, card_dir, "--auth-pin", "1234", (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "fuzz-vcard: mkcard.sh failed\n");
		abort();
	}
	char *error = NULL;
	card = vcard_load(card_dir, &error);
	if (!card) {
		fprintf(stderr, "fuzz-vcard: %s\n", error ? error : "vcard_load failed");
		abort();
	}
	return 0;
}

static void exchange(const uint8_t *capdu, size_t len)
{
	size_t n = vcard_process(card, capdu, len, rapdu);
	if (n < 2 || n > EMU_RAPDU_MAX)
		abort();
	uint8_t sw1 = rapdu[n - 2];
	if (!(sw1 == 0x90 || (sw1 >= 0x61 && sw1 <= 0x6F)))
		abort();
}

static void login(void)
{
	static const uint8_t select_jpki[] = { 0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0xF0,
					       0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01 };
	static const uint8_t verify_auth[] = { 0x00, 0x20, 0x00, 0x98, 0x04, '1', '2', '3', '4' };
	exchange(select_jpki, sizeof select_jpki);
	exchange(verify_auth, sizeof verify_auth);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t atr[VCARD_ATR_MAX];
	size_t atr_len;
	bool extended = true;
	vcard_restore_retry_counters(card);
	vcard_set_extended_length(card, true);
	vcard_power_on(card, atr, &atr_len);
	size_t pos = 0;
	while (pos < size) {
		uint8_t op = data[pos++];
		switch (op % 5) {
		case 0: {
			if (size - pos < 2)
				goto done;
			size_t len = (size_t)data[pos] << 8 | data[pos + 1];
			pos += 2;
			if (len > size - pos)
				len = size - pos;
			exchange(data + pos, len);
			pos += len;
			break;
		}
		case 1:
			vcard_warm_reset(card, atr, &atr_len);
			break;
		case 2:
			vcard_power_off(card);
			vcard_power_on(card, atr, &atr_len);
			break;
		case 3:
			login();
			break;
		case 4:
			extended = !extended;
			vcard_set_extended_length(card, extended);
			break;
		}
	}
done:
	return 0;
}

/* reader-quirks.h — per-reader quirks from the bundle's Info.plist.
 *
 * Contract:
 *  - Pure functions over the Info.plist text: the parallel arrays
 *    ifdVendorID / ifdProductID / ifdOnshiQuirks (generated from
 *    driver/readers.list, see doc/packaging.md) are walked in step; the
 *    first entry matching VID:PID gives the quirk words.  A missing or
 *    malformed array, or no match, means "no quirks".
 *  - Quirk words the driver acts on: no-interrupt, slow-open,
 *    min-firmware=M.mm, ext-apdu-broken.  Others (contactless, vendor-class,
 *    kernel-nfc=..., no-autosuspend, udev-only) concern packaging or need no
 *    driver action; unknown words are ignored (the generator rejects them).
 */
#ifndef ONSHI_DRIVER_READER_QUIRKS_H
#define ONSHI_DRIVER_READER_QUIRKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct reader_quirks {
	bool no_interrupt;         /* ignore the interrupt endpoint: pcscd polls */
	bool slow_open;            /* 4x timeouts for the first exchanges */
	bool ext_apdu_broken;      /* run an extended-APDU reader at short-APDU level */
	uint16_t min_firmware;     /* BCD bcdDevice the reader needs, 0 = any */
};

#define QUIRK_SLOW_OPEN_FACTOR 4u

/* Parses comma-separated quirk words ("none" or "" for none). */
void quirks_parse_words(const char *words, size_t len, struct reader_quirks *out);
/* Looks VID:PID up in an Info.plist text; false (and *out cleared) if absent. */
bool quirks_from_plist(const char *plist, size_t len, uint16_t vid, uint16_t pid,
                       struct reader_quirks *out);
/* True when the firmware is older than the reader's min-firmware quirk. */
bool quirks_firmware_too_old(const struct reader_quirks *q, uint16_t bcd_device);

#endif

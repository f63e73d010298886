/* emu-fw-keypad.h — PC_to_RDR_Secure on a pinpad: the PIN verification and
 * modification data structures of CCID 1.1 §6.1.11 and the insertion of the
 * digits the user typed into the APDU template.
 *
 * Contract: pure functions.  emu_pin_parse() checks every length, offset and
 * field against the template APDU before anything is used; on error it
 * returns the offset of the offending byte inside the whole CCID message
 * (what bError reports), else 0.  emu_pin_build() writes the APDU with the
 * PIN(s) inserted; callers wipe it (explicit_bzero) after use.
 *
 * Layout after bPINOperation (the CCID frame, not the PC/SC Part 10 struct:
 * no bTimeOut2, no ulDataLength; for modify, bMsgIndex2 is present only when
 * bNumberMessage != 0 and bMsgIndex3 only when bNumberMessage >= 3).
 */
#ifndef ONSHI_EMU_FW_KEYPAD_H
#define ONSHI_EMU_FW_KEYPAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_PIN_MAX_DIGITS 16
#define EMU_PIN_DEFAULT_TIMEOUT_S 30

typedef struct emu_pin_request {
	bool modify;
	uint8_t timeout_s;          /* bTimeOut, 0 replaced by the default */
	uint8_t format;             /* bmFormatString */
	uint8_t block;              /* bmPINBlockString */
	uint8_t length_format;      /* bmPINLengthFormat */
	uint8_t offset_old, offset_new; /* modify only, in bytes */
	uint8_t min_digits, max_digits;
	uint8_t confirm;            /* bConfirmPIN (modify): b0 confirm new, b1 enter current */
	uint8_t validation;         /* bEntryValidationCondition */
	uint8_t teo_prologue[3];
	const uint8_t *apdu;        /* template, points into the message */
	size_t apdu_len;
	size_t apdu_msg_offset;     /* where the template starts in the message */
} emu_pin_request;

/* data = abData of PC_to_RDR_Secure (starting with bPINOperation). */
unsigned emu_pin_parse(const uint8_t *data, size_t len, emu_pin_request *req);

/* How many keypad entries the request needs (1 for verify, 1..3 for modify). */
unsigned emu_pin_entries_needed(const emu_pin_request *req);

/* PINs as ASCII digit strings.  For verify pass the PIN as pin_new.
 * out has room for req->apdu_len bytes.  0, or -1 if a PIN is out of range. */
int emu_pin_build(const emu_pin_request *req, const char *pin_old, size_t old_len,
		  const char *pin_new, size_t new_len, uint8_t *out);

#endif

/* vcard.h — a virtual My Number card (個人番号カード) as pure APDU logic.
 *
 * Contract: vcard_load() reads a card directory made by tests/vcard/mkcard.sh
 * (file names documented there and in tests/vcard/README.md).  The card then
 * answers command APDUs like a real contact/contactless My Number card as
 * described in shared/reference/jpki.md: JPKI AP, 券面事項入力補助AP,
 * 券面事項確認AP and (SELECT only) 共通AP.  It is the card side of the wire
 * and shares no codec or state with daemon/.
 *
 * Behaviour chosen where the reference leaves room (see README.md):
 *  - READ BINARY with Le = 00 / 0000 ("up to 256 / 65536") returns what is
 *    left of the EF with 9000; an explicit Le beyond the end returns what is
 *    left with 6282; an offset at or beyond the end gives 6B00.
 *  - Security state (verified keys) survives a warm reset, together with the
 *    current AP and EF, and is cleared by power-off and by any SELECT by DF
 *    name (re-SELECT of the AP is how OpenSC logs out).
 *  - Retry counters live as long as the vcard object (the card's EEPROM):
 *    power cycles do not reset them.
 *  - VERIFY data of a length the key's format never has (e.g. 5 digits for a
 *    4-digit PIN) gives 6700 without consuming a try.
 *
 * Not thread-safe: one caller at a time (the reader firmware thread).
 * No PIN or password ever appears in an error string.
 */
#ifndef ONSHI_VCARD_H
#define ONSHI_VCARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vcard vcard;

/* Key EFs with a retry counter. */
enum vcard_key {
	VCARD_KEY_AUTH_PIN,     /* JPKI 0018, 4 digits, 3 tries */
	VCARD_KEY_SIGN_PW,      /* JPKI 001B, 6-16 [A-Z0-9], 5 tries */
	VCARD_KEY_TEXT_PIN,     /* 入力補助 0011, 4 digits, 3 tries */
	VCARD_KEY_TEXT_A,       /* 入力補助 0014, 照合番号A, 3 tries (assumed) */
	VCARD_KEY_TEXT_B,       /* 入力補助 0015, 照合番号B, 10 tries */
	VCARD_KEY_VISUAL_B,     /* 確認 0012, 照合番号B, 10 tries */
	VCARD_KEY_VISUAL_A,     /* 確認 0013, 照合番号A, 3 tries (assumed) */
	VCARD_KEY_COUNT
};

/* Largest contact ATR the card reports. */
#define VCARD_ATR_MAX 33

/* Load the card in DIR.  NULL with *error set (free() it) on failure. */
vcard *vcard_load(const char *dir, char **error);
void vcard_free(vcard *card);

/* Cold reset: writes the contact ATR (≤ VCARD_ATR_MAX bytes) and clears the
 * security state and the current AP/EF. */
void vcard_power_on(vcard *card, uint8_t *atr, size_t *atr_len);
/* Warm reset: writes the ATR again; keeps the security state. */
void vcard_warm_reset(vcard *card, uint8_t *atr, size_t *atr_len);
/* Field off / contacts deactivated: clears the security state. */
void vcard_power_off(vcard *card);

/* Process one command APDU.  rapdu must have room for EMU_RAPDU_MAX
 * (65538) bytes.  Returns the response length (data ‖ SW1 SW2, ≥ 2). */
size_t vcard_process(vcard *card, const uint8_t *capdu, size_t len, uint8_t *rapdu);

/* Whether the card accepts extended Lc/Le (default: true).  Without it an
 * extended APDU gets 6700. */
void vcard_set_extended_length(vcard *card, bool enabled);

/* For tests: tries left on a key EF, and whether it is verified now. */
unsigned vcard_tries_left(const vcard *card, enum vcard_key key);
bool vcard_key_verified(const vcard *card, enum vcard_key key);
/* For tests and fuzzing: restores every retry counter to its maximum (what
 * a municipal office's PIN reset does), so one card can be reused. */
void vcard_restore_retry_counters(vcard *card);

#endif

/* pcsc-card.h — one card session over libpcsclite, for a reader's worker
 * thread, plus the pure PC/SC Part 10 helpers.
 *
 * Contract:
 *  - A session owns its SCARDCONTEXT (one per worker thread: pcsc-lite
 *    contexts must not be shared by concurrent calls).
 *  - pcsc_session_connect(exclusive=true) is used whenever a key may get
 *    unlocked; pcsc_session_end(unpower=true) then powers the card off,
 *    since a warm reset keeps the verified state on JPKI cards.
 *  - pcsc_session_transmit() is a jpki_transmit_fn (see jpki-ops.h).
 *  - The Part 10 helpers never see a PIN: VERIFY_PIN_DIRECT carries only
 *    placeholders the reader overwrites with the digits typed on it.
 */
#ifndef ONSHI_PCSC_CARD_H
#define ONSHI_PCSC_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <PCSC/winscard.h>
#include <PCSC/wintypes.h>

#include "jpki-ops.h"

struct pcsc_session {
	SCARDCONTEXT ctx;
	bool ctx_valid;
	SCARDHANDLE handle;
	DWORD protocol;
	bool connected;
	char reader[128];
};

/* Core result for a PC/SC return code (SCARD_S_SUCCESS -> JPKI_OK). */
enum jpki_result pcsc_result(LONG rv);

/* Establishes the context.  Returns SCARD_S_SUCCESS or the PC/SC code. */
LONG pcsc_session_init(struct pcsc_session *s, const char *reader);
void pcsc_session_fini(struct pcsc_session *s);

/* Connects (T=0 or T=1).  Returns the PC/SC code; SCARD_E_SHARING_VIOLATION
 * means another client holds the card (the caller reports Busy). */
LONG pcsc_session_connect(struct pcsc_session *s, bool exclusive);
/* Disconnects; unpower powers the card down (clears security state). */
void pcsc_session_end(struct pcsc_session *s, bool unpower);

int pcsc_session_transmit(void *ctx, const uint8_t *capdu, size_t clen,
			  uint8_t *rapdu, size_t *rlen);

/* Asks the reader (direct connection, no card needed) for its Part 10
 * features.  *verify_ioctl is 0 when VERIFY_PIN_DIRECT is not offered. */
LONG pcsc_reader_pinpad(struct pcsc_session *s, uint32_t *verify_ioctl);

/* VERIFY_PIN_DIRECT for a pin_len-digit PIN on the current EF; *sw gets the
 * card's (or reader's 64xx) status word.  Returns the PC/SC code. */
LONG pcsc_session_verify_pin_direct(struct pcsc_session *s, uint32_t ioctl_code,
				    uint8_t pin_len, uint8_t timeout_s, uint16_t *sw);

/* ---- pure helpers (unit-testable) ---- */

/* GET_FEATURE_REQUEST TLV list: 0 found, 1 absent, -1 malformed. */
int pcsc_find_feature(const uint8_t *tlv, size_t len, uint8_t tag, uint32_t *ioctl_code);

/* PIN_VERIFY_STRUCTURE for VERIFY (00 20 00 80) of a fixed-length ASCII
 * PIN.  Returns its length, or 0 when cap is too small or pin_len is not
 * 1..15. */
size_t pcsc_build_verify_pin_direct(uint8_t *buf, size_t cap, uint8_t pin_len, uint8_t timeout_s);

/* Contactless guess: a PC/SC pseudo-ATR (3B 8n 80 01 ...) that pcsc-lite
 * readers synthesise for ISO 14443 cards, or a reader name naming the
 * contactless interface ("Contactless", "PICC", "NFC", " CL "). */
bool pcsc_looks_contactless(const char *reader_name, const uint8_t *atr, size_t atr_len);

#endif

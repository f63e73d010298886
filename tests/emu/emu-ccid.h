/* emu-ccid.h — the emulated reader's firmware: the CCID command set on top
 * of cards in slots.  Pure logic, no I/O: the USB layer hands it complete
 * bulk-OUT transfers and class requests and gets frames back through the
 * environment callbacks, so Check tests drive it without umockdev.
 *
 * Threading: every function except emu_ccid_abort_wait() is called from the
 * single firmware thread (or a test).  emu_ccid_abort_wait() may be called
 * from any thread to cut short a wait in progress (Abort request, unplug).
 */
#ifndef ONSHI_EMU_CCID_H
#define ONSHI_EMU_CCID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "emu-card.h"
#include "emu-profile.h"

typedef struct emu_ccid emu_ccid;

typedef struct emu_ccid_env {
	void *user;
	/* Queue one RDR_to_PC message (or a deliberately broken frame) on bulk IN. */
	void (*bulk_in)(void *user, const uint8_t *frame, size_t len);
	/* Queue one message on the interrupt IN endpoint. */
	void (*interrupt_in)(void *user, const uint8_t *frame, size_t len);
	/* Let time pass (time extensions, keypad typing).  Returns false when the
	 * wait was cut short by emu_ccid_abort_wait(): stop and return. */
	bool (*wait_ms)(void *user, unsigned ms);
	/* A card leaves the reader for good (replaced, removed, or still in at
	 * emu_ccid_take_out_cards()); takes ownership.  The emulator learns a
	 * replay card's verdict here.  NULL: the card is destroyed. */
	void (*card_out)(void *user, emu_card *card);
} emu_ccid_env;

/* Faults a test can inject; each applies to the next `count` responses
 * (endless-wtx and t1-garbage until cleared with EMU_FAULT_NONE). */
typedef enum emu_ccid_fault {
	EMU_FAULT_NONE = 0,
	EMU_FAULT_SHORT_FRAME,    /* response cut below its header / dwLength */
	EMU_FAULT_WRONG_SEQ,      /* response carries a bSeq that was not sent */
	EMU_FAULT_OVERSIZED_LENGTH, /* dwLength larger than the frame and than dwMaxCCIDMessageLength */
	EMU_FAULT_ENDLESS_TIME_EXTENSION, /* time-extension replies forever */
	EMU_FAULT_BAD_SLOT,       /* response names a slot that does not exist */
	EMU_FAULT_T1_GARBAGE,     /* card-side T=1 answers with corrupt blocks (bad LRC, bad PCB) */
	EMU_FAULT_HARDWARE_ERROR, /* RDR_to_PC_HardwareError on the interrupt endpoint */
	EMU_FAULT_MUTE,           /* the card stops answering (ICC mute) */
} emu_ccid_fault;
/* How the firmware applies them: frame faults (short, wrong bSeq, oversized
 * dwLength, bad slot) alter the next `count` final responses, never the
 * time-extension frames before them; HARDWARE_ERROR queues one
 * RDR_to_PC_HardwareError (overcurrent) on the interrupt endpoint at once and
 * fails the next `count` commands with bError HW_ERROR; MUTE makes the next
 * `count` card operations (power-on or APDU) fail with ICC_MUTE;
 * ENDLESS_TIME_EXTENSION answers every XfrBlock/Secure with time extensions
 * until the wait is aborted, then with CMD_ABORTED. */

emu_ccid *emu_ccid_new(const emu_profile *profile, const emu_ccid_env *env);
void emu_ccid_free(emu_ccid *ccid);

/* One complete bulk-OUT transfer: a PC_to_RDR message, possibly malformed. */
void emu_ccid_bulk_out(emu_ccid *ccid, const uint8_t *msg, size_t len);

/* Class-specific request on the CCID interface (Abort, GET_CLOCK_FREQUENCIES,
 * GET_DATA_RATES).  For IN requests writes up to wLength bytes to data and
 * returns the count; returns -1 to STALL the request. */
int emu_ccid_control(emu_ccid *ccid, uint8_t bmRequestType, uint8_t bRequest,
		     uint16_t wValue, uint16_t wIndex, uint8_t *data, uint16_t wLength);

/* Put a card in a slot (takes ownership; replaces and destroys any card
 * already there) or take it out.  Both queue NotifySlotChange when the
 * profile has an interrupt endpoint. */
void emu_ccid_insert(emu_ccid *ccid, unsigned slot, emu_card *card);
void emu_ccid_remove(emu_ccid *ccid, unsigned slot);

/* At the end, firmware thread stopped: hands every card still in a slot
 * to env.card_out. */
void emu_ccid_take_out_cards(emu_ccid *ccid);
bool emu_ccid_card_present(const emu_ccid *ccid, unsigned slot);

/* The reader lost its USB power (unplug): every card is deactivated (its
 * power_off runs, so its security state is gone), T=1 and chaining state
 * and a pending Abort are forgotten.  Cards stay in their slots; faults,
 * keypad and card delays, which are the test's settings, stay too.  No
 * NotifySlotChange: the device is off. */
void emu_ccid_power_loss(emu_ccid *ccid);

/* What the simulated user types on the keypad for the next PC_to_RDR_Secure:
 * digits, or NULL to press Cancel, or "" to let the entry time out.  A PIN
 * modification takes several entries separated by ',' (the OK key), e.g.
 * "1234,5678,5678" = current, new, confirmation.  Used once, then wiped. */
void emu_ccid_set_keypad(emu_ccid *ccid, const char *keys);

void emu_ccid_inject(emu_ccid *ccid, emu_ccid_fault fault, unsigned count);

/* A slow card: every APDU the card in `slot` gets takes `ms` (0: none).  At
 * TPDU level the card asks for S(WTX) when that exceeds its BWT; at APDU
 * levels the reader sends time-extension replies while it waits. */
void emu_ccid_set_card_delay(emu_ccid *ccid, unsigned slot, unsigned ms);

/* Any thread: cut short the current wait_ms() (CCID Abort, unplug), and a
 * card's own blocking wait (emu_card_ops.interrupt) while a command runs. */
void emu_ccid_abort_wait(emu_ccid *ccid);

/* Any thread, for a command that arrives while the reader still works on
 * an earlier one (every profile has bMaxCCIDBusySlots 1): answer it at once
 * as a real reader does, through env.bulk_in: the command's response type,
 * bSeq and bSlot echoed, bStatus "failed" with the slot's ICC status as it
 * was when the busy command began, bError CMD_SLOT_BUSY (0xE0).  Returns
 * false, sending nothing, for a message the firmware must still see:
 * PC_to_RDR_Abort (it completes the abort of the busy command) and one too
 * short to carry a header or naming no slot of this reader (the firmware's
 * own error answers those).  The caller decides that the reader is busy. */
bool emu_ccid_answer_busy(emu_ccid *ccid, const uint8_t *msg, size_t len);

/* Counters for benchmarks and tests. */
typedef struct emu_ccid_stats {
	unsigned long commands;       /* PC_to_RDR messages handled */
	unsigned long apdus;          /* APDUs passed to cards */
	unsigned long time_extensions;
	unsigned long t1_blocks;      /* T=1 blocks exchanged with the host */
} emu_ccid_stats;
void emu_ccid_get_stats(const emu_ccid *ccid, emu_ccid_stats *out);

#endif

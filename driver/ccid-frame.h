/* ccid-frame.h — CCID 1.1 message codec (bulk and interrupt pipes).
 *
 * Contract:
 *  - Builders write one complete PC_to_RDR message into a caller buffer and
 *    return its length (> 0), or a negative enum ccid_frame_err when the
 *    buffer is too small or an argument is invalid; nothing is written past
 *    `cap`.  They never allocate and keep no state: the caller owns bSeq.
 *  - ccid_parse_response() validates one RDR_to_PC bulk message against the
 *    command it answers (type, bSlot, bSeq) and the limits in force
 *    (dwLength <= bytes received, <= dwMaxCCIDMessageLength - 10, <= the
 *    caller's capacity) before anything is read from the payload, then
 *    decodes bStatus/bError into enum ccid_result.  Bytes received beyond
 *    10 + dwLength are ignored (some readers pad short packets).
 *    CCID_PARSE_WRONG_SEQ means "stale frame": the transport may drop it and
 *    read again (bounded by the caller).
 *  - The payload pointer in struct ccid_response points into the caller's
 *    receive buffer; no copy is made.
 *  - Secure (PIN) builders copy PIN-pad parameters only, never PIN digits
 *    (the reader collects them), but the APDU template may contain filler;
 *    callers should still explicit_bzero their buffers.
 */
#ifndef ONSHI_DRIVER_CCID_FRAME_H
#define ONSHI_DRIVER_CCID_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <onshi/ccid-const.h>
#include <onshi/part10-const.h>

#include "atr.h"

/* Largest dwLength the host accepts: the descriptor maximum less the header. */
#define CCID_MAX_PAYLOAD        (65544u - CCID_HEADER_LEN)
/* Suggested bound on consecutive time-extension replies to one command
 * before the transport gives up (each one re-arms a capped read timeout). */
#define CCID_MAX_TIME_EXTENSIONS 60
#define CCID_T0_PARAMS_LEN      5
#define CCID_T1_PARAMS_LEN      7
#define CCID_HW_ERROR_LEN       4

enum ccid_frame_err {
	CCID_FRAME_E_NOSPACE = -1,    /* output buffer too small */
	CCID_FRAME_E_INVALID = -2,    /* bad argument (NULL, length, value) */
	CCID_FRAME_E_PIN_STRUCT = -3, /* malformed Part 10 PIN structure */
};

/* ---- builders ----------------------------------------------------------- */
ssize_t ccid_build_power_on(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq, uint8_t voltage);
ssize_t ccid_build_power_off(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq);
ssize_t ccid_build_get_slot_status(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq);
/* bBWI multiplies the reader's block waiting time (T=1 WTX); wLevelParameter
 * is the extended-APDU chaining code or the expected length at char level. */
ssize_t ccid_build_xfr_block(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                             uint8_t bwi, uint16_t level_param,
                             const uint8_t *data, size_t len);
ssize_t ccid_build_get_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq);
ssize_t ccid_build_reset_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq);
ssize_t ccid_build_escape(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                          const uint8_t *data, size_t len);
ssize_t ccid_build_abort(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq);

/* Protocol parameters of SetParameters / RDR_to_PC_Parameters. */
struct ccid_params {
	uint8_t protocol;          /* 0 or 1 */
	uint8_t fidi;              /* bmFindexDindex */
	uint8_t tcckst;            /* bmTCCKST0/1 */
	uint8_t guard_time;        /* bGuardTimeT0/T1 (TC1 = N) */
	uint8_t waiting_integer;   /* T=0: WI; T=1: BWI<<4 | CWI */
	uint8_t clock_stop;        /* bClockStop */
	uint8_t ifsc;              /* T=1 only */
	uint8_t nad;               /* T=1 only */
};
/* Fills *p from a parsed ATR for `protocol`, using `fidi` for
 * bmFindexDindex (what PPS agreed; pass info->ta1 or 0x11).  Returns false
 * for a protocol other than 0/1. */
bool ccid_params_from_atr(const struct atr_info *info, unsigned protocol, uint8_t fidi,
                          struct ccid_params *p);
ssize_t ccid_build_set_parameters(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                  const struct ccid_params *p);
/* Decodes the abProtocolDataStructure of a parsed RDR_to_PC_Parameters. */
bool ccid_params_parse(uint8_t protocol, const uint8_t *data, size_t len, struct ccid_params *p);

/* PC_to_RDR_Secure from a PC/SC Part 10 PIN_VERIFY_STRUCTURE /
 * PIN_MODIFY_STRUCTURE as an application passes it to SCardControl.  The
 * structure is checked (header size, ulDataLength == bytes that follow,
 * APDU of 4..CCID payload bytes); a structure whose multi-byte fields are
 * big-endian (as some callers send) is detected by ulDataLength and swapped.
 * bEntryValidationCondition outside 1..7 is replaced by 0x02 (validation
 * key), as libccid does for readers that reject other values.
 * bTeoPrologue is copied as given: for a TPDU reader talking T=1, write the
 * host's current prologue (t1_teo_prologue()) into a copy of the structure
 * at PIN_VERIFY_bTeoPrologue / PIN_MODIFY_bTeoPrologue first. */
ssize_t ccid_build_secure_verify(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                 uint8_t bwi, const uint8_t *pin_verify, size_t len);
ssize_t ccid_build_secure_modify(uint8_t *buf, size_t cap, uint8_t slot, uint8_t seq,
                                 uint8_t bwi, const uint8_t *pin_modify, size_t len);

/* ---- responses ---------------------------------------------------------- */
enum ccid_parse_status {
	CCID_PARSE_OK = 0,
	CCID_PARSE_SHORT,             /* fewer than 10 bytes */
	CCID_PARSE_WRONG_TYPE,        /* not the response to this command */
	CCID_PARSE_WRONG_SLOT,
	CCID_PARSE_WRONG_SEQ,         /* stale or foreign frame */
	CCID_PARSE_TRUNCATED,         /* dwLength > bytes received after header */
	CCID_PARSE_TOO_LONG,          /* dwLength > dwMaxCCIDMessageLength - 10 */
	CCID_PARSE_NO_ROOM,           /* dwLength > caller capacity */
	CCID_PARSE_BAD_STATUS,        /* reserved bStatus bits */
	CCID_PARSE_INVALID,           /* NULL argument, unknown command */
};

enum ccid_result {
	CCID_RES_OK = 0,
	CCID_RES_TIME_EXTENSION,      /* wait again; multiplier in wtx_multiplier */
	CCID_RES_ICC_ABSENT,
	CCID_RES_ICC_INACTIVE,        /* failed because the card is not powered */
	CCID_RES_ICC_MUTE,
	CCID_RES_PARITY_ERROR,
	CCID_RES_OVERRUN,
	CCID_RES_HW_ERROR,
	CCID_RES_BAD_ATR,             /* TS or TCK error reported by the reader */
	CCID_RES_PROTOCOL_NOT_SUPPORTED,
	CCID_RES_CLASS_NOT_SUPPORTED,
	CCID_RES_PROCEDURE_BYTE_CONFLICT,
	CCID_RES_DEACTIVATED_PROTOCOL,
	CCID_RES_BUSY_AUTO_SEQUENCE,
	CCID_RES_PIN_TIMEOUT,
	CCID_RES_PIN_CANCELLED,
	CCID_RES_SLOT_BUSY,
	CCID_RES_CMD_NOT_SUPPORTED,
	CCID_RES_BAD_PARAMETER,       /* offset of the rejected byte in bad_offset */
	CCID_RES_ABORTED,
	CCID_RES_FAILED,              /* other / vendor bError */
};

struct ccid_response {
	uint8_t type, slot, seq;
	uint8_t status, error, chain;  /* raw bStatus, bError, byte 9 */
	uint8_t icc_status;            /* CCID_ICC_PRESENT_ACTIVE/INACTIVE/ABSENT */
	uint32_t data_len;
	const uint8_t *data;           /* into the receive buffer; NULL if empty */
	enum ccid_result result;
	uint8_t wtx_multiplier;        /* TIME_EXTENSION: bError (0 read as 1) */
	uint8_t bad_offset;            /* BAD_PARAMETER: offending header offset */
};

/* For a multi-slot reader's bulk-IN demultiplexer: reads type, bSlot and
 * bSeq of a received frame without trusting them, and returns false when
 * the frame is shorter than a header, is not a bulk RDR_to_PC message, or
 * names a slot >= slots (libccid indexes its slot table with bSlot
 * unchecked, ccid.md §1.7). */
bool ccid_peek_header(const uint8_t *rx, size_t rxlen, unsigned slots,
                      uint8_t *type, uint8_t *slot, uint8_t *seq);

/* Response message type for a PC_to_RDR type, 0 if unknown. */
uint8_t ccid_response_type_for(uint8_t command_type);

enum ccid_parse_status ccid_parse_response(const uint8_t *rx, size_t rxlen,
                                           uint8_t command_type, uint8_t slot, uint8_t seq,
                                           uint32_t max_message_length, size_t capacity,
                                           struct ccid_response *out);
const char *ccid_parse_strerror(enum ccid_parse_status st);
const char *ccid_result_name(enum ccid_result r);

/* ---- interrupt pipe ----------------------------------------------------- */
/* Validates a RDR_to_PC_NotifySlotChange for a reader with `slots` slots:
 * type 0x50 and at least ceil(2*slots/8) bitmap bytes. */
bool ccid_notify_valid(const uint8_t *msg, size_t len, unsigned slots);
/* State of one slot in a validated NotifySlotChange (bits 2n / 2n+1). */
bool ccid_notify_slot(const uint8_t *msg, size_t len, unsigned slot,
                      bool *present, bool *changed);

struct ccid_hw_error {
	uint8_t slot, seq, code;
};
bool ccid_parse_hardware_error(const uint8_t *msg, size_t len, struct ccid_hw_error *out);

#endif

/* xchg-ext.h — planner for one APDU exchange with an extended-APDU-level
 * CCID reader (CCID 1.1 §6.1.4: wLevelParameter on PC_to_RDR_XfrBlock,
 * bChainParameter on RDR_to_PC_DataBlock).
 *
 * Contract:
 *  - Pure state machine; no I/O, no globals, no allocation.  The caller
 *    owns struct xchg_ext, the APDU (valid until the end) and the response
 *    buffer, and moves the CCID messages (ccid-frame.h) itself.
 *  - Loop:  xchg_ext_begin();  do { xchg_ext_command(&x, &data, &len, &lvl);
 *    send XfrBlock(data, len, wLevelParameter = lvl); parse the DataBlock
 *    (time extensions are the transport's business);
 *    act = xchg_ext_response(&x, payload, plen, bChainParameter); }
 *    while (act == XCHG_EXT_SEND);
 *  - Outgoing: an APDU longer than dwMaxCCIDMessageLength-10 goes out in
 *    blocks BEGIN (0x01), CONTINUE (0x03)..., END (0x02); the reader answers
 *    each non-final block with an empty DataBlock (bChainParameter 0x10).
 *  - Incoming: a DataBlock with bChainParameter 0x01 (first) or 0x03 (later)
 *    is followed by an empty XfrBlock with wLevelParameter 0x10 to get the
 *    next part, until 0x00 (first and only) or 0x02 (last).  Any other
 *    combination is a protocol error.
 *  - A response larger than the caller's buffer is still drained (to keep
 *    the reader in step) but not stored: XCHG_EXT_DONE with
 *    xchg_ext_overflowed() true, so the driver can report "insufficient
 *    buffer".  Totals above XCHG_EXT_MAX_RESPONSE (65538) or more than
 *    XCHG_EXT_MAX_PARTS parts fail.
 */
#ifndef ONSHI_DRIVER_XCHG_EXT_H
#define ONSHI_DRIVER_XCHG_EXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XCHG_EXT_MAX_RESPONSE  65538u
#define XCHG_EXT_MAX_PARTS     4096u

enum xchg_ext_action {
	XCHG_EXT_SEND = 0,     /* call xchg_ext_command() and send */
	XCHG_EXT_DONE,
	XCHG_EXT_ERROR,
};

enum xchg_ext_error {
	XCHG_EXT_ERR_NONE = 0,
	XCHG_EXT_ERR_ARGUMENT,
	XCHG_EXT_ERR_STATE,        /* call out of order */
	XCHG_EXT_ERR_PROTOCOL,     /* unexpected bChainParameter or data */
	XCHG_EXT_ERR_TOO_LONG,     /* response above 65538 bytes */
	XCHG_EXT_ERR_TOO_MANY_PARTS,
};

enum xchg_ext_phase {
	XCHG_EXT_IDLE = 0,
	XCHG_EXT_TO_SEND,          /* next: a block of the command APDU */
	XCHG_EXT_WAIT_ACK,         /* sent BEGIN/CONTINUE, want empty 0x10 */
	XCHG_EXT_WAIT_PART,        /* sent last command block or 0x10 request */
	XCHG_EXT_TO_REQUEST,       /* next: empty block with 0x10 */
	XCHG_EXT_FINISHED,
	XCHG_EXT_FAILED,
};

struct xchg_ext {
	const uint8_t *apdu;
	size_t apdu_len, sent, max_block;
	uint8_t *resp;
	size_t resp_cap, resp_len, total;
	unsigned parts;
	bool overflow;
	enum xchg_ext_phase phase;
	enum xchg_ext_error error;
};

/* max_message_length: the reader's dwMaxCCIDMessageLength (> 10). */
bool xchg_ext_begin(struct xchg_ext *x, const uint8_t *apdu, size_t len,
                    uint32_t max_message_length, uint8_t *resp, size_t resp_cap);
bool xchg_ext_command(struct xchg_ext *x, const uint8_t **data, size_t *len, uint16_t *level);
enum xchg_ext_action xchg_ext_response(struct xchg_ext *x, const uint8_t *data, size_t len,
                                       uint8_t chain);
/* Bytes stored in the response buffer (0 unless finished). */
size_t xchg_ext_response_len(const struct xchg_ext *x);
bool xchg_ext_overflowed(const struct xchg_ext *x);
enum xchg_ext_error xchg_ext_error(const struct xchg_ext *x);
const char *xchg_ext_strerror(enum xchg_ext_error e);

#endif

/* emu-fw-apdu.h — extended-APDU-level exchanges (CCID 1.1 §6.1.4): the
 * wLevelParameter chaining of a command APDU from the host and the
 * bChainParameter chaining of the response back to it.
 *
 * Contract: pure state machine over caller-owned buffers.  A command may be
 * at most EMU_CAPDU_MAX bytes; a response at most EMU_RAPDU_MAX.  Pieces of
 * the response are at most `piece_max` bytes (dwMaxCCIDMessageLength - 10).
 */
#ifndef ONSHI_EMU_FW_APDU_H
#define ONSHI_EMU_FW_APDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct emu_xapdu {
	uint8_t *cmd;          /* EMU_CAPDU_MAX bytes */
	size_t cmd_len;
	bool cmd_open;         /* a chained command has begun */
	uint8_t *resp;         /* EMU_RAPDU_MAX bytes */
	size_t resp_len, resp_off;
	bool resp_open;        /* a chained response is being sent */
} emu_xapdu;

typedef enum emu_xapdu_step {
	EMU_XAPDU_NEED_MORE,   /* answer an empty block, bChainParameter 0x10 */
	EMU_XAPDU_COMPLETE,    /* cmd[0..cmd_len) is a whole APDU: transmit it */
	EMU_XAPDU_SEND_MORE,   /* the host asks for the next response piece */
	EMU_XAPDU_BAD_LEVEL,   /* wLevelParameter makes no sense now */
	EMU_XAPDU_TOO_LONG,    /* the command would exceed EMU_CAPDU_MAX */
} emu_xapdu_step;

int emu_xapdu_init(emu_xapdu *x);   /* 0, or -1 when out of memory */
void emu_xapdu_free(emu_xapdu *x);
void emu_xapdu_reset(emu_xapdu *x);

/* One XfrBlock's abData and wLevelParameter. */
emu_xapdu_step emu_xapdu_command(emu_xapdu *x, uint16_t level, const uint8_t *data, size_t len);

/* The card's answer was written to resp[0..len): start sending it. */
void emu_xapdu_set_response(emu_xapdu *x, size_t len);

/* The next response piece: pointer, length and bChainParameter. */
void emu_xapdu_next_piece(emu_xapdu *x, size_t piece_max,
			  const uint8_t **piece, size_t *piece_len, uint8_t *chain);

#endif

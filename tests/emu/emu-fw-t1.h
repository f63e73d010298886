/* emu-fw-t1.h — the CARD side of the ISO/IEC 7816-3 T=1 block protocol, as
 * a TPDU-level reader makes the host talk it with the card.
 *
 * Contract: pure state machine.  Each block the host sends gets exactly one
 * block back (one PC_to_RDR_XfrBlock, one RDR_to_PC_DataBlock).  When a
 * command APDU is complete (after I-block chaining) the engine asks the card
 * interface for time (S(WTX) requests) and then has it transmit the APDU;
 * it chains the response to the host in pieces of at most IFSD bytes.
 * Only LRC is implemented (the cards we emulate announce LRC).
 * Every byte of a host block is checked before use: a malformed block gets an
 * R-block (EDC error for a bad LRC, "other error" for anything else) and
 * leaves the state as it was.
 */
#ifndef ONSHI_EMU_FW_T1_H
#define ONSHI_EMU_FW_T1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <onshi/ccid-const.h>

#define EMU_T1_BLOCK_MAX (T1_PROLOGUE_LEN + T1_MAX_INF + 1)

typedef struct emu_t1_card_if {
	void *ctx;
	/* One APDU to the card: 0, EMU_T1_MUTE or EMU_T1_ABORTED. */
	int (*transmit)(void *ctx, const uint8_t *capdu, size_t capdu_len,
			uint8_t *rapdu, size_t *rapdu_len);
	/* Before transmitting an APDU: the BWT multiplier to ask for with
	 * S(WTX request) in round `round` (0, 1, ...), or 0 to go ahead. */
	uint8_t (*wtx_multiplier)(void *ctx, unsigned round);
} emu_t1_card_if;

enum { EMU_T1_OK = 0, EMU_T1_MUTE = -1, EMU_T1_ABORTED = -2, EMU_T1_NOMEM = -3 };

typedef enum emu_t1_state {
	EMU_T1_IDLE,       /* waiting for the first I-block of a command */
	EMU_T1_RECEIVING,  /* host is chaining a command to us */
	EMU_T1_WTX,        /* we asked for more time, waiting for S(WTX response) */
	EMU_T1_SENDING,    /* we are chaining a response to the host */
} emu_t1_state;

typedef struct emu_t1 {
	uint8_t ifsc;         /* the card's receive limit (ATR TA3) */
	uint8_t ifsd;         /* the host's receive limit (S(IFS request)) */
	uint8_t host_ns;      /* N(S) expected in the host's next I-block */
	uint8_t card_ns;      /* N(S) of the card's next I-block */
	emu_t1_state state;
	unsigned wtx_round;
	uint8_t *cmd;         /* EMU_CAPDU_MAX bytes */
	size_t cmd_len;
	uint8_t *resp;        /* EMU_RAPDU_MAX bytes */
	size_t resp_len, resp_off, resp_chunk;
	uint8_t last[EMU_T1_BLOCK_MAX]; /* last block sent, for retransmission */
	size_t last_len;
} emu_t1;

/* Allocates the APDU buffers: 0 or EMU_T1_NOMEM. */
int emu_t1_init(emu_t1 *t1);
void emu_t1_free(emu_t1 *t1);
/* After an ATR: sequence numbers 0, IFSD 32, IFSC from the ATR (1..254, else 32). */
void emu_t1_reset(emu_t1 *t1, uint8_t ifsc);

/* One host block in, one card block out (out_len set) or a negative code
 * when the card was mute or the wait was aborted (no block to send). */
int emu_t1_host_block(emu_t1 *t1, const emu_t1_card_if *card,
		      const uint8_t *blk, size_t blk_len,
		      uint8_t out[EMU_T1_BLOCK_MAX], size_t *out_len);

uint8_t emu_t1_lrc(const uint8_t *data, size_t len);
/* NAD PCB LEN INF LRC into out (room for EMU_T1_BLOCK_MAX); inf_len <= 254. */
size_t emu_t1_build(uint8_t nad, uint8_t pcb, const uint8_t *inf, size_t inf_len, uint8_t *out);

#endif

/* t1.h — host side of the ISO/IEC 7816-3 T=1 block protocol (§11), as a pure
 * state machine for TPDU- and character-level CCID readers.
 *
 * Contract:
 *  - No I/O, no globals, no allocation: the caller owns struct t1_state, the
 *    APDU buffer (must stay valid until the exchange ends) and the response
 *    buffer, and moves blocks to and from the card (one XfrBlock each).
 *  - Usage:  t1_init(&st, &cfg);  [t1_begin_ifs(&st, 254, ...) to negotiate
 *    IFSD];  t1_begin(&st, apdu, n, resp, cap);  then loop:
 *        act = t1_next(&st, rx, rxlen, tx, sizeof tx, &txlen);
 *    passing rx=NULL/rxlen=0 on the first call and when no block arrived
 *    (timeout, mute, parity error reported by the reader).  Actions:
 *        T1_ACT_SEND    send tx[0..txlen), read the card's reply, call again;
 *        T1_ACT_WTX     same, but the card asked for more time: multiply the
 *                       next read timeout by t1_wtx(&st) (and pass it as bBWI);
 *        T1_ACT_DONE    exchange complete: t1_response() gives the APDU
 *                       response (or, after t1_begin_ifs, IFSD is agreed);
 *        T1_ACT_ABORTED the card aborted the chain; send tx (our S(ABORT)
 *                       response) without waiting for a reply; then failed;
 *        T1_ACT_ERROR   failed; t1_error() names why.  The state keeps its
 *                       sequence numbers; after a failure of recovery the
 *                       caller should power-cycle the card.
 *  - Error recovery (7816-3 §11.6.3): an invalid block (EDC or parity error,
 *    bad length, reserved PCB, unexpected type, wrong N(S)) or no block gets
 *    an R-block with the error bits; an R-block naming our last I-block gets
 *    it retransmitted.  T1_MAX_RETRIES (3) such recoveries in a row lead to
 *    S(RESYNCH) request, retried up to T1_MAX_RESYNCH (3) times, then ERROR.
 *    A card that keeps answering with a wrong N(R) (libccid issue #72) is thus
 *    bounded.  Card-initiated S(WTX)/S(IFS) requests are bounded by
 *    T1_MAX_S_REQUESTS per exchange, response size by min(cap, 65538).
 *  - LRC is the XOR of all bytes; CRC is ISO/IEC 13239 CRC-16 (reflected
 *    polynomial 0x8408, initial value 0xFFFF, no final XOR), sent high byte
 *    first, as OpenCT/libccid transmit it.
 */
#ifndef ONSHI_DRIVER_T1_H
#define ONSHI_DRIVER_T1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <onshi/ccid-const.h>

#define T1_MAX_RETRIES      3
#define T1_MAX_RESYNCH      3
#define T1_MAX_S_REQUESTS   64
#define T1_MAX_RESPONSE     65538u
#define T1_MAX_BLOCK        (T1_PROLOGUE_LEN + T1_MAX_INF + 2)

enum t1_edc { T1_EDC_LRC = 0, T1_EDC_CRC = 1 };

struct t1_config {
	uint8_t ifsc;         /* card's IFSC from the ATR (1..254), 0 = default 32 */
	uint8_t ifsd;         /* host IFSD the card assumes now (32 until negotiated) */
	uint8_t nad;          /* NAD byte put on every block we send */
	enum t1_edc edc;
};

enum t1_action {
	T1_ACT_SEND = 0,
	T1_ACT_WTX,
	T1_ACT_DONE,
	T1_ACT_ABORTED,
	T1_ACT_ERROR,
};

enum t1_error {
	T1_ERR_NONE = 0,
	T1_ERR_ARGUMENT,          /* bad argument to the API */
	T1_ERR_STATE,             /* t1_next without t1_begin, or after the end */
	T1_ERR_TX_BUFFER,         /* caller's tx buffer too small for a block */
	T1_ERR_RESPONSE_TOO_LONG, /* card sent more than the response buffer/65538 */
	T1_ERR_RESYNCH_FAILED,    /* retries and resynchronisations exhausted */
	T1_ERR_IFS_FAILED,        /* S(IFS) negotiation did not complete */
	T1_ERR_ABORTED_BY_CARD,
	T1_ERR_S_FLOOD,           /* too many card S-requests in one exchange */
};

enum t1_phase {
	T1_PHASE_IDLE = 0,
	T1_PHASE_START,           /* t1_begin done, nothing sent */
	T1_PHASE_SENDING,         /* chained I-block sent, awaiting R ack */
	T1_PHASE_LAST_SENT,       /* last I-block sent, awaiting card I-block */
	T1_PHASE_RECEIVING,       /* acked a chained card block, awaiting next */
	T1_PHASE_IFS_START,
	T1_PHASE_IFS,             /* S(IFS request) sent */
	T1_PHASE_RESYNCH,         /* S(RESYNCH request) sent */
	T1_PHASE_DONE,
	T1_PHASE_FAILED,
};

struct t1_state {
	struct t1_config cfg;
	uint8_t ifsc_initial;
	uint8_t ns;               /* N(S) of our next/current I-block */
	uint8_t nr;               /* N(S) we expect from the card */
	enum t1_phase phase;
	enum t1_phase resume;     /* phase to return to after S(IFS)/WTX */
	const uint8_t *apdu;
	size_t apdu_len, offset, chunk;   /* chunk: INF bytes of the I-block in flight */
	uint8_t *resp;
	size_t resp_cap, resp_len;
	bool got_first_block;     /* card I-block seen: our last I-block acked */
	uint8_t ifs_wanted;
	unsigned retries, resynchs, s_requests;
	uint8_t wtx;
	enum t1_error error;
	uint8_t last_i[T1_MAX_BLOCK];
	size_t last_i_len;
	uint8_t last[T1_MAX_BLOCK];
	size_t last_len;
};

void t1_init(struct t1_state *st, const struct t1_config *cfg);
/* Starts an APDU exchange (len >= 1).  resp/resp_cap receive the response. */
bool t1_begin(struct t1_state *st, const uint8_t *apdu, size_t len,
              uint8_t *resp, size_t resp_cap);
/* Starts an S(IFS request) negotiation of IFSD (1..254). */
bool t1_begin_ifs(struct t1_state *st, uint8_t ifsd);
enum t1_action t1_next(struct t1_state *st, const uint8_t *rx, size_t rxlen,
                       uint8_t *tx, size_t txcap, size_t *txlen);
const uint8_t *t1_response(const struct t1_state *st, size_t *len);
uint8_t t1_wtx(const struct t1_state *st);
enum t1_error t1_error(const struct t1_state *st);
const char *t1_strerror(enum t1_error e);

/* PIN pad on a TPDU reader (PC_to_RDR_Secure): the reader builds the VERIFY
 * APDU and sends it in one I-block whose prologue the host supplies, then
 * returns the card's answer block unprocessed.  t1_teo_prologue() writes
 * NAD, the I-block PCB with our N(S), and LEN 0 (the reader fills it in).
 * t1_secure_response() accepts only a single unchained I-block with the
 * expected N(S), correct length and EDC; it then points *inf at the
 * response APDU inside rx and advances both sequence numbers.  Anything
 * else (R/S-block, chaining, bad EDC) returns false and leaves the state
 * unchanged: the caller should resynchronise (or power-cycle) the card. */
void t1_teo_prologue(const struct t1_state *st, uint8_t prologue[3]);
bool t1_secure_response(struct t1_state *st, const uint8_t *rx, size_t rxlen,
                        const uint8_t **inf, size_t *len);

/* Checksums, exposed for tests and for building the PIN-pad T=1 prologue. */
uint8_t t1_lrc(const uint8_t *data, size_t len);
uint16_t t1_crc(const uint8_t *data, size_t len);
/* Writes NAD PCB LEN INF EDC into out (cap bytes); returns its length, 0 if
 * it does not fit or len > 254. */
size_t t1_build_block(uint8_t *out, size_t cap, uint8_t nad, uint8_t pcb,
                      const uint8_t *inf, size_t len, enum t1_edc edc);

#endif

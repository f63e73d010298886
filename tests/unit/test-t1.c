/* Check tests for driver/t1.c: the host side of T=1 driven block by block
 * against scripted card behaviour (ISO/IEC 7816-3 §11 scenarios). */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "t1.h"

/* Test-local block encoder (NAD 0, LRC), independent of t1_build_block. */
static size_t blk(uint8_t *out, uint8_t pcb, const uint8_t *inf, size_t n)
{
	uint8_t x = 0;

	out[0] = 0x00;
	out[1] = pcb;
	out[2] = (uint8_t)n;
	if (n)
		memcpy(out + 3, inf, n);
	for (size_t i = 0; i < 3 + n; i++)
		x ^= out[i];
	out[3 + n] = x;
	return 4 + n;
}

struct rig {
	struct t1_state st;
	uint8_t tx[T1_MAX_BLOCK];
	size_t txlen;
	uint8_t resp[1024];
	uint8_t rx[300];
	size_t rxlen;
};

static void rig_init(struct rig *r, uint8_t ifsc, uint8_t ifsd, enum t1_edc edc)
{
	struct t1_config cfg = { .ifsc = ifsc, .ifsd = ifsd, .nad = 0, .edc = edc };

	memset(r, 0, sizeof(*r));
	t1_init(&r->st, &cfg);
}

static enum t1_action card_says(struct rig *r, uint8_t pcb, const uint8_t *inf, size_t n)
{
	r->rxlen = blk(r->rx, pcb, inf, n);
	return t1_next(&r->st, r->rx, r->rxlen, r->tx, sizeof(r->tx), &r->txlen);
}

static enum t1_action card_raw(struct rig *r, const uint8_t *b, size_t n)
{
	return t1_next(&r->st, b, n, r->tx, sizeof(r->tx), &r->txlen);
}

static enum t1_action start(struct rig *r, const uint8_t *apdu, size_t n)
{
	ck_assert(t1_begin(&r->st, apdu, n, r->resp, sizeof(r->resp)));
	return t1_next(&r->st, NULL, 0, r->tx, sizeof(r->tx), &r->txlen);
}

/* The host's last block must be exactly NAD PCB LEN INF LRC. */
static void expect_tx(const struct rig *r, uint8_t pcb, const uint8_t *inf, size_t n)
{
	uint8_t want[T1_MAX_BLOCK];
	size_t wn = blk(want, pcb, inf, n);

	ck_assert_uint_eq(r->txlen, wn);
	ck_assert_mem_eq(r->tx, want, wn);
}

static const uint8_t get_challenge[] = { 0x00, 0x84, 0x00, 0x00, 0x08 };
static const uint8_t sw9000[] = { 0x90, 0x00 };

START_TEST(simple_exchange_and_sequence_numbers)
{
	struct rig r;
	static const uint8_t resp[] = { 1, 2, 3, 4, 5, 6, 7, 8, 0x90, 0x00 };
	static const uint8_t first_tx[] = { 0x00, 0x00, 0x05, 0x00, 0x84, 0x00, 0x00, 0x08, 0x89 };
	const uint8_t *out;
	size_t n;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_uint_eq(r.txlen, sizeof(first_tx));
	ck_assert_mem_eq(r.tx, first_tx, sizeof(first_tx));
	ck_assert_ptr_null(t1_response(&r.st, &n));
	ck_assert_int_eq(card_says(&r, 0x00, resp, sizeof(resp)), T1_ACT_DONE);
	ck_assert_uint_eq(r.txlen, 0);
	out = t1_response(&r.st, &n);
	ck_assert_uint_eq(n, sizeof(resp));
	ck_assert_mem_eq(out, resp, n);
	/* Second APDU uses N(S)=1 and expects the card's N(S)=1. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	expect_tx(&r, 0x40, get_challenge, 5);
	ck_assert_int_eq(card_says(&r, 0x40, sw9000, 2), T1_ACT_DONE);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	expect_tx(&r, 0x00, get_challenge, 5);
}
END_TEST

START_TEST(chaining_out_ifsc_32)
{
	struct rig r;
	uint8_t apdu[70];

	for (unsigned i = 0; i < sizeof(apdu); i++)
		apdu[i] = (uint8_t)i;
	rig_init(&r, 32, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	expect_tx(&r, 0x20, apdu, 32);                      /* I(0, M) */
	ck_assert_int_eq(card_says(&r, 0x90, NULL, 0), T1_ACT_SEND);   /* R(1) */
	expect_tx(&r, 0x60, apdu + 32, 32);                 /* I(1, M) */
	ck_assert_int_eq(card_says(&r, 0x80, NULL, 0), T1_ACT_SEND);   /* R(0) */
	expect_tx(&r, 0x00, apdu + 64, 6);                  /* I(0), last */
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
	/* Next exchange starts with N(S)=1. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	expect_tx(&r, 0x40, get_challenge, 5);
}
END_TEST

START_TEST(chaining_out_exact_multiple)
{
	struct rig r;
	uint8_t apdu[64];

	memset(apdu, 0xAB, sizeof(apdu));
	rig_init(&r, 32, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	expect_tx(&r, 0x20, apdu, 32);
	ck_assert_int_eq(card_says(&r, 0x90, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x40, apdu + 32, 32);                 /* last: no M bit */
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
}
END_TEST

START_TEST(chaining_in)
{
	struct rig r;
	uint8_t part[20];
	const uint8_t *out;
	size_t n;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	memset(part, 0x11, sizeof(part));
	ck_assert_int_eq(card_says(&r, 0x20, part, 20), T1_ACT_SEND);   /* I(0, M) */
	expect_tx(&r, 0x90, NULL, 0);                                   /* R(1) */
	memset(part, 0x22, sizeof(part));
	ck_assert_int_eq(card_says(&r, 0x60, part, 20), T1_ACT_SEND);   /* I(1, M) */
	expect_tx(&r, 0x80, NULL, 0);                                   /* R(0) */
	/* Our R-block got lost: the card asks again with an R-block. */
	ck_assert_int_eq(card_says(&r, 0x90, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x80, NULL, 0);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);  /* I(0) */
	out = t1_response(&r.st, &n);
	ck_assert_uint_eq(n, 42);
	ck_assert_uint_eq(out[0], 0x11);
	ck_assert_uint_eq(out[19], 0x11);
	ck_assert_uint_eq(out[20], 0x22);
	ck_assert_uint_eq(out[39], 0x22);
	ck_assert_uint_eq(out[40], 0x90);
	ck_assert_uint_eq(out[41], 0x00);
	/* Our N(S) advanced once (first card block acked our I-block). */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	expect_tx(&r, 0x40, get_challenge, 5);
	ck_assert_int_eq(card_says(&r, 0x40, sw9000, 2), T1_ACT_DONE);
}
END_TEST

START_TEST(wtx_request)
{
	struct rig r;
	static const uint8_t five = 5;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0xC3, &five, 1), T1_ACT_WTX);
	expect_tx(&r, 0xE3, &five, 1);
	ck_assert_uint_eq(t1_wtx(&r.st), 5);
	ck_assert_int_eq(card_says(&r, 0xC3, &five, 1), T1_ACT_WTX);   /* again */
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
	/* WTX value 0 is invalid: R-block with "other error" naming the
	 * card's next N(S), now 1. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	{
		static const uint8_t zero = 0;

		ck_assert_int_eq(card_says(&r, 0xC3, &zero, 1), T1_ACT_SEND);
		expect_tx(&r, 0x92, NULL, 0);
	}
}
END_TEST

START_TEST(wtx_flood_is_bounded)
{
	struct rig r;
	static const uint8_t one = 1;
	enum t1_action a = T1_ACT_SEND;
	unsigned count = 0;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	while ((a = card_says(&r, 0xC3, &one, 1)) == T1_ACT_WTX)
		count++;
	ck_assert_int_eq(a, T1_ACT_ERROR);
	ck_assert_uint_eq(count, T1_MAX_S_REQUESTS);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_S_FLOOD);
}
END_TEST

START_TEST(card_ifs_request)
{
	struct rig r;
	static const uint8_t ifs = 0x80;
	uint8_t apdu[200];

	memset(apdu, 0x5A, sizeof(apdu));
	rig_init(&r, 32, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0xC1, &ifs, 1), T1_ACT_SEND);
	expect_tx(&r, 0xE1, &ifs, 1);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
	/* The new IFSC (128) now sizes our chunks. */
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	expect_tx(&r, 0x60, apdu, 128);
	/* IFS 0 and 255 are invalid requests. */
	{
		static const uint8_t bad = 0xFF;

		ck_assert_int_eq(card_says(&r, 0xC1, &bad, 1), T1_ACT_SEND);
		expect_tx(&r, 0x92, NULL, 0);
	}
}
END_TEST

START_TEST(host_ifsd_negotiation)
{
	struct rig r;
	static const uint8_t fe = 0xFE, other = 0x20;

	rig_init(&r, 0xFB, 32, T1_EDC_LRC);
	ck_assert(t1_begin_ifs(&r.st, 0xFE));
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	expect_tx(&r, 0xC1, &fe, 1);
	ck_assert_int_eq(card_says(&r, 0xE1, &fe, 1), T1_ACT_DONE);
	ck_assert_uint_eq(r.st.cfg.ifsd, 0xFE);
	ck_assert(!t1_begin_ifs(&r.st, 0));
	ck_assert(!t1_begin_ifs(&r.st, 255));

	/* A card that answers with another value: request repeated, then fail. */
	rig_init(&r, 0xFB, 32, T1_EDC_LRC);
	ck_assert(t1_begin_ifs(&r.st, 0xFE));
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	for (int i = 0; i < T1_MAX_RETRIES; i++) {
		ck_assert_int_eq(card_says(&r, 0xE1, &other, 1), T1_ACT_SEND);
		expect_tx(&r, 0xC1, &fe, 1);
	}
	ck_assert_int_eq(card_says(&r, 0xE1, &other, 1), T1_ACT_ERROR);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_IFS_FAILED);
	ck_assert_uint_eq(r.st.cfg.ifsd, 32);
}
END_TEST

START_TEST(lrc_error_then_card_retransmits)
{
	struct rig r;
	uint8_t bad[6];
	const uint8_t *out;
	size_t n;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	blk(bad, 0x00, sw9000, 2);
	bad[5] ^= 0x01;                                     /* corrupt LRC */
	ck_assert_int_eq(card_raw(&r, bad, 6), T1_ACT_SEND);
	expect_tx(&r, 0x81, NULL, 0);                       /* R(0), EDC error */
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
	out = t1_response(&r.st, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], 0x90);
}
END_TEST

START_TEST(card_asks_retransmission)
{
	struct rig r;
	uint8_t apdu[40];

	memset(apdu, 0x33, sizeof(apdu));
	rig_init(&r, 32, 254, T1_EDC_LRC);
	/* Retransmission of a chained block. */
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	expect_tx(&r, 0x20, apdu, 32);
	ck_assert_int_eq(card_says(&r, 0x81, NULL, 0), T1_ACT_SEND);   /* R(0), EDC error */
	expect_tx(&r, 0x20, apdu, 32);                                 /* same block again */
	ck_assert_int_eq(card_says(&r, 0x90, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x40, apdu + 32, 8);
	/* Retransmission of the last block. */
	ck_assert_int_eq(card_says(&r, 0x92, NULL, 0), T1_ACT_SEND);   /* R(1), other error */
	expect_tx(&r, 0x40, apdu + 32, 8);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
}
END_TEST

START_TEST(three_failures_resynch_then_fail)
{
	struct rig r;
	uint8_t bad[6];

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	blk(bad, 0x00, sw9000, 2);
	bad[5] ^= 0xFF;
	for (int i = 0; i < T1_MAX_RETRIES; i++) {
		ck_assert_int_eq(card_raw(&r, bad, 6), T1_ACT_SEND);
		expect_tx(&r, 0x81, NULL, 0);
	}
	for (int i = 0; i < T1_MAX_RESYNCH; i++) {
		ck_assert_int_eq(card_raw(&r, bad, 6), T1_ACT_SEND);
		expect_tx(&r, 0xC0, NULL, 0);                       /* S(RESYNCH request) */
	}
	ck_assert_int_eq(card_raw(&r, bad, 6), T1_ACT_ERROR);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_RESYNCH_FAILED);
	ck_assert_str_eq(t1_strerror(T1_ERR_RESYNCH_FAILED), "T=1 error recovery failed");
	/* Further calls keep failing instead of sending. */
	ck_assert_int_eq(card_raw(&r, bad, 6), T1_ACT_ERROR);
}
END_TEST

START_TEST(resynch_success_restarts_exchange)
{
	struct rig r;
	uint8_t apdu[40];

	memset(apdu, 0x44, sizeof(apdu));
	rig_init(&r, 32, 254, T1_EDC_LRC);
	/* Advance N(S) to 1 first. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	expect_tx(&r, 0x60, apdu, 32);
	for (int i = 0; i < T1_MAX_RETRIES; i++)
		ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	expect_tx(&r, 0x92, NULL, 0);               /* R(N(R)=1), other error: no reply */
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	expect_tx(&r, 0xC0, NULL, 0);
	ck_assert_int_eq(card_says(&r, 0xE0, NULL, 0), T1_ACT_SEND);   /* S(RESYNCH response) */
	expect_tx(&r, 0x20, apdu, 32);              /* from the start, N(S)=0 */
	ck_assert_int_eq(card_says(&r, 0x90, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x40, apdu + 32, 8);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);
}
END_TEST

START_TEST(wrong_nr_loop_is_bounded)
{
	/* libccid issue #72: a card that answers our last I-block with an
	 * R-block naming the wrong sequence number, forever. */
	struct rig r;
	enum t1_action a;
	unsigned steps = 0;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	do {
		a = card_says(&r, 0x90, NULL, 0);           /* R(1) */
		steps++;
	} while (a == T1_ACT_SEND && steps < 100);
	ck_assert_int_eq(a, T1_ACT_ERROR);
	ck_assert_uint_eq(steps, T1_MAX_RETRIES + T1_MAX_RESYNCH + 1);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_RESYNCH_FAILED);
}
END_TEST

START_TEST(invalid_blocks_get_r_blocks)
{
	struct rig r;
	uint8_t b[300];
	uint8_t big[40];
	size_t n;

	rig_init(&r, 0xFB, 32, T1_EDC_LRC);
	/* Wrong N(S) from the card: other error. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x40, sw9000, 2), T1_ACT_SEND);
	expect_tx(&r, 0x82, NULL, 0);
	/* No block at all (timeout / mute). */
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	expect_tx(&r, 0x82, NULL, 0);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_DONE);

	/* LEN larger than IFSD (32). */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	memset(big, 0, sizeof(big));
	ck_assert_int_eq(card_says(&r, 0x40, big, 33), T1_ACT_SEND);
	expect_tx(&r, 0x02 | 0x80 | 0x10, NULL, 0);
	/* LEN byte disagrees with the block length. */
	n = blk(b, 0x40, sw9000, 2);
	ck_assert_int_eq(card_raw(&r, b, n - 1), T1_ACT_SEND);
	expect_tx(&r, 0x92, NULL, 0);
	/* Reserved PCB bits in an I-block: third error of this exchange. */
	ck_assert_int_eq(card_says(&r, 0x41, sw9000, 2), T1_ACT_SEND);
	expect_tx(&r, 0x92, NULL, 0);
	/* S(RESYNCH request) from the card (only the terminal may send one):
	 * fourth error, so the host resynchronises. */
	ck_assert_int_eq(card_says(&r, 0xC0, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0xC0, NULL, 0);
}
END_TEST

START_TEST(protocol_violations)
{
	struct rig r;
	uint8_t apdu[40], part[10];
	enum t1_action a;
	unsigned n = 0;

	memset(apdu, 0x66, sizeof(apdu));
	memset(part, 0x77, sizeof(part));
	rig_init(&r, 32, 254, T1_EDC_LRC);
	/* The card answers a chained block with an I-block instead of R. */
	ck_assert_int_eq(start(&r, apdu, sizeof(apdu)), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_SEND);
	expect_tx(&r, 0x82, NULL, 0);
	/* R-block with the reserved b6 set, or error code 3. */
	ck_assert_int_eq(card_says(&r, 0xB0, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x82, NULL, 0);
	ck_assert_int_eq(card_says(&r, 0x93, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x82, NULL, 0);
	/* S-block with reserved type bits: fourth error -> resynch. */
	ck_assert_int_eq(card_says(&r, 0xC4, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0xC0, NULL, 0);
	/* An I-block instead of S(RESYNCH response) costs a resynch attempt. */
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_SEND);
	expect_tx(&r, 0xC0, NULL, 0);
	ck_assert_uint_eq(r.st.resynchs, 2);
	/* An R-block with data is malformed. */
	ck_assert_int_eq(card_says(&r, 0x80, part, 1), T1_ACT_SEND);
	expect_tx(&r, 0xC0, NULL, 0);
	ck_assert_int_eq(card_says(&r, 0xE0, NULL, 0), T1_ACT_SEND);
	expect_tx(&r, 0x20, apdu, 32);

	/* While receiving a chain, a card that keeps sending R-blocks. */
	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x20, part, 10), T1_ACT_SEND);
	expect_tx(&r, 0x90, NULL, 0);
	do {
		a = card_says(&r, 0x80, NULL, 0);
		n++;
	} while (a == T1_ACT_SEND && r.tx[1] == 0x90 && n < 20);
	ck_assert_uint_eq(n, T1_MAX_RETRIES + 1);
	ck_assert_uint_eq(r.tx[1], 0xC0);
	ck_assert_str_eq(t1_strerror(T1_ERR_S_FLOOD), "too many S-block requests from the card");
}
END_TEST

START_TEST(response_too_long)
{
	struct rig r;
	uint8_t part[20];

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	memset(part, 0, sizeof(part));
	ck_assert(t1_begin(&r.st, get_challenge, 5, r.resp, 30));
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x20, part, 20), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0x40, part, 20), T1_ACT_ERROR);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_RESPONSE_TOO_LONG);
	ck_assert_ptr_null(t1_response(&r.st, NULL));
}
END_TEST

START_TEST(card_abort)
{
	struct rig r;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_int_eq(card_says(&r, 0xC2, NULL, 0), T1_ACT_ABORTED);
	expect_tx(&r, 0xE2, NULL, 0);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_ABORTED_BY_CARD);
	ck_assert_int_eq(card_says(&r, 0x00, sw9000, 2), T1_ACT_ERROR);
}
END_TEST

START_TEST(crc_variant)
{
	struct rig r;
	static const uint8_t first_tx[] = { 0x00, 0x00, 0x05, 0x00, 0x84, 0x00, 0x00, 0x08, 0xBB, 0xC1 };
	uint8_t rx[16] = { 0x00, 0x00, 0x02, 0x90, 0x00 };
	uint16_t crc;
	const uint8_t *out;
	size_t n;

	/* ISO/IEC 13239 CRC-16 without final XOR: X.25 check value 0x906E ^ 0xFFFF. */
	ck_assert_uint_eq(t1_crc((const uint8_t *)"123456789", 9), 0x6F91);
	ck_assert_uint_eq(t1_lrc(first_tx, 8), 0x89);
	rig_init(&r, 0xFB, 254, T1_EDC_CRC);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	ck_assert_uint_eq(r.txlen, sizeof(first_tx));
	ck_assert_mem_eq(r.tx, first_tx, sizeof(first_tx));
	crc = t1_crc(rx, 5);
	rx[5] = (uint8_t)(crc >> 8);
	rx[6] = (uint8_t)(crc ^ 0x01);                     /* corrupt */
	ck_assert_int_eq(card_raw(&r, rx, 7), T1_ACT_SEND);
	ck_assert_uint_eq(r.txlen, 5);
	ck_assert_uint_eq(r.tx[1], 0x81);                  /* R(0), EDC error */
	ck_assert_uint_eq(r.tx[3], (uint8_t)(t1_crc(r.tx, 3) >> 8));
	ck_assert_uint_eq(r.tx[4], (uint8_t)t1_crc(r.tx, 3));
	rx[6] = (uint8_t)crc;
	ck_assert_int_eq(card_raw(&r, rx, 7), T1_ACT_DONE);
	out = t1_response(&r.st, &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_uint_eq(out[0], 0x90);
	/* An LRC-sized block is malformed under CRC. */
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	n = blk(rx, 0x40, sw9000, 2);
	ck_assert_int_eq(card_raw(&r, rx, n), T1_ACT_SEND);
	ck_assert_uint_eq(r.tx[1], 0x92);
}
END_TEST

START_TEST(api_misuse)
{
	struct rig r;
	uint8_t small[4];
	size_t n;
	uint8_t apdu[40];

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, r.tx, sizeof(r.tx), &r.txlen), T1_ACT_ERROR);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_STATE);
	ck_assert(!t1_begin(&r.st, NULL, 5, r.resp, 10));
	ck_assert(!t1_begin(&r.st, get_challenge, 0, r.resp, 10));
	memset(apdu, 0, sizeof(apdu));
	ck_assert(t1_begin(&r.st, apdu, sizeof(apdu), r.resp, 10));
	ck_assert_int_eq(t1_next(&r.st, NULL, 0, small, sizeof(small), &n), T1_ACT_ERROR);
	ck_assert_int_eq(t1_error(&r.st), T1_ERR_TX_BUFFER);
	/* Defaults for out-of-range configuration. */
	{
		struct t1_config cfg = { .ifsc = 0, .ifsd = 255, .edc = (enum t1_edc)7 };

		t1_init(&r.st, &cfg);
		ck_assert_uint_eq(r.st.cfg.ifsc, 32);
		ck_assert_uint_eq(r.st.cfg.ifsd, 32);
		ck_assert_int_eq(r.st.cfg.edc, T1_EDC_LRC);
	}
	ck_assert_uint_eq(t1_build_block(small, sizeof(small), 0, 0, apdu, 1, T1_EDC_LRC), 0);
	ck_assert_uint_eq(t1_build_block(r.tx, sizeof(r.tx), 0, 0, apdu, 255, T1_EDC_LRC), 0);
}
END_TEST

START_TEST(nad_is_sent)
{
	struct t1_state st;
	struct t1_config cfg = { .ifsc = 32, .ifsd = 32, .nad = 0x21, .edc = T1_EDC_LRC };
	uint8_t tx[T1_MAX_BLOCK], resp[8];
	size_t n;

	t1_init(&st, &cfg);
	ck_assert(t1_begin(&st, get_challenge, 5, resp, sizeof(resp)));
	ck_assert_int_eq(t1_next(&st, NULL, 0, tx, sizeof(tx), &n), T1_ACT_SEND);
	ck_assert_uint_eq(tx[0], 0x21);
	ck_assert_uint_eq(t1_lrc(tx, n), 0);
}
END_TEST

START_TEST(pin_pad_prologue_and_response)
{
	struct rig r;
	uint8_t prologue[3], rx[16];
	const uint8_t *inf;
	size_t n, len;

	rig_init(&r, 0xFB, 254, T1_EDC_LRC);
	t1_teo_prologue(&r.st, prologue);
	ck_assert_uint_eq(prologue[0], 0x00);
	ck_assert_uint_eq(prologue[1], 0x00);
	ck_assert_uint_eq(prologue[2], 0x00);
	/* Wrong N(S), chained, R-block, bad EDC: rejected, state unchanged. */
	n = blk(rx, 0x40, sw9000, 2);
	ck_assert(!t1_secure_response(&r.st, rx, n, &inf, &len));
	n = blk(rx, 0x20, sw9000, 2);
	ck_assert(!t1_secure_response(&r.st, rx, n, &inf, &len));
	n = blk(rx, 0x80, NULL, 0);
	ck_assert(!t1_secure_response(&r.st, rx, n, &inf, &len));
	n = blk(rx, 0x00, sw9000, 2);
	rx[n - 1] ^= 1;
	ck_assert(!t1_secure_response(&r.st, rx, n, &inf, &len));
	rx[n - 1] ^= 1;
	ck_assert(t1_secure_response(&r.st, rx, n, &inf, &len));
	ck_assert_uint_eq(len, 2);
	ck_assert_uint_eq(inf[0], 0x90);
	ck_assert_ptr_eq(inf, rx + 3);
	/* Both sequence numbers moved on: next prologue and exchange use 1. */
	t1_teo_prologue(&r.st, prologue);
	ck_assert_uint_eq(prologue[1], 0x40);
	ck_assert_int_eq(start(&r, get_challenge, 5), T1_ACT_SEND);
	expect_tx(&r, 0x40, get_challenge, 5);
	ck_assert_int_eq(card_says(&r, 0x40, sw9000, 2), T1_ACT_DONE);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("t1");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, simple_exchange_and_sequence_numbers);
	tcase_add_test(tc, chaining_out_ifsc_32);
	tcase_add_test(tc, chaining_out_exact_multiple);
	tcase_add_test(tc, chaining_in);
	tcase_add_test(tc, wtx_request);
	tcase_add_test(tc, wtx_flood_is_bounded);
	tcase_add_test(tc, card_ifs_request);
	tcase_add_test(tc, host_ifsd_negotiation);
	tcase_add_test(tc, lrc_error_then_card_retransmits);
	tcase_add_test(tc, card_asks_retransmission);
	tcase_add_test(tc, three_failures_resynch_then_fail);
	tcase_add_test(tc, resynch_success_restarts_exchange);
	tcase_add_test(tc, wrong_nr_loop_is_bounded);
	tcase_add_test(tc, invalid_blocks_get_r_blocks);
	tcase_add_test(tc, protocol_violations);
	tcase_add_test(tc, response_too_long);
	tcase_add_test(tc, card_abort);
	tcase_add_test(tc, crc_variant);
	tcase_add_test(tc, api_misuse);
	tcase_add_test(tc, nad_is_sent);
	tcase_add_test(tc, pin_pad_prologue_and_response);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

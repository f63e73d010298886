/* atr.h — ISO/IEC 7816-3 Answer-To-Reset parser and T=0/T=1 timing helpers.
 *
 * Contract:
 *  - atr_parse() reads at most `len` bytes from `buf`, never more, and fills a
 *    caller-provided struct atr_info.  It does no I/O, keeps no global state
 *    and allocates nothing; it is safe to call from any thread.
 *  - Every malformed ATR is rejected with a distinct enum atr_status; on error
 *    the contents of *info are unspecified (zeroed where practical) and must
 *    not be used.  atr_strerror() names each status.
 *  - Values absent from the ATR are reported with their ISO 7816-3 defaults
 *    (Fi=372, Di=1, N=0, WI=10, IFSC=32, BWI=4, CWI=13, LRC), and a *_present
 *    flag tells whether the card actually sent the byte.
 *  - Reserved TA1 codes do not fail the parse (a reader can still run the card
 *    at the default rate); ta1_valid says whether TA1 may be used for PPS.
 *    Reserved T=1 values that make the protocol unusable (IFSC 0x00 or 0xFF,
 *    BWI > 9) do fail it.  TC2 = 0x00 (reserved WI) is read as the default
 *    WI = 10, and a TCK after a T=0-only ATR is reported as ATR_ERR_TRAILING
 *    (7816-3 forbids it); the caller decides whether to run such a card with
 *    defaults.
 *  - The bytes after TS are taken as already decoded by the reader; TS only
 *    records the convention (needed for SetParameters bmTCCKST).
 *  - atr_contactless() recognises the PC/SC Part 3 pseudo-ATR that a reader
 *    builds for a contactless card.
 *  - Timing helpers return milliseconds, rounded up, computed in 64-bit, and
 *    clamped by ATR_READ_TIMEOUT_CAP_MS (see below).
 */
#ifndef ONSHI_DRIVER_ATR_H
#define ONSHI_DRIVER_ATR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <onshi/ccid-const.h>

/* With at most 33 bytes, TS + T0 + TCK leave 30 bytes, so no ATR can carry
 * more than 30 interface-byte groups; 15 TD bytes is the practical limit. */
#define ATR_MAX_GROUPS        16
#define ATR_MAX_HISTORICAL    15

/* Upper bound on any read timeout derived from an ATR, including after a WTX
 * or CCID time-extension multiplier: 30 s.  Rationale (ccid.md §4 item 5):
 * a broken or malicious card with BWI=9 at 1 MHz and a WTX of 255 would
 * otherwise block pcscd's reader thread for hours; the slowest legitimate
 * My Number operation (RSA-2048 signature) takes ~1 s, so 30 s leaves a wide
 * margin while keeping pcscd responsive.  The driver reports a timeout
 * (IFD_RESPONSE_TIMEOUT) when the cap is reached. */
#define ATR_READ_TIMEOUT_CAP_MS   30000u
/* Lower bound: USB scheduling and reader firmware add latency that the ISO
 * formulas do not count. */
#define ATR_READ_TIMEOUT_MIN_MS   1000u
/* Margin added to every computed read timeout for the same reason. */
#define ATR_READ_TIMEOUT_MARGIN_MS 1000u

enum atr_status {
	ATR_OK = 0,
	ATR_ERR_NULL,          /* NULL buffer or output pointer */
	ATR_ERR_TOO_SHORT,     /* fewer than 2 bytes (TS, T0) */
	ATR_ERR_TOO_LONG,      /* more than 33 bytes, or structure needs more */
	ATR_ERR_BAD_TS,        /* TS neither 0x3B nor 0x3F */
	ATR_ERR_TRUNCATED,     /* T0/TDi announce bytes that are missing */
	ATR_ERR_TRAILING,      /* bytes after the announced end of the ATR */
	ATR_ERR_TCK_MISSING,   /* a protocol other than T=0 but no TCK byte */
	ATR_ERR_TCK_MISMATCH,  /* XOR T0..TCK != 0 */
	ATR_ERR_BAD_TD,        /* TD1 says T=15, or protocols not in ascending order */
	ATR_ERR_BAD_IFSC,      /* IFSC 0x00 or 0xFF */
	ATR_ERR_BAD_BWI,       /* BWI > 9 (reserved) */
	ATR_ERR_BAD_TA2,       /* TA2 names T=15 */
};

enum atr_edc { ATR_EDC_LRC = 0, ATR_EDC_CRC = 1 };

struct atr_group {
	bool ta_present, tb_present, tc_present, td_present;
	uint8_t ta, tb, tc, td;
	/* Protocol these bytes belong to: T of TD(i-1); for i=1,2 "global". */
	uint8_t protocol;
};

struct atr_info {
	uint8_t raw[ATR_MAX_LEN];
	size_t len;

	bool inverse_convention;          /* TS = 0x3F */
	uint8_t t0;
	unsigned ngroups;                 /* groups[0] is i=1 */
	struct atr_group groups[ATR_MAX_GROUPS];
	uint8_t historical[ATR_MAX_HISTORICAL];
	size_t nhistorical;
	bool tck_present;
	uint8_t tck;

	/* Protocols offered: bit T set for each T named in a TDi (T=15 excluded);
	 * T=0 alone when there is no TD1. */
	uint16_t protocols;
	uint8_t default_protocol;         /* T of TD1, else 0 */

	/* Global: TA1 */
	bool ta1_present, ta1_valid;
	uint8_t ta1;                      /* as sent, or 0x11 */
	uint8_t fi_index, di_index;       /* nibbles of TA1 */
	uint16_t fi;                      /* clock rate conversion integer */
	uint8_t di;                       /* baud rate adjustment integer */
	uint32_t fmax_khz;                /* maximum clock the card accepts */
	/* Global: TC1 */
	uint8_t n;                        /* extra guard time, 255 = minimum */
	/* Global: TA2 (specific mode) */
	bool specific_mode;
	uint8_t specific_protocol;
	bool specific_can_change;         /* b8 = 0: card may change mode */
	bool specific_implicit;           /* b5 = 1: parameters implicit, not from TA1 */
	/* T=0: TC2 */
	uint8_t wi;
	/* T=1 */
	bool ifsc_present, bwi_cwi_present, edc_present;
	uint8_t ifsc, bwi, cwi;
	enum atr_edc edc;
	/* T=15 global: class indicator / clock stop (first TA for T=15), 0 if absent */
	uint8_t t15_ta;
};

enum atr_status atr_parse(const uint8_t *buf, size_t len, struct atr_info *info);
const char *atr_strerror(enum atr_status st);

/* Fi / fmax for a TA1 high nibble; false for reserved codes. */
bool atr_fi_lookup(uint8_t fi_index, uint16_t *fi, uint32_t *fmax_khz);
/* Di for a TA1 low nibble; false for reserved codes. */
bool atr_di_lookup(uint8_t di_index, uint8_t *di);
/* True when protocol T is offered. */
bool atr_offers(const struct atr_info *info, unsigned t);

/* ---- PPS (ISO/IEC 7816-3 §9) ------------------------------------------- */
#define ATR_PPS_MAX_LEN 6
/* Chooses bmFindexDindex for a reader clocking the card at clock_khz whose
 * fastest rate is max_rate_bps and, when nrates > 0, whose supported rates
 * are rates[] (GET_DATA_RATES; matched within +-2 bps like libccid).  TA1
 * is used when its rate is supported; otherwise Di is stepped down with the
 * same Fi, and 0x11 (default rate, no PPS needed) is the last resort.
 * Returns false when the card is in specific mode with parameters defined
 * by TA1 (TA2 b5 = 0) and that rate is not supported: such a card cannot be
 * run by this reader. */
bool atr_select_fidi(const struct atr_info *info, uint32_t clock_khz, uint32_t max_rate_bps,
                     const uint32_t *rates, size_t nrates, uint8_t *fidi);
/* Baud rate (bps) of bmFindexDindex at clock_khz; 0 for reserved codes. */
uint32_t atr_fidi_rate_bps(uint8_t fidi, uint32_t clock_khz);
/* True when a PPS exchange is needed before SetParameters: not in specific
 * mode, and either the protocol is not the default one or fidi != 0x11. */
bool atr_pps_needed(const struct atr_info *info, unsigned protocol, uint8_t fidi);
/* Builds PPSS PPS0 [PPS1] PCK; PPS1 is sent when fidi != 0x11.  Returns the
 * length, 0 if protocol > 14 or cap is too small. */
size_t atr_pps_build(uint8_t *out, size_t cap, unsigned protocol, uint8_t fidi);
/* Checks the card's PPS answer against our request (§9.3): same PPSS and
 * protocol, PPS1 echoed or absent, no PPS2/PPS3 we did not send, correct
 * PCK.  On success *fidi is the agreed value (0x11 when PPS1 was dropped). */
bool atr_pps_response_ok(const uint8_t *req, size_t reqlen, const uint8_t *resp, size_t resplen,
                         uint8_t *fidi);

/* ---- contactless pseudo-ATR (PC/SC Part 3 §3.1.3.2.3) ------------------- */
enum atr_cl_kind {
	ATR_CL_NOT_CONTACTLESS = 0,
	ATR_CL_STORAGE,          /* historical bytes 80 4F 0C A0 00 00 03 06 SS NN NN ... */
	ATR_CL_ISO14443_4,       /* ISO 14443-4 card, type not determinable */
	ATR_CL_TYPE_B,           /* 8 historical bytes shaped like ATQB data (see atr.c) */
};
struct atr_contactless {
	enum atr_cl_kind kind;
	uint8_t standard;            /* storage: SS byte (03 = 14443A-3, 11 FeliCa, ...) */
	uint16_t card_name;          /* storage: NN NN */
	uint8_t type_b_max_frame;    /* Type B: Max_Frame_Size code from protocol info */
	uint8_t type_b_fwi;          /* Type B: FWI from protocol info */
};
/* Classifies a successfully parsed ATR; returns info->kind != NOT_CONTACTLESS. */
bool atr_contactless(const struct atr_info *info, struct atr_contactless *cl);

/* ---- timing ------------------------------------------------------------- */
/* One elementary time unit F/(D*f) in nanoseconds (f in kHz); 0 if arguments
 * are zero. */
uint64_t atr_etu_ns(uint16_t f, uint8_t d, uint32_t clock_khz);
/* T=1 block waiting time 11 etu + 2^BWI * 960 * 372 / f, in ms, uncapped. */
uint32_t atr_t1_bwt_ms(uint8_t bwi, uint16_t f, uint8_t d, uint32_t clock_khz);
/* T=1 character waiting time (11 + 2^CWI) etu, in ms, uncapped. */
uint32_t atr_t1_cwt_ms(uint8_t cwi, uint16_t f, uint8_t d, uint32_t clock_khz);
/* T=0 work waiting time WI * 960 * Fi / f, in ms, uncapped. */
uint32_t atr_t0_wwt_ms(uint8_t wi, uint16_t fi, uint32_t clock_khz);
/* Read timeout for one reader response carrying a whole T=1 block or T=0
 * TPDU at the rate (f, d) actually in use: waiting time + 260 characters +
 * ATR_READ_TIMEOUT_MARGIN_MS, clamped to [MIN, CAP]. */
uint32_t atr_read_timeout_ms(const struct atr_info *info, unsigned protocol,
                             uint16_t f, uint8_t d, uint32_t clock_khz);
/* base * multiplier (WTX or CCID time extension), clamped to CAP; a
 * multiplier of 0 is treated as 1. */
uint32_t atr_apply_multiplier_ms(uint32_t base_ms, unsigned multiplier);

#endif

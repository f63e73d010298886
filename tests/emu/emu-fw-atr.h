/* emu-fw-atr.h — what the emulated reader reads out of an ATR, and the
 * PC/SC Part 3 pseudo-ATR it builds for a contactless Type B card.
 *
 * Contract: pure functions over byte buffers.  emu_atr_parse() never reads
 * past atr_len and fills defaults (ISO/IEC 7816-3) for every absent byte
 * (all defaults when there is no ATR at all: atr_len 0, atr may be NULL);
 * it returns false for an ATR that is not well formed (bad TS, truncated
 * interface bytes, TCK missing or wrong when one is required).
 */
#ifndef ONSHI_EMU_FW_ATR_H
#define ONSHI_EMU_FW_ATR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "emu-card.h"

typedef struct emu_atr_info {
	bool offers_t0, offers_t1;
	uint8_t first_protocol;   /* protocol of TD1 (0 when TD1 is absent) */
	uint8_t ta1;              /* Fi/Di, 0x11 by default */
	uint8_t tc1;              /* extra guard time, 0 by default */
	uint8_t ifsc;             /* first TA for T=1 (TA3), 32 by default */
	uint8_t t1_waiting;       /* first TB for T=1 (TB3): BWI<<4 | CWI, 0x4D by default */
	bool t1_crc;              /* first TC for T=1 bit 0: CRC instead of LRC */
	bool inverse;             /* TS = 3F */
} emu_atr_info;

bool emu_atr_parse(const uint8_t *atr, size_t atr_len, emu_atr_info *info);

/* 3B 88 80 01 <app data 4> <protocol info 3> <MBLI byte> TCK: 13 bytes. */
#define EMU_PSEUDO_ATR_LEN 13
size_t emu_pseudo_atr_type_b(const emu_card *card, uint8_t atr[ATR_MAX_LEN]);

#endif

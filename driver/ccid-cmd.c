/* ccid-cmd.c — CCID commands and APDU exchange levels (see header). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ccid-cmd.h"
#include "log.h"

#define WRITE_TIMEOUT_MS   5000u
#define ABORT_READ_MS      2000u
#define ABORT_MAX_FRAMES   8
/* Extended-APDU responses: pieces are non-empty, so this bounds the loop. */
#define EXT_MAX_RESPONSE   65538u

const char *ccid_cmd_strerror(enum ccid_cmd_status st)
{
	switch (st) {
	case CCIDC_OK: return "ok";
	case CCIDC_FAILED: return "reader reported a failure";
	case CCIDC_NO_DEVICE: return "reader removed";
	case CCIDC_TIMEOUT: return "timeout";
	case CCIDC_IO: return "USB error";
	case CCIDC_BAD_FRAME: return "malformed reader response";
	case CCIDC_TOO_LONG: return "data too long";
	case CCIDC_NOT_SUPPORTED: return "not supported at this exchange level";
	case CCIDC_T1_ERROR: return "T=1 error";
	}
	return "?";
}

bool ccid_dev_init(struct ccid_dev *dev, struct usb_transport *usb, unsigned log_id)
{
	memset(dev, 0, sizeof *dev);
	dev->usb = usb;
	dev->info = *usbt_interface(usb);
	dev->log_id = log_id;
	dev->timeout_factor = 1;
	size_t max = dev->info.desc.max_message_length;   /* validated by ccid-desc */
	dev->tx_cap = max;
	dev->rx_cap = (max + 1 + 511) & ~(size_t)511;
	dev->tx = calloc(1, dev->tx_cap);
	dev->rx = calloc(1, dev->rx_cap);
	if (!dev->tx || !dev->rx) {
		free(dev->tx);
		free(dev->rx);
		return false;
	}
	pthread_mutex_init(&dev->io_lock, NULL);
	return true;
}

void ccid_dev_free(struct ccid_dev *dev)
{
	if (!dev->tx)
		return;
	explicit_bzero(dev->tx, dev->tx_cap);
	explicit_bzero(dev->rx, dev->rx_cap);
	free(dev->tx);
	free(dev->rx);
	dev->tx = dev->rx = NULL;
	pthread_mutex_destroy(&dev->io_lock);
}

size_t ccid_max_payload(const struct ccid_dev *dev)
{
	return dev->info.desc.max_message_length - CCID_HEADER_LEN;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static enum ccid_cmd_status from_usb(enum usbt_status st)
{
	switch (st) {
	case USBT_OK: return CCIDC_OK;
	case USBT_TIMEOUT: return CCIDC_TIMEOUT;
	case USBT_NO_DEVICE: return CCIDC_NO_DEVICE;
	default: return CCIDC_IO;
	}
}

/* Ends a command the reader is still working on: the class request makes
 * the reader stop, PC_to_RDR_Abort with the same bSeq completes the
 * handshake (CCID 1.1 §5.3.1).  Frames of the aborted command are drained. */
static void abort_command(struct ccid_dev *dev, uint8_t slot, uint8_t seq)
{
	ifd_log(IFD_LOG_INFO, "reader %u slot %u: aborting command bSeq %u", dev->log_id, slot, seq);
	if (usbt_control_abort(dev->usb, slot, seq) == USBT_NO_DEVICE)
		return;
	uint8_t frame[CCID_HEADER_LEN];
	if (ccid_build_abort(frame, sizeof frame, slot, seq) != CCID_HEADER_LEN)
		return;
	if (usbt_write(dev->usb, frame, sizeof frame, WRITE_TIMEOUT_MS) != USBT_OK)
		return;
	for (int i = 0; i < ABORT_MAX_FRAMES; i++) {
		size_t got = 0;
		if (usbt_read(dev->usb, dev->rx, dev->rx_cap, &got, ABORT_READ_MS) != USBT_OK)
			return;
		ifd_log_frame(IFD_LOG_IN, dev->log_id, dev->rx, got, 0, false);
		struct ccid_response r;
		if (ccid_parse_response(dev->rx, got, PC_TO_RDR_ABORT, slot, seq,
					dev->info.desc.max_message_length, dev->rx_cap, &r) == CCID_PARSE_OK)
			return;
	}
}

enum ccid_cmd_status ccid_cmd_roundtrip_locked(struct ccid_dev *dev, uint8_t *frame, size_t len,
                                               unsigned timeout_ms, unsigned log_flags,
                                               bool periodic, struct ccid_response *r)
{
	if (len < CCID_HEADER_LEN)
		return CCIDC_TOO_LONG;
	const uint8_t type = frame[CCID_OFF_TYPE];
	const uint8_t slot = frame[CCID_OFF_SLOT];
	const uint8_t seq = dev->seq++;
	frame[CCID_OFF_SEQ] = seq;

	ifd_log_frame(IFD_LOG_OUT, dev->log_id, frame, len, log_flags, periodic);
	enum usbt_status ust = usbt_write(dev->usb, frame, len, WRITE_TIMEOUT_MS);
	unsigned stalls = 0;
	/* A halted OUT pipe took nothing: once the halt is cleared, resending
	 * is safe.  Bounded, in case the reader halts again at once. */
	while (ust == USBT_STALL && ++stalls <= CCID_CMD_MAX_STALLS)
		ust = usbt_write(dev->usb, frame, len, WRITE_TIMEOUT_MS);
	if (ust != USBT_OK) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: write: %s", dev->log_id, usbt_strerror(ust));
		return from_usb(ust);
	}
	const uint64_t deadline = now_ms() + CCID_CMD_TOTAL_MS;
	unsigned extensions = 0, stale = 0, multiplier = 1;
	for (;;) {
		uint64_t now = now_ms();
		if (now >= deadline) {
			abort_command(dev, slot, seq);
			return CCIDC_TIMEOUT;
		}
		uint32_t wait = atr_apply_multiplier_ms(timeout_ms, multiplier * dev->timeout_factor);
		if (wait > deadline - now)
			wait = (uint32_t)(deadline - now);
		size_t got = 0;
		ust = usbt_read(dev->usb, dev->rx, dev->rx_cap, &got, wait);
		if (ust == USBT_STALL && ++stalls <= CCID_CMD_MAX_STALLS)
			continue;   /* halt cleared: the answer may still come */
		if (ust == USBT_TIMEOUT) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: no response in %u ms", dev->log_id, wait);
			abort_command(dev, slot, seq);
			return CCIDC_TIMEOUT;
		}
		if (ust != USBT_OK) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: read: %s", dev->log_id, usbt_strerror(ust));
			return from_usb(ust);
		}
		ifd_log_frame(IFD_LOG_IN, dev->log_id, dev->rx, got, log_flags, periodic);
		enum ccid_parse_status ps = ccid_parse_response(dev->rx, got, type, slot, seq,
				dev->info.desc.max_message_length, dev->rx_cap, r);
		if (ps == CCID_PARSE_WRONG_SLOT && dev->rx[CCID_OFF_SLOT] >= dev->info.desc.slots) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: response names slot %u of %u",
				dev->log_id, dev->rx[CCID_OFF_SLOT], dev->info.desc.slots);
			return CCIDC_BAD_FRAME;
		}
		if (ps == CCID_PARSE_WRONG_SEQ || ps == CCID_PARSE_WRONG_TYPE || ps == CCID_PARSE_WRONG_SLOT) {
			/* a late answer to an earlier, abandoned command */
			if (++stale > CCID_CMD_MAX_STALE)
				return CCIDC_BAD_FRAME;
			ifd_log(IFD_LOG_INFO, "reader %u: dropping stale frame (%s)", dev->log_id,
				ccid_parse_strerror(ps));
			continue;
		}
		if (ps != CCID_PARSE_OK) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: bad response: %s", dev->log_id,
				ccid_parse_strerror(ps));
			return CCIDC_BAD_FRAME;
		}
		if (r->result == CCID_RES_TIME_EXTENSION) {
			if (++extensions > CCID_MAX_TIME_EXTENSIONS) {
				ifd_log(IFD_LOG_CRITICAL, "reader %u: more than %u time extensions",
					dev->log_id, CCID_MAX_TIME_EXTENSIONS);
				abort_command(dev, slot, seq);
				return CCIDC_TIMEOUT;
			}
			multiplier = r->wtx_multiplier ? r->wtx_multiplier : 1;
			continue;
		}
		return r->result == CCID_RES_OK ? CCIDC_OK : CCIDC_FAILED;
	}
}

static void set_result(enum ccid_result *result, enum ccid_cmd_status st,
                       const struct ccid_response *r)
{
	if (result)
		*result = (st == CCIDC_OK || st == CCIDC_FAILED) ? r->result : CCID_RES_FAILED;
}

enum ccid_cmd_status ccid_cmd_slot_status(struct ccid_dev *dev, uint8_t slot, bool periodic,
                                          uint8_t *icc_status, enum ccid_result *result)
{
	struct ccid_response r;
	pthread_mutex_lock(&dev->io_lock);
	ssize_t n = ccid_build_get_slot_status(dev->tx, dev->tx_cap, slot, 0);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, CCID_CMD_DEFAULT_TIMEOUT_MS, 0,
					  periodic, &r);
	if (st == CCIDC_OK || st == CCIDC_FAILED)
		*icc_status = r.icc_status;
	set_result(result, st, &r);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

enum ccid_cmd_status ccid_cmd_power_on(struct ccid_dev *dev, uint8_t slot, uint8_t voltage,
                                       unsigned timeout_ms, uint8_t *atr, size_t *atr_len,
                                       enum ccid_result *result)
{
	struct ccid_response r;
	*atr_len = 0;
	pthread_mutex_lock(&dev->io_lock);
	ssize_t n = ccid_build_power_on(dev->tx, dev->tx_cap, slot, 0, voltage);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, timeout_ms, 0, false, &r);
	if (st == CCIDC_OK) {
		if (r.data_len == 0 || r.data_len > ATR_MAX_LEN) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: ATR of %u bytes", dev->log_id, r.data_len);
			st = CCIDC_BAD_FRAME;
		} else {
			memcpy(atr, r.data, r.data_len);
			*atr_len = r.data_len;
		}
	}
	set_result(result, st, &r);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

enum ccid_cmd_status ccid_cmd_power_off(struct ccid_dev *dev, uint8_t slot,
                                        enum ccid_result *result)
{
	struct ccid_response r;
	pthread_mutex_lock(&dev->io_lock);
	ssize_t n = ccid_build_power_off(dev->tx, dev->tx_cap, slot, 0);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, CCID_CMD_DEFAULT_TIMEOUT_MS, 0,
					  false, &r);
	set_result(result, st, &r);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

enum ccid_cmd_status ccid_cmd_set_parameters(struct ccid_dev *dev, uint8_t slot,
                                             const struct ccid_params *p,
                                             enum ccid_result *result)
{
	struct ccid_response r;
	pthread_mutex_lock(&dev->io_lock);
	ssize_t n = ccid_build_set_parameters(dev->tx, dev->tx_cap, slot, 0, p);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, CCID_CMD_DEFAULT_TIMEOUT_MS, 0,
					  false, &r);
	set_result(result, st, &r);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

enum ccid_cmd_status ccid_cmd_escape(struct ccid_dev *dev, const uint8_t *in, size_t in_len,
                                     uint8_t *out, size_t out_cap, size_t *out_len,
                                     enum ccid_result *result)
{
	struct ccid_response r;
	*out_len = 0;
	if (in_len > ccid_max_payload(dev))
		return CCIDC_TOO_LONG;
	pthread_mutex_lock(&dev->io_lock);
	ssize_t n = ccid_build_escape(dev->tx, dev->tx_cap, 0, 0, in, in_len);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, CCID_CMD_DEFAULT_TIMEOUT_MS, 0,
					  false, &r);
	if (st == CCIDC_OK) {
		if (r.data_len > out_cap) {
			st = CCIDC_TOO_LONG;
		} else {
			if (r.data_len)
				memcpy(out, r.data, r.data_len);
			*out_len = r.data_len;
		}
	}
	set_result(result, st, &r);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

/* One XfrBlock; the answer's data is copied to out.  Caller holds io_lock. */
static enum ccid_cmd_status xfr_locked(struct ccid_dev *dev, uint8_t slot, uint8_t bwi,
                                       uint16_t level, const uint8_t *data, size_t len,
                                       unsigned timeout_ms, unsigned log_flags,
                                       uint8_t *out, size_t out_cap, size_t *out_len,
                                       uint8_t *chain, enum ccid_result *result)
{
	struct ccid_response r;
	*out_len = 0;
	if (len > ccid_max_payload(dev))
		return CCIDC_TOO_LONG;
	ssize_t n = ccid_build_xfr_block(dev->tx, dev->tx_cap, slot, 0, bwi, level, data, len);
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, timeout_ms, log_flags, false, &r);
	explicit_bzero(dev->tx, n > 0 ? (size_t)n : 0);
	if (st == CCIDC_OK) {
		if (r.data_len > out_cap) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u: %u response bytes, room for %zu",
				dev->log_id, r.data_len, out_cap);
			st = CCIDC_TOO_LONG;
		} else {
			if (r.data_len)
				memcpy(out, r.data, r.data_len);
			*out_len = r.data_len;
			if (chain)
				*chain = r.chain;
		}
	}
	set_result(result, st, &r);
	return st;
}

enum ccid_cmd_status ccid_cmd_pps(struct ccid_dev *dev, uint8_t slot, const uint8_t *pps,
                                  size_t len, enum ccid_result *result)
{
	uint8_t echo[8];
	size_t got = 0;
	if (len > 6)
		return CCIDC_TOO_LONG;
	pthread_mutex_lock(&dev->io_lock);
	enum ccid_cmd_status st = xfr_locked(dev, slot, 0, (uint16_t)len, pps, len,
					     CCID_CMD_DEFAULT_TIMEOUT_MS, 0, echo, sizeof echo,
					     &got, NULL, result);
	pthread_mutex_unlock(&dev->io_lock);
	if (st == CCIDC_OK && (got != len || memcmp(echo, pps, len) != 0))
		st = CCIDC_BAD_FRAME;   /* the card did not accept the proposal */
	return st;
}

/* ---- T=1 at TPDU level ------------------------------------------------------ */

/* Runs the T=1 state machine to its end; the first t1_next is called with
 * `rx` (NULL to let it start).  CCID-level errors other than removal count
 * as "no block received", which T=1 error recovery handles (7816-3 §11.6.3);
 * a timeout does not: the command was already aborted at CCID level. */
static enum ccid_cmd_status t1_run_locked(struct ccid_dev *dev, uint8_t slot,
                                          struct ccid_slot_proto *proto, const uint8_t *rx,
                                          size_t rxlen, unsigned log_flags,
                                          enum ccid_result *result)
{
	uint8_t tx[T1_MAX_BLOCK];
	uint8_t in[T1_MAX_BLOCK + 8];
	size_t txlen = 0;
	uint8_t wtx = 1;
	*result = CCID_RES_OK;
	/* t1 bounds its own retries; this guard only protects against a bug */
	for (unsigned guard = 0; guard < 100000; guard++) {
		enum t1_action act = t1_next(&proto->t1, rx, rxlen, tx, sizeof tx, &txlen);
		if (act == T1_ACT_DONE)
			return CCIDC_OK;
		if (act == T1_ACT_ERROR) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u slot %u: T=1: %s", dev->log_id, slot,
				t1_strerror(t1_error(&proto->t1)));
			return CCIDC_T1_ERROR;
		}
		wtx = act == T1_ACT_WTX ? t1_wtx(&proto->t1) : 1;
		enum ccid_result res = CCID_RES_OK;
		size_t got = 0;
		enum ccid_cmd_status st = xfr_locked(dev, slot, act == T1_ACT_WTX ? wtx : 0, 0,
						     tx, txlen,
						     atr_apply_multiplier_ms(proto->timeout_ms, wtx),
						     log_flags, in, sizeof in, &got, NULL, &res);
		explicit_bzero(tx, txlen);
		if (act == T1_ACT_ABORTED) {
			ifd_log(IFD_LOG_CRITICAL, "reader %u slot %u: card aborted the T=1 chain",
				dev->log_id, slot);
			return st == CCIDC_NO_DEVICE ? st : CCIDC_T1_ERROR;
		}
		/* Removal, and a reader that stays busy past our bound (time
		 * extensions, no answer: the command was aborted), end the
		 * exchange; retrying would multiply the wait. */
		if (st == CCIDC_NO_DEVICE || st == CCIDC_TIMEOUT)
			return st;
		if (st == CCIDC_FAILED && (res == CCID_RES_ICC_ABSENT || res == CCID_RES_ICC_INACTIVE)) {
			*result = res;
			return st;
		}
		if (st == CCIDC_OK) {
			rx = in;
			rxlen = got;
		} else {
			rx = NULL;
			rxlen = 0;
		}
	}
	return CCIDC_T1_ERROR;
}

enum ccid_cmd_status ccid_cmd_t1_ifsd(struct ccid_dev *dev, uint8_t slot,
                                      struct ccid_slot_proto *proto, uint8_t ifsd,
                                      enum ccid_result *result)
{
	if (!t1_begin_ifs(&proto->t1, ifsd))
		return CCIDC_NOT_SUPPORTED;
	pthread_mutex_lock(&dev->io_lock);
	enum ccid_cmd_status st = t1_run_locked(dev, slot, proto, NULL, 0, 0, result);
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

static enum ccid_cmd_status transmit_t1(struct ccid_dev *dev, uint8_t slot,
                                        struct ccid_slot_proto *proto,
                                        const uint8_t *apdu, size_t len,
                                        uint8_t *resp, size_t cap, size_t *resp_len,
                                        unsigned log_flags, enum ccid_result *result)
{
	if (!t1_begin(&proto->t1, apdu, len, resp, cap))
		return CCIDC_TOO_LONG;
	enum ccid_cmd_status st = t1_run_locked(dev, slot, proto, NULL, 0, log_flags, result);
	if (st == CCIDC_OK) {
		size_t n = 0;
		const uint8_t *p = t1_response(&proto->t1, &n);
		if (!p || n > cap)
			return CCIDC_TOO_LONG;
		if (p != resp)
			memmove(resp, p, n);
		*resp_len = n;
	}
	return st;
}

/* ---- APDU levels -------------------------------------------------------------- */

/* Extended-APDU level: chain the command with wLevelParameter 1/3/2 and the
 * response with bChainParameter 1/3/2, asking for each piece with 0x10. */
static enum ccid_cmd_status transmit_extended(struct ccid_dev *dev, uint8_t slot,
                                              struct ccid_slot_proto *proto,
                                              const uint8_t *apdu, size_t len,
                                              uint8_t *resp, size_t cap, size_t *resp_len,
                                              unsigned log_flags, enum ccid_result *result)
{
	const size_t piece_max = ccid_max_payload(dev);
	uint8_t chain = 0;
	size_t got = 0, off = 0;
	enum ccid_cmd_status st;
	if (cap > EXT_MAX_RESPONSE)
		cap = EXT_MAX_RESPONSE;
	if (len <= piece_max) {
		st = xfr_locked(dev, slot, 0, CCID_CHAIN_BEGIN_AND_END, apdu, len, proto->timeout_ms,
				log_flags, resp, cap, &got, &chain, result);
	} else {
		for (;;) {
			size_t n = len - off > piece_max ? piece_max : len - off;
			uint16_t level = off == 0 ? CCID_CHAIN_BEGIN :
				off + n == len ? CCID_CHAIN_END : CCID_CHAIN_CONTINUE;
			st = xfr_locked(dev, slot, 0, level, apdu + off, n, proto->timeout_ms,
					log_flags, resp, cap, &got, &chain, result);
			if (st != CCIDC_OK)
				return st;
			off += n;
			if (off == len)
				break;
			if (got != 0 || chain != CCID_CHAIN_EMPTY_NEXT) {
				ifd_log(IFD_LOG_CRITICAL, "reader %u: chained command: unexpected answer "
					"(%zu bytes, chain 0x%02X)", dev->log_id, got, chain);
				return CCIDC_BAD_FRAME;
			}
		}
	}
	if (st != CCIDC_OK)
		return st;
	size_t total = got;
	while (chain == CCID_CHAIN_BEGIN || chain == CCID_CHAIN_CONTINUE) {
		if (got == 0) {   /* an empty piece that says "more" would loop forever */
			ifd_log(IFD_LOG_CRITICAL, "reader %u: empty chained response piece", dev->log_id);
			return CCIDC_BAD_FRAME;
		}
		st = xfr_locked(dev, slot, 0, CCID_CHAIN_EMPTY_NEXT, NULL, 0, proto->timeout_ms,
				log_flags, resp + total, cap - total, &got, &chain, result);
		if (st != CCIDC_OK)
			return st;
		total += got;
	}
	if (chain != CCID_CHAIN_BEGIN_AND_END && chain != CCID_CHAIN_END) {
		ifd_log(IFD_LOG_CRITICAL, "reader %u: bChainParameter 0x%02X", dev->log_id, chain);
		return CCIDC_BAD_FRAME;
	}
	*resp_len = total;
	return CCIDC_OK;
}

static bool is_extended_apdu(const uint8_t *apdu, size_t len)
{
	return len >= 7 && apdu[4] == 0x00;
}

enum ccid_cmd_status ccid_cmd_transmit(struct ccid_dev *dev, uint8_t slot,
                                       struct ccid_slot_proto *proto,
                                       const uint8_t *apdu, size_t len,
                                       uint8_t *resp, size_t cap, size_t *resp_len,
                                       enum ccid_result *result)
{
	enum ccid_result dummy;
	if (!result)
		result = &dummy;
	*result = CCID_RES_OK;
	*resp_len = 0;
	if (len < 4)
		return CCIDC_TOO_LONG;
	const unsigned log_flags = ifd_apdu_is_secret(apdu, len) ? IFD_LOG_SECRET : 0;
	enum ccid_cmd_status st;
	size_t got = 0;
	pthread_mutex_lock(&dev->io_lock);
	switch (dev->info.desc.level) {
	case CCID_LEVEL_TPDU:
		if (proto->protocol == 1) {
			st = transmit_t1(dev, slot, proto, apdu, len, resp, cap, resp_len, log_flags, result);
			break;
		}
		/* T=0 TPDU: short APDUs only; the reader runs the procedure bytes.
		 * A case 4 APDU goes without its Le (7816-3 §12.2). */
		if (is_extended_apdu(apdu, len)) {
			st = CCIDC_NOT_SUPPORTED;
			break;
		}
		if (len > 5 && len == 5u + apdu[4] + 1u)
			len--;
		st = xfr_locked(dev, slot, 0, 0, apdu, len, proto->timeout_ms, log_flags, resp, cap,
				&got, NULL, result);
		*resp_len = got;
		break;
	case CCID_LEVEL_EXTENDED_APDU:
		if (!dev->force_short_apdu) {
			st = transmit_extended(dev, slot, proto, apdu, len, resp, cap, resp_len,
					       log_flags, result);
			break;
		}
		/* the reader fails chained frames: one XfrBlock, as at short level */
		__attribute__((fallthrough));
	case CCID_LEVEL_SHORT_APDU:
		st = xfr_locked(dev, slot, 0, 0, apdu, len, proto->timeout_ms, log_flags, resp, cap,
				&got, NULL, result);
		*resp_len = got;
		break;
	default:
		st = CCIDC_NOT_SUPPORTED;
		break;
	}
	pthread_mutex_unlock(&dev->io_lock);
	if (st != CCIDC_OK)
		*resp_len = 0;
	return st;
}

/* ---- PIN pad ------------------------------------------------------------------ */

static enum ccid_cmd_status pin_status_word(enum ccid_result res, uint8_t *resp, size_t cap,
                                            size_t *resp_len)
{
	if (cap < 2)
		return CCIDC_TOO_LONG;
	resp[0] = 0x64;
	resp[1] = res == CCID_RES_PIN_TIMEOUT ? 0x00 : 0x01;
	*resp_len = 2;
	return CCIDC_OK;
}

enum ccid_cmd_status ccid_cmd_secure(struct ccid_dev *dev, uint8_t slot,
                                     struct ccid_slot_proto *proto, bool modify,
                                     const uint8_t *pin_struct, size_t len,
                                     uint8_t *resp, size_t cap, size_t *resp_len,
                                     enum ccid_result *result)
{
	const size_t header = modify ? PIN_MODIFY_HEADER_LEN : PIN_VERIFY_HEADER_LEN;
	const size_t teo_off = modify ? PIN_MODIFY_bTeoPrologue : PIN_VERIFY_bTeoPrologue;
	*resp_len = 0;
	*result = CCID_RES_OK;
	if (len < header + 4 || len > ccid_max_payload(dev))
		return CCIDC_TOO_LONG;
	const bool tpdu_t1 = dev->info.desc.level == CCID_LEVEL_TPDU && proto->protocol == 1;
	if (dev->info.desc.level == CCID_LEVEL_TPDU && !tpdu_t1)
		return CCIDC_NOT_SUPPORTED;

	/* A private copy: the T=1 prologue is ours to fill in. */
	uint8_t *copy = malloc(len);
	if (!copy)
		return CCIDC_IO;
	memcpy(copy, pin_struct, len);
	pthread_mutex_lock(&dev->io_lock);
	if (tpdu_t1)
		t1_teo_prologue(&proto->t1, copy + teo_off);
	ssize_t n = modify ?
		ccid_build_secure_modify(dev->tx, dev->tx_cap, slot, 0, 0, copy, len) :
		ccid_build_secure_verify(dev->tx, dev->tx_cap, slot, 0, 0, copy, len);
	explicit_bzero(copy, len);
	free(copy);
	struct ccid_response r;
	enum ccid_cmd_status st = n < 0 ? CCIDC_TOO_LONG :
		ccid_cmd_roundtrip_locked(dev, dev->tx, (size_t)n, CCID_CMD_SECURE_TIMEOUT_MS,
					  IFD_LOG_SECRET, false, &r);
	if (n > 0)
		explicit_bzero(dev->tx, (size_t)n);
	if (st == CCIDC_FAILED) {
		*result = r.result;
		if (r.result == CCID_RES_PIN_TIMEOUT || r.result == CCID_RES_PIN_CANCELLED)
			st = pin_status_word(r.result, resp, cap, resp_len);
	} else if (st == CCIDC_OK && tpdu_t1) {
		const uint8_t *inf = NULL;
		size_t inf_len = 0;
		if (!t1_secure_response(&proto->t1, r.data, r.data_len, &inf, &inf_len)) {
			/* An S-block, an error R-block or chaining in answer to a PIN
			 * block: no way to resume the reader-built I-block, so fail;
			 * T=1 error recovery resynchronises at the next exchange. */
			ifd_log(IFD_LOG_CRITICAL, "reader %u: PIN-pad answer is not a plain I-block",
				dev->log_id);
			st = CCIDC_T1_ERROR;
		} else if (inf_len > cap) {
			st = CCIDC_TOO_LONG;
		} else {
			memcpy(resp, inf, inf_len);
			*resp_len = inf_len;
		}
	} else if (st == CCIDC_OK) {
		if (r.data_len > cap) {
			st = CCIDC_TOO_LONG;
		} else {
			memcpy(resp, r.data, r.data_len);
			*resp_len = r.data_len;
		}
	}
	pthread_mutex_unlock(&dev->io_lock);
	return st;
}

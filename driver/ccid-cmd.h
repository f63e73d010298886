/* ccid-cmd.h — the CCID command layer: one function per CCID command over a
 * usb_transport, and APDU exchange at every exchange level.
 *
 * Contract:
 *  - A struct ccid_dev wraps one claimed CCID interface.  Every public
 *    function takes the device's I/O lock for its whole command/response
 *    sequence (a T=1 exchange, an extended-APDU chain), so commands of
 *    different slots never interleave on the bulk pipes.
 *  - bSeq is owned here: each command gets the next value; a response with
 *    another bSeq or of another type is a stale frame and is dropped (at most
 *    CCID_CMD_MAX_STALE of them per command).  A response naming a slot the
 *    reader does not have, a short or truncated frame, or a dwLength beyond
 *    dwMaxCCIDMessageLength ends the command with CCIDC_BAD_FRAME.
 *  - Time extension (bStatus 0x80): each reply re-arms the read with the
 *    timeout multiplied by bError (capped at ATR_READ_TIMEOUT_CAP_MS); at
 *    most CCID_MAX_TIME_EXTENSIONS replies and CCID_CMD_TOTAL_MS in total,
 *    after which the command is aborted (class request ABORT + PC_to_RDR_Abort)
 *    and CCIDC_TIMEOUT returned.  A read timeout aborts the same way.
 *  - A halted bulk pipe is cleared (usb-transport) and the transfer retried,
 *    at most CCID_CMD_MAX_STALLS times per command.
 *  - Results: CCIDC_OK means the reader answered and did not report a
 *    failure; CCIDC_FAILED carries the reader's ccid_result in *result.
 *  - Frames carrying PINs are logged redacted (log.h).
 */
#ifndef ONSHI_DRIVER_CCID_CMD_H
#define ONSHI_DRIVER_CCID_CMD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atr.h"
#include "ccid-frame.h"
#include "t1.h"
#include "usb-transport.h"

#define CCID_CMD_MAX_STALE     16
/* Halted bulk pipes cleared and retried per command. */
#define CCID_CMD_MAX_STALLS    2
/* Total time one command may take, time extensions included: pcscd's
 * reader thread is blocked meanwhile, and a My Number signature takes ~1 s. */
#define CCID_CMD_TOTAL_MS      60000u
#define CCID_CMD_DEFAULT_TIMEOUT_MS 3000u
/* PIN entry on the reader's keypad: the user's time plus the card's. */
#define CCID_CMD_SECURE_TIMEOUT_MS 90000u

enum ccid_cmd_status {
	CCIDC_OK = 0,
	CCIDC_FAILED,        /* reader reported a failure: see result */
	CCIDC_NO_DEVICE,
	CCIDC_TIMEOUT,
	CCIDC_IO,
	CCIDC_BAD_FRAME,     /* reader broke the protocol */
	CCIDC_TOO_LONG,      /* data does not fit the reader or the caller */
	CCIDC_NOT_SUPPORTED, /* exchange level / protocol cannot carry this */
	CCIDC_T1_ERROR,      /* T=1 recovery failed */
};

struct ccid_dev {
	struct usb_transport *usb;
	struct ccid_interface_info info;
	unsigned log_id;          /* reader number in logs */
	unsigned timeout_factor;  /* multiplies every read timeout (slow-open quirk); 1 */
	bool force_short_apdu;    /* ext-apdu-broken quirk: no wLevelParameter chaining */
	pthread_mutex_t io_lock;
	uint8_t seq;
	uint8_t *tx, *rx;
	size_t tx_cap, rx_cap;
};

/* Per-slot protocol state after power-up and protocol selection. */
struct ccid_slot_proto {
	bool active;              /* protocol selected (SetProtocolParameters done) */
	unsigned protocol;        /* 0 or 1 */
	uint32_t timeout_ms;      /* read timeout for one card exchange */
	struct t1_state t1;       /* TPDU level, T=1 only */
};

bool ccid_dev_init(struct ccid_dev *dev, struct usb_transport *usb, unsigned log_id);
void ccid_dev_free(struct ccid_dev *dev);
/* Largest payload of one message: dwMaxCCIDMessageLength - 10. */
size_t ccid_max_payload(const struct ccid_dev *dev);

const char *ccid_cmd_strerror(enum ccid_cmd_status st);

/* One command/response round trip on a built frame (bSeq is filled in);
 * on success r->data points into the device's receive buffer and stays valid
 * until the next command.  Caller holds io_lock. */
enum ccid_cmd_status ccid_cmd_roundtrip_locked(struct ccid_dev *dev, uint8_t *frame, size_t len,
                                               unsigned timeout_ms, unsigned log_flags,
                                               bool periodic, struct ccid_response *r);

enum ccid_cmd_status ccid_cmd_slot_status(struct ccid_dev *dev, uint8_t slot, bool periodic,
                                          uint8_t *icc_status, enum ccid_result *result);
enum ccid_cmd_status ccid_cmd_power_on(struct ccid_dev *dev, uint8_t slot, uint8_t voltage,
                                       unsigned timeout_ms, uint8_t *atr, size_t *atr_len,
                                       enum ccid_result *result);
enum ccid_cmd_status ccid_cmd_power_off(struct ccid_dev *dev, uint8_t slot,
                                        enum ccid_result *result);
enum ccid_cmd_status ccid_cmd_set_parameters(struct ccid_dev *dev, uint8_t slot,
                                             const struct ccid_params *p,
                                             enum ccid_result *result);
/* Raw PPS exchange through XfrBlock (TPDU/char readers without auto PPS):
 * sends pps[0..len) and checks the card echoed it. */
enum ccid_cmd_status ccid_cmd_pps(struct ccid_dev *dev, uint8_t slot, const uint8_t *pps,
                                  size_t len, enum ccid_result *result);
enum ccid_cmd_status ccid_cmd_escape(struct ccid_dev *dev, const uint8_t *in, size_t in_len,
                                     uint8_t *out, size_t out_cap, size_t *out_len,
                                     enum ccid_result *result);

/* Negotiates IFSD with S(IFS) (TPDU T=1); st must be t1_init'ed. */
enum ccid_cmd_status ccid_cmd_t1_ifsd(struct ccid_dev *dev, uint8_t slot,
                                      struct ccid_slot_proto *proto, uint8_t ifsd,
                                      enum ccid_result *result);

/* One APDU at the reader's exchange level.  Short and extended APDUs on
 * TPDU T=1 and extended-APDU readers; short APDUs on short-APDU and T=0
 * TPDU readers.  No automatic GET RESPONSE. */
enum ccid_cmd_status ccid_cmd_transmit(struct ccid_dev *dev, uint8_t slot,
                                       struct ccid_slot_proto *proto,
                                       const uint8_t *apdu, size_t len,
                                       uint8_t *resp, size_t cap, size_t *resp_len,
                                       enum ccid_result *result);

/* PC_to_RDR_Secure from a Part 10 PIN_VERIFY/PIN_MODIFY structure; a PIN
 * timeout or cancel on the keypad is returned as SW 6400 / 6401. */
enum ccid_cmd_status ccid_cmd_secure(struct ccid_dev *dev, uint8_t slot,
                                     struct ccid_slot_proto *proto, bool modify,
                                     const uint8_t *pin_struct, size_t len,
                                     uint8_t *resp, size_t cap, size_t *resp_len,
                                     enum ccid_result *result);

#endif

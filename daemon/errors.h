/* errors.h — the org.onshi.Onshi1.Error.* names and how results become
 * D-Bus errors.
 *
 * Contract:
 *  - errors_register() adds the sd_bus_error_map once, so that handlers may
 *    also return -errno values (mapped to generic errors by sd-bus).
 *  - Messages never carry a PIN, a password or personal data: only counts,
 *    PC/SC codes and fixed English text.
 */
#ifndef ONSHI_ERRORS_H
#define ONSHI_ERRORS_H

#include <systemd/sd-bus.h>

#include "jpki-ops.h"

#define ONSHI_ERROR_PREFIX            "org.onshi.Onshi1.Error."
#define ONSHI_ERROR_NO_CARD           ONSHI_ERROR_PREFIX "NoCard"
#define ONSHI_ERROR_UNSUPPORTED_CARD  ONSHI_ERROR_PREFIX "UnsupportedCard"
#define ONSHI_ERROR_PIN_INCORRECT     ONSHI_ERROR_PREFIX "PinIncorrect"
#define ONSHI_ERROR_PIN_BLOCKED       ONSHI_ERROR_PREFIX "PinBlocked"
#define ONSHI_ERROR_LAST_TRY_REFUSED  ONSHI_ERROR_PREFIX "LastTryRefused"
#define ONSHI_ERROR_CANCELLED         ONSHI_ERROR_PREFIX "Cancelled"
#define ONSHI_ERROR_NO_AGENT          ONSHI_ERROR_PREFIX "NoAgent"
#define ONSHI_ERROR_AGENT_FAILED      ONSHI_ERROR_PREFIX "AgentFailed"
#define ONSHI_ERROR_NOT_AUTHORIZED    ONSHI_ERROR_PREFIX "NotAuthorized"
#define ONSHI_ERROR_CARD_REMOVED      ONSHI_ERROR_PREFIX "CardRemoved"
#define ONSHI_ERROR_BUSY              ONSHI_ERROR_PREFIX "Busy"
#define ONSHI_ERROR_READER_ERROR      ONSHI_ERROR_PREFIX "ReaderError"
#define ONSHI_ERROR_TIMEOUT           ONSHI_ERROR_PREFIX "Timeout"

/* Registers the error map with sd-bus.  Returns 0 or -errno. */
int errors_register(void);

/* The D-Bus error name for a core result (InvalidArgs for argument and PIN
 * format errors, our namespace for the rest). */
const char *errors_name_for_jpki(enum jpki_result rc);

/* Fills e for a core result.  tries_left (>= 0) is put into the message of
 * PinIncorrect as "N tries left".  Returns the negative errno sd-bus
 * handlers return (always < 0). */
int errors_set_jpki(sd_bus_error *e, enum jpki_result rc, int tries_left);

#endif

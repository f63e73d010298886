/* errors.c — D-Bus error names of onshid. */
#include <errno.h>

#include "errors.h"

static const sd_bus_error_map onshi_error_map[] = {
	SD_BUS_ERROR_MAP(ONSHI_ERROR_NO_CARD, ENOMEDIUM),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_UNSUPPORTED_CARD, EMEDIUMTYPE),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_PIN_INCORRECT, EACCES),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_PIN_BLOCKED, EKEYREVOKED),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_LAST_TRY_REFUSED, EKEYREJECTED),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_CANCELLED, ECANCELED),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_NO_AGENT, ENOENT),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_AGENT_FAILED, EPROTO),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_NOT_AUTHORIZED, EPERM),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_CARD_REMOVED, ENODEV),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_BUSY, EBUSY),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_READER_ERROR, EIO),
	SD_BUS_ERROR_MAP(ONSHI_ERROR_TIMEOUT, ETIMEDOUT),
	SD_BUS_ERROR_MAP_END
};

int errors_register(void)
{
	int r = sd_bus_error_add_map(onshi_error_map);
	return r < 0 ? r : 0;
}

const char *errors_name_for_jpki(enum jpki_result rc)
{
	switch (rc) {
	case JPKI_ERR_PIN_FORMAT:
	case JPKI_ERR_INVALID_ARGUMENT:
	case JPKI_ERR_BUFFER_TOO_SMALL:
		return SD_BUS_ERROR_INVALID_ARGS;
	case JPKI_ERR_NO_CARD:           return ONSHI_ERROR_NO_CARD;
	case JPKI_ERR_UNSUPPORTED_CARD:  return ONSHI_ERROR_UNSUPPORTED_CARD;
	case JPKI_ERR_PIN_INCORRECT:     return ONSHI_ERROR_PIN_INCORRECT;
	case JPKI_ERR_PIN_BLOCKED:       return ONSHI_ERROR_PIN_BLOCKED;
	case JPKI_ERR_LAST_TRY_REFUSED:  return ONSHI_ERROR_LAST_TRY_REFUSED;
	case JPKI_ERR_CARD_REMOVED:      return ONSHI_ERROR_CARD_REMOVED;
	case JPKI_ERR_NOT_AUTHORIZED:    return ONSHI_ERROR_NOT_AUTHORIZED;
	/* A missing EF or a card answering nonsense: not the card we support. */
	case JPKI_ERR_NOT_FOUND:
	case JPKI_ERR_CARD_PROTOCOL:     return ONSHI_ERROR_UNSUPPORTED_CARD;
	case JPKI_ERR_READER:
	case JPKI_OK:
		break;
	}
	return ONSHI_ERROR_READER_ERROR;
}

int errors_set_jpki(sd_bus_error *e, enum jpki_result rc, int tries_left)
{
	const char *name = errors_name_for_jpki(rc);

	if (rc == JPKI_ERR_PIN_INCORRECT && tries_left >= 0)
		return sd_bus_error_setf(e, name, "PIN incorrect: %d %s left", tries_left,
					 tries_left == 1 ? "try" : "tries");
	if (rc == JPKI_ERR_PIN_FORMAT)
		return sd_bus_error_set(e, name, "the PIN or password has the wrong format for this key");
	return sd_bus_error_set(e, name, jpki_result_message(rc));
}

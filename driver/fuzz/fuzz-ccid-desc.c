/* libFuzzer target: USB configuration walk and CCID class descriptor parser. */
#include <stdint.h>
#include <stdlib.h>

#include "ccid-desc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ccid_interface_info info;
	struct ccid_class_desc desc;
	const char *reason = NULL;

	if (ccid_config_find_interface(data, size, -1, &info, &reason)) {
		if (!info.ep_bulk_in || !info.ep_bulk_out || info.desc.slots == 0
		    || info.desc.slots > CCID_DESC_MAX_SLOT_INDEX + 1
		    || info.desc.max_message_length > CCID_DESC_MAX_MSG_LEN)
			abort();
	} else if (!reason) {
		abort();
	}
	if (size > 0)
		(void)ccid_config_find_interface(data, size, data[0] & 7, &info, &reason);
	(void)ccid_class_desc_find(data, size, &desc, &reason);
	if (ccid_class_desc_parse(data, size, &desc, &reason)
	    && desc.max_message_length < CCID_DESC_MIN_MSG_LEN)
		abort();
	return 0;
}

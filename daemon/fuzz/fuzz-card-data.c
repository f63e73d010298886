/* fuzz-card-data.c — every parser of card data in jpki-parse.c on one input:
 * status words, response split, certificate length header, token info,
 * cert presence, the BER-TLV reader (walked recursively) and 基本4情報.
 * The first input byte picks nothing: all parsers see every input, so one
 * corpus covers them all. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "jpki-parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_tlv(const uint8_t *buf, size_t len, int depth)
{
	size_t pos = 0, last = 0;
	struct jpki_tlv t;

	while (jpki_tlv_next(buf, len, &pos, &t) == JPKI_TLV_OK) {
		/* Every object lies inside its parent and the cursor moves forward. */
		if (t.value < buf || t.value + t.len > buf + len || pos <= last || pos > len)
			__builtin_trap();
		last = pos;
		if (t.constructed && depth < 8)
			walk_tlv(t.value, t.len, depth + 1);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t total = 0, hdr = 0, dlen = 0;
	uint16_t sw = 0;
	struct jpki_tlv t;
	struct jpki_basic4 b4;
	enum jpki_card_type type = JPKI_CARD_OTHER;
	char label[33];
	bool s1, s2;

	if (size >= 2) {
		uint16_t w = (uint16_t)(data[0] << 8 | data[1]);

		(void)jpki_sw_classify(w);
		if (!jpki_sw_message(w))
			__builtin_trap();
	}
	if (jpki_response_split(data, size, &dlen, &sw) == 0 && dlen + 2 != size)
		__builtin_trap();
	if (jpki_cert_length(data, size, &total, &hdr) == JPKI_PARSE_OK &&
	    (total > JPKI_CERT_MAX_LEN || hdr > 6 || total < hdr))
		__builtin_trap();
	if (jpki_token_info_parse(data, size, &type, label) == 0 && strlen(label) > 32)
		__builtin_trap();
	(void)jpki_card_type_name(type);
	(void)jpki_cert_presence_parse(data, size, &s1, &s2);
	walk_tlv(data, size, 0);
	(void)jpki_tlv_find_path(data, size, (const uint32_t[]){ 0xFF20, 0xDF22 }, 2, &t);
	if (jpki_basic4_parse(data, size, &b4) == 0 &&
	    (b4.name < data || b4.name + b4.name_len > data + size ||
	     b4.address < data || b4.address + b4.address_len > data + size))
		__builtin_trap();
	return 0;
}

/* reader-quirks.c — per-reader quirks from Info.plist (see header). */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "reader-quirks.h"

#define MAX_VALUE 256

/* Positions *p after the <array> that follows <key>KEY</key>; returns the
 * end of the array, or NULL. */
static const char *find_array(const char *plist, size_t len, const char *key, const char **p)
{
	char pattern[64];
	size_t n = (size_t)snprintf(pattern, sizeof pattern, "<key>%s</key>", key);
	if (n >= sizeof pattern)
		return NULL;
	const char *k = memmem(plist, len, pattern, n);
	if (!k)
		return NULL;
	const char *end = plist + len;
	const char *open = memmem(k + n, (size_t)(end - k - (ptrdiff_t)n), "<array>", 7);
	if (!open)
		return NULL;
	const char *close = memmem(open, (size_t)(end - open), "</array>", 8);
	if (!close)
		return NULL;
	*p = open + 7;
	return close;
}

/* Next <string>VALUE</string> before `end`: copies VALUE (NUL-terminated)
 * and advances *p; false at the end of the array or for a value too long. */
static bool next_string(const char **p, const char *end, char *value, size_t cap)
{
	const char *open = memmem(*p, (size_t)(end - *p), "<string>", 8);
	if (!open)
		return false;
	open += 8;
	const char *close = memmem(open, (size_t)(end - open), "</string>", 9);
	if (!close || (size_t)(close - open) >= cap)
		return false;
	memcpy(value, open, (size_t)(close - open));
	value[close - open] = '\0';
	*p = close + 9;
	return true;
}

static bool word_is(const char *w, size_t n, const char *name)
{
	return strlen(name) == n && memcmp(w, name, n) == 0;
}

/* "M.mm" → BCD 0xMMmm; 0 if malformed. */
static uint16_t parse_version(const char *s, size_t n)
{
	unsigned major = 0, minor = 0;
	size_t i = 0, digits = 0;
	while (i < n && s[i] >= '0' && s[i] <= '9' && digits < 2) {
		major = major * 16 + (unsigned)(s[i++] - '0');
		digits++;
	}
	if (digits == 0 || i >= n || s[i++] != '.' || n - i != 2)
		return 0;
	for (; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		minor = minor * 16 + (unsigned)(s[i] - '0');
	}
	return (uint16_t)(major << 8 | minor);
}

void quirks_parse_words(const char *words, size_t len, struct reader_quirks *out)
{
	memset(out, 0, sizeof *out);
	size_t i = 0;
	while (words && i < len) {
		size_t start = i;
		while (i < len && words[i] != ',')
			i++;
		const char *w = words + start;
		size_t n = i - start;
		if (word_is(w, n, "no-interrupt"))
			out->no_interrupt = true;
		else if (word_is(w, n, "slow-open"))
			out->slow_open = true;
		else if (word_is(w, n, "ext-apdu-broken"))
			out->ext_apdu_broken = true;
		else if (n > 13 && memcmp(w, "min-firmware=", 13) == 0)
			out->min_firmware = parse_version(w + 13, n - 13);
		i++;   /* skip the comma */
	}
}

bool quirks_from_plist(const char *plist, size_t len, uint16_t vid, uint16_t pid,
                       struct reader_quirks *out)
{
	const char *pv, *pp, *pq;
	memset(out, 0, sizeof *out);
	if (!plist)
		return false;
	const char *ev = find_array(plist, len, "ifdVendorID", &pv);
	const char *ep = find_array(plist, len, "ifdProductID", &pp);
	const char *eq = find_array(plist, len, "ifdOnshiQuirks", &pq);
	if (!ev || !ep || !eq)
		return false;
	char v[MAX_VALUE], p[MAX_VALUE], q[MAX_VALUE];
	while (next_string(&pv, ev, v, sizeof v) && next_string(&pp, ep, p, sizeof p) &&
	       next_string(&pq, eq, q, sizeof q)) {
		uint32_t vv, pn;
		if (!ifd_parse_u32(v, &vv) || !ifd_parse_u32(p, &pn))
			continue;
		if (vv == vid && pn == pid) {
			quirks_parse_words(q, strlen(q), out);
			return true;
		}
	}
	return false;
}

bool quirks_firmware_too_old(const struct reader_quirks *q, uint16_t bcd_device)
{
	return q->min_firmware && bcd_device < q->min_firmware;
}

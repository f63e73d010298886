/* log.c — logging through pcscd's log_msg and the Info.plist configuration. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <debuglog.h>

#include "log.h"

/* pcscd exports log_msg; weak so that the driver's objects also link into
 * test programs that have no pcscd around them. */
extern void log_msg(const int priority, const char *fmt, ...) __attribute__((weak));

static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static uint32_t log_level = IFD_LOG_DEFAULT;
static uint32_t driver_options;
static char *plist_text;
static size_t plist_len;

bool ifd_parse_u32(const char *text, uint32_t *out)
{
	if (!text || !out)
		return false;
	while (*text == ' ' || *text == '\t' || *text == '\n')
		text++;
	char *end = NULL;
	errno = 0;
	unsigned long v = strtoul(text, &end, 0);
	if (errno || end == text || v > 0xFFFFFFFFul || *text == '-')
		return false;
	while (*end == ' ' || *end == '\t' || *end == '\n')
		end++;
	if (*end)
		return false;
	*out = (uint32_t)v;
	return true;
}

bool ifd_plist_u32(const char *plist, size_t len, const char *key, uint32_t *out)
{
	char pattern[96];
	int n = snprintf(pattern, sizeof pattern, "<key>%s</key>", key);
	if (!plist || n <= 0 || (size_t)n >= sizeof pattern)
		return false;
	const char *p = memmem(plist, len, pattern, (size_t)n);
	if (!p)
		return false;
	size_t rest = len - (size_t)(p - plist) - (size_t)n;
	p += n;
	const char *open = memmem(p, rest, "<string>", 8);
	if (!open)
		return false;
	/* The value must be the next element, not one further down the file. */
	for (const char *q = p; q < open; q++)
		if (*q == '<')
			return false;
	open += 8;
	rest -= (size_t)(open - p);
	const char *close = memmem(open, rest, "</string>", 9);
	if (!close || close - open > 32)
		return false;
	char value[40];
	memcpy(value, open, (size_t)(close - open));
	value[close - open] = '\0';
	return ifd_parse_u32(value, out);
}

/* The bundle's Info.plist is two directories above the loaded .so
 * (Contents/Linux/libifd-onshi.so → Contents/Info.plist). */
static char *read_own_plist(size_t *len)
{
	Dl_info info;
	if (!dladdr((void *)&ifd_config_load, &info) || !info.dli_fname)
		return NULL;
	char path[4096];
	int n = snprintf(path, sizeof path, "%s", info.dli_fname);
	if (n <= 0 || (size_t)n >= sizeof path)
		return NULL;
	for (int cut = 0; cut < 2; cut++) {
		char *slash = strrchr(path, '/');
		if (!slash)
			return NULL;
		*slash = '\0';
	}
	if (strlen(path) + sizeof "/Info.plist" > sizeof path)
		return NULL;
	strcat(path, "/Info.plist");
	FILE *f = fopen(path, "re");
	if (!f)
		return NULL;
	size_t cap = 256 * 1024;   /* generated plists are a few kB */
	char *buf = malloc(cap);
	size_t got = buf ? fread(buf, 1, cap, f) : 0;
	fclose(f);
	if (!buf || got == 0 || got == cap) {
		free(buf);
		return NULL;
	}
	*len = got;
	return buf;
}

static void config_load_once(void)
{
	size_t len = 0;
	char *plist = read_own_plist(&len);
	uint32_t v;
	if (plist && ifd_plist_u32(plist, len, "ifdLogLevel", &v))
		log_level = v;
	if (plist && ifd_plist_u32(plist, len, "ifdDriverOptions", &v))
		driver_options = v;
	plist_text = plist;   /* kept: per-reader quirks are looked up at each open */
	plist_len = len;
	const char *env = getenv("ONSHI_IFD_LOGLEVEL");
	if (env && ifd_parse_u32(env, &v))
		log_level = v;
}

void ifd_config_load(void)
{
	pthread_once(&config_once, config_load_once);
}

uint32_t ifd_log_level(void)
{
	ifd_config_load();
	return log_level;
}

const char *ifd_config_plist(size_t *len)
{
	ifd_config_load();
	*len = plist_len;
	return plist_text;
}

uint32_t ifd_driver_options(void)
{
	ifd_config_load();
	return driver_options;
}

static int priority_for(uint32_t category)
{
	if (category & IFD_LOG_CRITICAL)
		return PCSC_LOG_CRITICAL;
	if (category & IFD_LOG_INFO)
		return PCSC_LOG_INFO;
	return PCSC_LOG_DEBUG;
}

void ifd_log(uint32_t category, const char *fmt, ...)
{
	if (!(ifd_log_level() & category))
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (log_msg)
		log_msg(priority_for(category), "ifd-onshi: %s", line);
	else
		fprintf(stderr, "ifd-onshi: %s\n", line);
}

bool ifd_apdu_is_secret(const uint8_t *apdu, size_t len)
{
	if (!apdu || len < 2)
		return false;
	uint8_t ins = apdu[1];
	return ins == 0x20 || ins == 0x21 || ins == 0x24 || ins == 0x2C;
}

#define FRAME_DUMP_MAX 64   /* bytes shown per frame; the count says the rest */

size_t ifd_format_frame(char *out, size_t cap, const uint8_t *buf, size_t len, unsigned flags)
{
	if (!out || cap == 0)
		return 0;
	out[0] = '\0';
	size_t shown = len;
	if ((flags & IFD_LOG_SECRET) && shown > 10)
		shown = 10;
	if (shown > FRAME_DUMP_MAX)
		shown = FRAME_DUMP_MAX;
	size_t pos = 0;
	for (size_t i = 0; buf && i < shown && pos + 4 < cap; i++)
		pos += (size_t)snprintf(out + pos, cap - pos, "%02X ", buf[i]);
	if (pos < cap && len > shown) {
		int n = snprintf(out + pos, cap - pos, (flags & IFD_LOG_SECRET) ?
				 "[%zu bytes redacted]" : "[+%zu bytes]", len - shown);
		if (n > 0)
			pos += (size_t)n < cap - pos ? (size_t)n : cap - pos - 1;
	}
	return pos;
}

void ifd_log_frame(enum ifd_log_dir dir, unsigned reader, const uint8_t *buf, size_t len,
                   unsigned flags, bool periodic)
{
	uint32_t category = periodic ? IFD_LOG_PERIODIC : IFD_LOG_COMM;
	if (!(ifd_log_level() & category))
		return;
	char text[FRAME_DUMP_MAX * 3 + 40];
	ifd_format_frame(text, sizeof text, buf, len, flags);
	ifd_log(category, "%s %u: %s", dir == IFD_LOG_OUT ? "->" : "<-", reader, text);
}

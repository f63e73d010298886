/* log.h — the IFD handler's logging through pcscd, and its configuration.
 *
 * Contract:
 *  - Messages go to pcscd's log_msg() (resolved when pcscd loads the
 *    driver); a process without log_msg (a unit test) gets them on stderr.
 *  - What is logged is a bit mask, as libccid's ifdLogLevel: 1 critical,
 *    2 info, 4 USB frame dumps, 8 periodic (presence polling) frames.  It is
 *    read once, at the first channel opened: environment variable
 *    ONSHI_IFD_LOGLEVEL (decimal or 0x hex) if set, else the bundle's
 *    Info.plist key ifdLogLevel, else 3.  ifdDriverOptions is read the same
 *    way (no environment override).
 *  - Frame dumps never show secrets: a frame marked IFD_LOG_SECRET (VERIFY,
 *    CHANGE REFERENCE DATA, PIN-pad structures) is shown as its 10-byte CCID
 *    header plus a count of redacted bytes.
 */
#ifndef ONSHI_DRIVER_LOG_H
#define ONSHI_DRIVER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IFD_LOG_CRITICAL  0x01u
#define IFD_LOG_INFO      0x02u
#define IFD_LOG_COMM      0x04u
#define IFD_LOG_PERIODIC  0x08u
#define IFD_LOG_DEFAULT   (IFD_LOG_CRITICAL | IFD_LOG_INFO)

/* ifdDriverOptions bits the driver honours. */
#define IFD_OPTION_VENDOR_ESCAPE 0x01u

/* Reads the configuration (idempotent; later calls do nothing). */
void ifd_config_load(void);
uint32_t ifd_log_level(void);
uint32_t ifd_driver_options(void);
/* The bundle's Info.plist text as read at configuration time (kept for the
 * process lifetime), or NULL when it could not be read. */
const char *ifd_config_plist(size_t *len);

/* Parses "0x1F" / "31" (and surrounding blanks); false if not a number. */
bool ifd_parse_u32(const char *text, uint32_t *out);
/* Finds <key>KEY</key> <string>VALUE</string> in an Info.plist text and
 * parses the first value as a number; false if absent or not a number. */
bool ifd_plist_u32(const char *plist, size_t len, const char *key, uint32_t *out);

void ifd_log(uint32_t category, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum ifd_log_dir { IFD_LOG_OUT, IFD_LOG_IN };
#define IFD_LOG_SECRET 0x01u    /* redact everything after the CCID header */
/* Dumps one USB frame under category IFD_LOG_COMM (or PERIODIC when
 * `periodic`), honouring IFD_LOG_SECRET in `flags`. */
void ifd_log_frame(enum ifd_log_dir dir, unsigned reader, const uint8_t *buf, size_t len,
                   unsigned flags, bool periodic);
/* Formats what ifd_log_frame would print into out (cap bytes, always
 * NUL-terminated); exposed for tests. */
size_t ifd_format_frame(char *out, size_t cap, const uint8_t *buf, size_t len, unsigned flags);

/* True for command APDUs whose data field is a PIN or key material:
 * VERIFY (0x20), CHANGE REFERENCE DATA (0x24), RESET RETRY COUNTER (0x2C). */
bool ifd_apdu_is_secret(const uint8_t *apdu, size_t len);

#endif

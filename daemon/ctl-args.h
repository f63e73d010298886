/* ctl-args.h — onshictl's command line and its exit codes, as pure
 * functions (no I/O, no D-Bus) so that Check tests drive them directly.
 *
 * Contract:
 *  - ctl_parse_args() accepts options before and after the verb, in the
 *    forms "--opt VALUE" and "--opt=VALUE"; "--" ends the options.  It checks
 *    that every option given is meaningful for the verb and that values are
 *    well formed (hex, numbers, key names), and fills struct ctl_args with
 *    pointers into argv (nothing is allocated).  On error it returns -1 and
 *    writes a one-line reason into err.
 *  - Exit codes (enum ctl_exit) are stable and documented in
 *    doc/onshictl.md; ctl_exit_for_error() maps a D-Bus error name to one.
 */
#ifndef ONSHI_CTL_ARGS_H
#define ONSHI_CTL_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_DEFAULT_TIMEOUT_SEC 300u
/* Longest --timeout accepted: one day (the value becomes microseconds). */
#define CTL_MAX_TIMEOUT_SEC 86400u
/* Longest challenge/digest given as hex on the command line. */
#define CTL_MAX_BLOB 4096u

enum ctl_verb {
	CTL_VERB_NONE = 0,
	CTL_VERB_HELP,
	CTL_VERB_VERSION,
	CTL_VERB_READERS,
	CTL_VERB_STATUS,
	CTL_VERB_WAIT_CARD,
	CTL_VERB_CERT,
	CTL_VERB_PIN_STATUS,
	CTL_VERB_AUTH,
	CTL_VERB_SIGN,
	CTL_VERB_AGENT,
};

enum ctl_cert_format { CTL_CERT_INFO = 0, CTL_CERT_DER, CTL_CERT_PEM };

struct ctl_args {
	enum ctl_verb verb;
	const char *address;       /* NULL: the system bus */
	const char *reader;        /* NULL: first reader with a card */
	bool json;
	unsigned timeout_sec;      /* D-Bus method timeout / wait-card limit */
	bool timeout_given;
	/* cert */
	const char *which;         /* auth, auth-ca, sign-ca, sign */
	enum ctl_cert_format cert_format;
	const char *out_file;      /* cert, sign: where the bytes go */
	/* auth */
	const char *challenge_hex;
	const char *challenge_file;
	bool allow_last_try;
	/* sign */
	const char *key;           /* auth, sign */
	const char *hash;          /* sha256, sha384, sha512 */
	const char *digest_hex;
	const char *data_file;
	/* agent */
	bool default_agent;
};

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILURE = 1,         /* anything not listed below */
	CTL_EXIT_USAGE = 2,           /* bad command line, InvalidArgs */
	CTL_EXIT_NO_SERVICE = 3,      /* no bus, onshid not running, access denied by the bus */
	CTL_EXIT_NO_CARD = 4,         /* NoCard, no reader with a card, no such reader */
	CTL_EXIT_UNSUPPORTED = 5,     /* UnsupportedCard */
	CTL_EXIT_PIN_INCORRECT = 6,
	CTL_EXIT_PIN_BLOCKED = 7,
	CTL_EXIT_LAST_TRY = 8,        /* LastTryRefused */
	CTL_EXIT_CANCELLED = 9,       /* Cancelled, Ctrl-C */
	CTL_EXIT_AGENT = 10,          /* NoAgent, AgentFailed */
	CTL_EXIT_NOT_AUTHORIZED = 11,
	CTL_EXIT_CARD_REMOVED = 12,
	CTL_EXIT_BUSY = 13,
	CTL_EXIT_READER = 14,         /* ReaderError */
	CTL_EXIT_TIMEOUT = 15,        /* Timeout, no reply in time, wait-card limit */
};

/* Parses argv[1..argc).  Returns 0 or -1 (reason in err). */
int ctl_parse_args(int argc, char **argv, struct ctl_args *args, char *err, size_t errlen);

/* Exit code for a D-Bus error name (NULL or unknown: CTL_EXIT_FAILURE). */
enum ctl_exit ctl_exit_for_error(const char *dbus_error_name);

/* The name to show people: "PinIncorrect" for org.onshi.Onshi1.Error.*,
 * the full name otherwise.  Points into name. */
const char *ctl_error_short_name(const char *dbus_error_name);

/* Decodes hex (upper or lower case, an even number of digits, optional
 * single spaces or colons between bytes) into out.  Returns the byte count,
 * or -1 when hex is malformed or longer than outlen bytes. */
long ctl_hex_decode(const char *hex, uint8_t *out, size_t outlen);

/* "0", "3" or a path: the reader's object path written into out (which must
 * hold 64 bytes).  Returns 0, or -1 for anything else. */
int ctl_reader_path(const char *spec, char *out, size_t outlen);

/* Digest length of "sha256"/"sha384"/"sha512", 0 for anything else. */
size_t ctl_hash_len(const char *hash);

#endif

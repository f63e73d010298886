/* ctl-args.c — see ctl-args.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl-args.h"

#define READER_PREFIX "/org/onshi/Onshi1/reader/"
#define ERROR_PREFIX  "org.onshi.Onshi1.Error."

#define V(x) (1u << (x))
#define ALL_VERBS 0xffffffffu

enum opt_id {
	OPT_SYSTEM, OPT_ADDRESS, OPT_READER, OPT_JSON, OPT_TIMEOUT, OPT_HELP, OPT_VERSION,
	OPT_DER, OPT_PEM, OPT_OUT, OPT_PIN, OPT_CHALLENGE, OPT_CHALLENGE_FILE,
	OPT_ALLOW_LAST_TRY, OPT_KEY, OPT_HASH, OPT_DIGEST, OPT_DATA_FILE, OPT_DEFAULT,
};

struct opt_def {
	const char *name;
	enum opt_id id;
	bool has_value;
	uint32_t verbs;    /* verbs this option is meaningful for */
};

static const struct opt_def options[] = {
	{ "system", OPT_SYSTEM, false, ALL_VERBS },
	{ "address", OPT_ADDRESS, true, ALL_VERBS },
	{ "reader", OPT_READER, true, ALL_VERBS },
	{ "json", OPT_JSON, false, ALL_VERBS },
	{ "timeout", OPT_TIMEOUT, true, ALL_VERBS },
	{ "help", OPT_HELP, false, ALL_VERBS },
	{ "version", OPT_VERSION, false, ALL_VERBS },
	{ "der", OPT_DER, false, V(CTL_VERB_CERT) },
	{ "pem", OPT_PEM, false, V(CTL_VERB_CERT) },
	{ "out", OPT_OUT, true, V(CTL_VERB_CERT) | V(CTL_VERB_SIGN) },
	{ "pin", OPT_PIN, false, V(CTL_VERB_AUTH) },
	{ "challenge", OPT_CHALLENGE, true, V(CTL_VERB_AUTH) },
	{ "challenge-file", OPT_CHALLENGE_FILE, true, V(CTL_VERB_AUTH) },
	{ "allow-last-try", OPT_ALLOW_LAST_TRY, false, V(CTL_VERB_AUTH) },
	{ "key", OPT_KEY, true, V(CTL_VERB_SIGN) },
	{ "hash", OPT_HASH, true, V(CTL_VERB_SIGN) },
	{ "digest", OPT_DIGEST, true, V(CTL_VERB_SIGN) },
	{ "data-file", OPT_DATA_FILE, true, V(CTL_VERB_SIGN) },
	{ "default", OPT_DEFAULT, false, V(CTL_VERB_AGENT) },
};

static const struct { const char *name; enum ctl_verb verb; } verbs[] = {
	{ "help", CTL_VERB_HELP },
	{ "version", CTL_VERB_VERSION },
	{ "readers", CTL_VERB_READERS },
	{ "status", CTL_VERB_STATUS },
	{ "wait-card", CTL_VERB_WAIT_CARD },
	{ "cert", CTL_VERB_CERT },
	{ "pin-status", CTL_VERB_PIN_STATUS },
	{ "auth", CTL_VERB_AUTH },
	{ "sign", CTL_VERB_SIGN },
	{ "agent", CTL_VERB_AGENT },
};

__attribute__((format(printf, 3, 4)))
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++) {
		if (strcmp(s, *list) == 0)
			return true;
	}
	return false;
}

static const struct opt_def *find_option(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
			return &options[i];
	}
	return NULL;
}

static enum ctl_verb find_verb(const char *name)
{
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(verbs[i].name, name) == 0)
			return verbs[i].verb;
	}
	return CTL_VERB_NONE;
}

static int parse_timeout(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v > CTL_MAX_TIMEOUT_SEC)
		return -1;
	*out = (unsigned)v;
	return 0;
}

size_t ctl_hash_len(const char *hash)
{
	if (!hash)
		return 0;
	if (strcmp(hash, "sha256") == 0)
		return 32;
	if (strcmp(hash, "sha384") == 0)
		return 48;
	if (strcmp(hash, "sha512") == 0)
		return 64;
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

long ctl_hex_decode(const char *hex, uint8_t *out, size_t outlen)
{
	size_t n = 0;

	while (*hex) {
		int hi = hex_digit(hex[0]), lo;

		if (hi < 0)
			return -1;
		lo = hex_digit(hex[1]);
		if (lo < 0 || n >= outlen)
			return -1;
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
		/* One separator between bytes, never at the end. */
		if ((*hex == ' ' || *hex == ':') && hex_digit(hex[1]) >= 0)
			hex++;
	}
	return (long)n;
}

int ctl_reader_path(const char *spec, char *out, size_t outlen)
{
	const char *digits = spec;
	size_t n;

	if (strncmp(spec, READER_PREFIX, strlen(READER_PREFIX)) == 0)
		digits = spec + strlen(READER_PREFIX);
	n = strspn(digits, "0123456789");
	/* Digits only, no leading zeros (paths use plain numbers), bounded. */
	if (n == 0 || n > 9 || digits[n] || (n > 1 && digits[0] == '0'))
		return -1;
	if ((size_t)snprintf(out, outlen, READER_PREFIX "%s", digits) >= outlen)
		return -1;
	return 0;
}

const char *ctl_error_short_name(const char *name)
{
	if (!name)
		return "Failed";
	if (strncmp(name, ERROR_PREFIX, strlen(ERROR_PREFIX)) == 0 && name[strlen(ERROR_PREFIX)])
		return name + strlen(ERROR_PREFIX);
	return name;
}

enum ctl_exit ctl_exit_for_error(const char *name)
{
	static const struct { const char *name; enum ctl_exit code; } map[] = {
		{ ERROR_PREFIX "NoCard", CTL_EXIT_NO_CARD },
		{ ERROR_PREFIX "UnsupportedCard", CTL_EXIT_UNSUPPORTED },
		{ ERROR_PREFIX "PinIncorrect", CTL_EXIT_PIN_INCORRECT },
		{ ERROR_PREFIX "PinBlocked", CTL_EXIT_PIN_BLOCKED },
		{ ERROR_PREFIX "LastTryRefused", CTL_EXIT_LAST_TRY },
		{ ERROR_PREFIX "Cancelled", CTL_EXIT_CANCELLED },
		{ ERROR_PREFIX "NoAgent", CTL_EXIT_AGENT },
		{ ERROR_PREFIX "AgentFailed", CTL_EXIT_AGENT },
		{ ERROR_PREFIX "NotAuthorized", CTL_EXIT_NOT_AUTHORIZED },
		{ ERROR_PREFIX "CardRemoved", CTL_EXIT_CARD_REMOVED },
		{ ERROR_PREFIX "Busy", CTL_EXIT_BUSY },
		{ ERROR_PREFIX "ReaderError", CTL_EXIT_READER },
		{ ERROR_PREFIX "Timeout", CTL_EXIT_TIMEOUT },
		{ "org.freedesktop.DBus.Error.InvalidArgs", CTL_EXIT_USAGE },
		{ "org.freedesktop.DBus.Error.NoReply", CTL_EXIT_TIMEOUT },
		{ "org.freedesktop.DBus.Error.Timeout", CTL_EXIT_TIMEOUT },
		{ "org.freedesktop.DBus.Error.TimedOut", CTL_EXIT_TIMEOUT },
		{ "org.freedesktop.DBus.Error.ServiceUnknown", CTL_EXIT_NO_SERVICE },
		{ "org.freedesktop.DBus.Error.NameHasNoOwner", CTL_EXIT_NO_SERVICE },
		{ "org.freedesktop.DBus.Error.AccessDenied", CTL_EXIT_NO_SERVICE },
		{ "org.freedesktop.DBus.Error.FileNotFound", CTL_EXIT_NO_SERVICE },
		{ "org.freedesktop.DBus.Error.NoServer", CTL_EXIT_NO_SERVICE },
		{ "org.freedesktop.DBus.Error.UnknownObject", CTL_EXIT_NO_CARD },
	};

	if (!name)
		return CTL_EXIT_FAILURE;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].name, name) == 0)
			return map[i].code;
	}
	return CTL_EXIT_FAILURE;
}

/* Stores one option (value may be NULL for flags). */
static int apply_option(struct ctl_args *a, const struct opt_def *d, const char *value,
			char *err, size_t errlen)
{
	static const char *const keys[] = { "auth", "sign", NULL };
	char path[64];

	switch (d->id) {
	case OPT_SYSTEM: a->address = NULL; break;
	case OPT_ADDRESS:
		if (!*value)
			return fail(err, errlen, "--address needs a D-Bus address");
		a->address = value;
		break;
	case OPT_READER:
		if (ctl_reader_path(value, path, sizeof(path)) < 0)
			return fail(err, errlen, "--reader wants a number or a reader object path, not '%s'", value);
		a->reader = value;
		break;
	case OPT_JSON: a->json = true; break;
	case OPT_TIMEOUT:
		if (parse_timeout(value, &a->timeout_sec) < 0)
			return fail(err, errlen, "--timeout wants whole seconds from 0 to %u, not '%s'",
				    CTL_MAX_TIMEOUT_SEC, value);
		a->timeout_given = true;
		break;
	case OPT_HELP: a->verb = CTL_VERB_HELP; break;
	case OPT_VERSION: a->verb = CTL_VERB_VERSION; break;
	case OPT_DER: a->cert_format = CTL_CERT_DER; break;
	case OPT_PEM: a->cert_format = CTL_CERT_PEM; break;
	case OPT_OUT: a->out_file = value; break;
	case OPT_PIN: break;  /* the only mode so far; the flag states it */
	case OPT_CHALLENGE: a->challenge_hex = value; break;
	case OPT_CHALLENGE_FILE: a->challenge_file = value; break;
	case OPT_ALLOW_LAST_TRY: a->allow_last_try = true; break;
	case OPT_KEY:
		if (!one_of(value, keys))
			return fail(err, errlen, "--key wants auth or sign, not '%s'", value);
		a->key = value;
		break;
	case OPT_HASH:
		if (!ctl_hash_len(value))
			return fail(err, errlen, "--hash wants sha256, sha384 or sha512, not '%s'", value);
		a->hash = value;
		break;
	case OPT_DIGEST: a->digest_hex = value; break;
	case OPT_DATA_FILE: a->data_file = value; break;
	case OPT_DEFAULT: a->default_agent = true; break;
	}
	return 0;
}

/* Checks that the options fit together once the verb is known. */
static int check_verb(struct ctl_args *a, char *err, size_t errlen)
{
	static const char *const whiches[] = { "auth", "auth-ca", "sign-ca", "sign", NULL };
	uint8_t buf[CTL_MAX_BLOB];
	long n;

	switch (a->verb) {
	case CTL_VERB_CERT:
		if (!a->which)
			a->which = "auth";
		if (!one_of(a->which, whiches))
			return fail(err, errlen, "cert wants auth, auth-ca, sign-ca or sign, not '%s'", a->which);
		if (a->out_file && a->cert_format == CTL_CERT_INFO)
			return fail(err, errlen, "--out needs --der or --pem");
		break;
	case CTL_VERB_AUTH:
		if (a->challenge_hex && a->challenge_file)
			return fail(err, errlen, "give --challenge or --challenge-file, not both");
		if (a->challenge_hex) {
			n = ctl_hex_decode(a->challenge_hex, buf, sizeof(buf));
			if (n <= 0)
				return fail(err, errlen, "--challenge wants non-empty hex (at most %u bytes)", CTL_MAX_BLOB);
		}
		break;
	case CTL_VERB_SIGN:
		if (!a->key)
			return fail(err, errlen, "sign needs --key auth|sign");
		if (!a->hash)
			a->hash = "sha256";
		if (!!a->digest_hex == !!a->data_file)
			return fail(err, errlen, "sign needs exactly one of --digest HEX and --data-file FILE");
		if (a->digest_hex) {
			n = ctl_hex_decode(a->digest_hex, buf, sizeof(buf));
			if (n < 0 || (size_t)n != ctl_hash_len(a->hash))
				return fail(err, errlen, "--digest wants %zu bytes of hex for %s",
					    ctl_hash_len(a->hash), a->hash);
		}
		break;
	default:
		break;
	}
	return 0;
}

int ctl_parse_args(int argc, char **argv, struct ctl_args *a, char *err, size_t errlen)
{
	bool options_done = false;
	bool help = false, version = false;
	/* Options are checked against the verb once it is known. */
	uint32_t seen = 0;

	*a = (struct ctl_args){ .timeout_sec = CTL_DEFAULT_TIMEOUT_SEC };
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!options_done && strcmp(arg, "--") == 0) {
			options_done = true;
		} else if (!options_done && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)) {
			help = true;
		} else if (!options_done && strcmp(arg, "--version") == 0) {
			version = true;
		} else if (!options_done && strncmp(arg, "--", 2) == 0) {
			const char *name = arg + 2, *eq = strchr(name, '=');
			size_t len = eq ? (size_t)(eq - name) : strlen(name);
			const struct opt_def *d = find_option(name, len);
			const char *value = NULL;

			if (!d)
				return fail(err, errlen, "unknown option '%s'", arg);
			if (d->has_value) {
				if (eq) {
					value = eq + 1;
				} else if (i + 1 < argc) {
					value = argv[++i];
				} else {
					return fail(err, errlen, "--%s needs a value", d->name);
				}
			} else if (eq) {
				return fail(err, errlen, "--%s takes no value", d->name);
			}
			if (apply_option(a, d, value, err, errlen) < 0)
				return -1;
			seen |= 1u << d->id;
		} else if (!options_done && arg[0] == '-' && arg[1]) {
			return fail(err, errlen, "unknown option '%s'", arg);
		} else if (a->verb == CTL_VERB_NONE) {
			a->verb = find_verb(arg);
			if (a->verb == CTL_VERB_NONE)
				return fail(err, errlen, "unknown command '%s' (see --help)", arg);
		} else if (a->verb == CTL_VERB_CERT && !a->which) {
			a->which = arg;
		} else {
			return fail(err, errlen, "unexpected argument '%s'", arg);
		}
	}
	if (help)
		a->verb = CTL_VERB_HELP;
	else if (version)
		a->verb = CTL_VERB_VERSION;
	if (a->verb == CTL_VERB_NONE)
		return fail(err, errlen, "no command given (see --help)");
	if (a->verb == CTL_VERB_HELP || a->verb == CTL_VERB_VERSION)
		return 0;
	for (size_t i = 0; i < sizeof(options) / sizeof(options[0]); i++) {
		if ((seen & (1u << options[i].id)) && !(options[i].verbs & V(a->verb)))
			return fail(err, errlen, "--%s does not apply to this command", options[i].name);
	}
	return check_verb(a, err, errlen);
}

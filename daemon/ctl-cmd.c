/* ctl-cmd.c — see ctl-cmd.h.  One function per verb; each gathers what it
 * needs from onshid first and prints only when everything succeeded, so a
 * failing command prints an error and no half result. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "ctl-agent.h"
#include "ctl-cmd.h"
#include "ctl-output.h"

#define SERVICE_NAME   "org.onshi.Onshi1"
#define MANAGER_PATH   "/org/onshi/Onshi1"
#define MANAGER_IFACE  "org.onshi.Onshi1.Manager"
#define READER_IFACE   "org.onshi.Onshi1.Reader"
#define PROPS_IFACE    "org.freedesktop.DBus.Properties"
#define ERR_PREFIX     "org.onshi.Onshi1.Error."
/* Errors onshictl raises itself (not from onshid). */
#define ERR_LOCAL      "org.onshi.ctl.Error.Failed"

#define READER_PATH_MAX 64
/* Largest file read for --challenge-file. */
#define CHALLENGE_FILE_MAX 4096u
#define DEFAULT_CHALLENGE_LEN 32u

struct ctx {
	const struct ctl_args *args;
	sd_bus *bus;
	sd_event *event;
	uint64_t timeout_usec;
	/* set by event callbacks */
	bool done;                   /* run_loop() returns */
	int interrupted;             /* signal number, 0 if none */
	bool timed_out;
	char found[READER_PATH_MAX]; /* wait-card: the reader with the card */
	sd_event_source *settle;     /* wait-card: card there, type not yet */
	const char *cancel_path;     /* reader to Cancel() on Ctrl-C */
	sd_bus_message *reply;       /* interactive call: its reply */
	struct ctl_agent *agent;
};

/* ---- a{sv} reading ------------------------------------------------------ */

enum field_type { F_STR, F_BOOL, F_INT64, F_UINT32, F_BYTES };

struct field {
	const char *key;
	enum field_type type;
	void *dst;        /* char **, bool *, int64_t *, uint32_t *, uint8_t ** */
	size_t *len;      /* F_BYTES only */
	bool present;
};

static const char *field_signature(enum field_type t)
{
	switch (t) {
	case F_STR: return "s";
	case F_BOOL: return "b";
	case F_INT64: return "x";
	case F_UINT32: return "u";
	case F_BYTES: return "ay";
	}
	return "";
}

static int read_field_value(sd_bus_message *m, struct field *f)
{
	const char *s;
	const void *p;
	size_t n;
	int b, r;

	switch (f->type) {
	case F_STR:
		r = sd_bus_message_read(m, "s", &s);
		if (r >= 0) {
			free(*(char **)f->dst);
			*(char **)f->dst = strdup(s);
			if (!*(char **)f->dst)
				r = -ENOMEM;
		}
		return r;
	case F_BOOL:
		r = sd_bus_message_read(m, "b", &b);
		if (r >= 0)
			*(bool *)f->dst = b;
		return r;
	case F_INT64:
		return sd_bus_message_read(m, "x", f->dst);
	case F_UINT32:
		return sd_bus_message_read(m, "u", f->dst);
	case F_BYTES:
		r = sd_bus_message_read_array(m, 'y', &p, &n);
		if (r >= 0) {
			uint8_t *copy = malloc(n ? n : 1);

			if (!copy)
				return -ENOMEM;
			memcpy(copy, p, n);
			free(*(uint8_t **)f->dst);
			*(uint8_t **)f->dst = copy;
			*f->len = n;
		}
		return r;
	}
	return -EINVAL;
}

/* Reads an a{sv} into the fields it names; unknown keys and values of an
 * unexpected type are skipped (present stays false). */
static int read_dict(sd_bus_message *m, struct field *fields, size_t n)
{
	int r = sd_bus_message_enter_container(m, 'a', "{sv}");

	if (r < 0)
		return r;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key, *contents;
		struct field *f = NULL;
		char type;

		r = sd_bus_message_read(m, "s", &key);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(fields[i].key, key) == 0)
				f = &fields[i];
		}
		r = sd_bus_message_peek_type(m, &type, &contents);
		if (r < 0)
			return r;
		if (!f || strcmp(contents, field_signature(f->type)) != 0) {
			r = sd_bus_message_skip(m, "v");
		} else {
			r = sd_bus_message_enter_container(m, 'v', contents);
			if (r >= 0)
				r = read_field_value(m, f);
			if (r >= 0)
				r = sd_bus_message_exit_container(m);
			f->present = r >= 0;
		}
		if (r < 0)
			return r;
		r = sd_bus_message_exit_container(m);
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	return sd_bus_message_exit_container(m);
}

/* ---- errors ------------------------------------------------------------- */

static int report(struct ctx *c, const char *name, const char *message)
{
	enum ctl_exit code = name && strcmp(name, ERR_LOCAL) == 0 ? CTL_EXIT_FAILURE
								  : ctl_exit_for_error(name);

	fprintf(stderr, "%s: %s\n", ctl_error_short_name(name), message ? message : "failed");
	if (c->args->json) {
		struct ctl_out *o = ctl_out_new(stdout, true);

		if (o) {
			ctl_out_begin_object(o, "error");
			ctl_out_string(o, "name", name);
			ctl_out_string(o, "message", message);
			ctl_out_uint(o, "exit", code);
			ctl_out_end_object(o);
			ctl_out_finish(o);
		}
	}
	return code;
}

/* A failed D-Bus call (or local sd-bus failure r). */
static int report_bus(struct ctx *c, const sd_bus_error *e, int r)
{
	if (e && sd_bus_error_is_set(e))
		return report(c, e->name, e->message);
	return report(c, ERR_LOCAL, strerror(r < 0 ? -r : EIO));
}

__attribute__((format(printf, 3, 4)))
static int report_as(struct ctx *c, const char *name, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return report(c, name, msg);
}

/* ---- readers ------------------------------------------------------------ */

struct reader_info {
	char path[READER_PATH_MAX];
	char *name;
	char *card_type;
	uint8_t *atr;
	size_t atr_len;
	bool card_present, contactless, pinpad;
};

static void reader_info_clear(struct reader_info *ri)
{
	free(ri->name);
	free(ri->card_type);
	free(ri->atr);
	memset(ri, 0, sizeof(*ri));
}

static int get_reader_info(struct ctx *c, const char *path, struct reader_info *ri, sd_bus_error *e)
{
	sd_bus_message *reply = NULL;
	struct field fields[] = {
		{ "Name", F_STR, &ri->name, NULL, false },
		{ "CardType", F_STR, &ri->card_type, NULL, false },
		{ "Atr", F_BYTES, &ri->atr, &ri->atr_len, false },
		{ "CardPresent", F_BOOL, &ri->card_present, NULL, false },
		{ "Contactless", F_BOOL, &ri->contactless, NULL, false },
		{ "PinPad", F_BOOL, &ri->pinpad, NULL, false },
	};
	int r;

	memset(ri, 0, sizeof(*ri));
	if (strlen(path) >= sizeof(ri->path))
		return -EINVAL;
	strcpy(ri->path, path);
	r = sd_bus_call_method(c->bus, SERVICE_NAME, path, PROPS_IFACE, "GetAll", e, &reply,
			       "s", READER_IFACE);
	if (r >= 0)
		r = read_dict(reply, fields, sizeof(fields) / sizeof(fields[0]));
	sd_bus_message_unref(reply);
	return r;
}

/* The readers' object paths, NULL-terminated (free with free_strv). */
static int list_readers(struct ctx *c, char ***out, sd_bus_error *e)
{
	sd_bus_message *reply = NULL;
	char **v = NULL;
	size_t n = 0;
	const char *p;
	int r;

	*out = NULL;
	r = sd_bus_call_method(c->bus, SERVICE_NAME, MANAGER_PATH, MANAGER_IFACE, "ListReaders",
			       e, &reply, NULL);
	if (r >= 0)
		r = sd_bus_message_enter_container(reply, 'a', "o");
	while (r >= 0 && (r = sd_bus_message_read(reply, "o", &p)) > 0) {
		char **nv = realloc(v, (n + 2) * sizeof(*v));

		if (!nv) {
			r = -ENOMEM;
			break;
		}
		v = nv;
		v[n] = strdup(p);
		v[n + 1] = NULL;
		if (!v[n]) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	sd_bus_message_unref(reply);
	if (r < 0) {
		for (size_t i = 0; v && v[i]; i++)
			free(v[i]);
		free(v);
		return r;
	}
	if (!v)
		v = calloc(1, sizeof(*v));
	*out = v;
	return v ? 0 : -ENOMEM;
}

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void out_reader(struct ctl_out *o, const struct reader_info *ri)
{
	ctl_out_string(o, "path", ri->path);
	ctl_out_string(o, "name", ri->name);
	ctl_out_bool(o, "card-present", ri->card_present);
	ctl_out_string(o, "card-type", ri->card_type);
	ctl_out_bool(o, "contactless", ri->contactless);
	ctl_out_bool(o, "pinpad", ri->pinpad);
	ctl_out_hex(o, "atr", ri->atr, ri->atr_len);
}

/* The reader to act on: --reader, else the first reader with a card. */
static int pick_reader(struct ctx *c, char path[READER_PATH_MAX], int *code)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char **paths = NULL;
	int r;

	if (c->args->reader) {
		/* Checked by the parser already. */
		return ctl_reader_path(c->args->reader, path, READER_PATH_MAX);
	}
	r = list_readers(c, &paths, &e);
	if (r < 0) {
		*code = report_bus(c, &e, r);
		sd_bus_error_free(&e);
		return -1;
	}
	for (size_t i = 0; paths[i]; i++) {
		struct reader_info ri;

		r = get_reader_info(c, paths[i], &ri, &e);
		sd_bus_error_free(&e);
		if (r >= 0 && ri.card_present) {
			strcpy(path, ri.path);
			reader_info_clear(&ri);
			free_strv(paths);
			return 0;
		}
		reader_info_clear(&ri);
	}
	*code = report_as(c, ERR_PREFIX "NoCard", "no reader has a card%s",
			  paths[0] ? "" : " (onshid sees no reader)");
	free_strv(paths);
	return -1;
}

/* ---- certificate fields --------------------------------------------------- */

struct cert_info {
	char *mode, *serial, *subject, *issuer;
	int64_t not_before, not_after;
	bool chain_valid;
	uint32_t key_bits;
	uint8_t *der, *signature;
	size_t der_len, sig_len;
	struct field f[10];
};

static void cert_info_init(struct cert_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->f[0] = (struct field){ "mode", F_STR, &ci->mode, NULL, false };
	ci->f[1] = (struct field){ "serial", F_STR, &ci->serial, NULL, false };
	ci->f[2] = (struct field){ "subject", F_STR, &ci->subject, NULL, false };
	ci->f[3] = (struct field){ "issuer", F_STR, &ci->issuer, NULL, false };
	ci->f[4] = (struct field){ "not-before", F_INT64, &ci->not_before, NULL, false };
	ci->f[5] = (struct field){ "not-after", F_INT64, &ci->not_after, NULL, false };
	ci->f[6] = (struct field){ "chain-valid", F_BOOL, &ci->chain_valid, NULL, false };
	ci->f[7] = (struct field){ "key-bits", F_UINT32, &ci->key_bits, NULL, false };
	ci->f[8] = (struct field){ "certificate", F_BYTES, &ci->der, &ci->der_len, false };
	ci->f[9] = (struct field){ "signature", F_BYTES, &ci->signature, &ci->sig_len, false };
}

static void cert_info_clear(struct cert_info *ci)
{
	free(ci->mode);
	free(ci->serial);
	free(ci->subject);
	free(ci->issuer);
	free(ci->der);
	free(ci->signature);
	memset(ci, 0, sizeof(*ci));
}

static void out_cert_fields(struct ctl_out *o, const struct cert_info *ci)
{
	if (ci->f[1].present) ctl_out_string(o, "serial", ci->serial);
	if (ci->f[2].present) ctl_out_string(o, "subject", ci->subject);
	if (ci->f[3].present) ctl_out_string(o, "issuer", ci->issuer);
	if (ci->f[4].present) ctl_out_time(o, "not-before", ci->not_before);
	if (ci->f[5].present) ctl_out_time(o, "not-after", ci->not_after);
	if (ci->f[6].present) ctl_out_bool(o, "chain-valid", ci->chain_valid);
	if (ci->f[7].present) ctl_out_uint(o, "key-bits", ci->key_bits);
}

/* ---- files ---------------------------------------------------------------- */

static int write_file(const char *path, const void *data, size_t len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "wb");
	int rc = 0;

	if (!f)
		return -errno;
	if (fwrite(data, 1, len, f) != len)
		rc = -EIO;
	if (f == stdout) {
		if (fflush(f) != 0)
			rc = -EIO;
	} else if (fclose(f) != 0 && rc == 0) {
		rc = -errno;
	}
	return rc;
}

/* Reads at most max bytes; a longer file is an error (-EFBIG). */
static int read_file_bounded(const char *path, size_t max, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf;
	size_t n;

	*out = NULL;
	*len = 0;
	if (!f)
		return -errno;
	buf = malloc(max + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, max + 1, f);
	if (ferror(f) || n > max) {
		int rc = ferror(f) ? -EIO : -EFBIG;

		fclose(f);
		free(buf);
		return rc;
	}
	fclose(f);
	*out = buf;
	*len = n;
	return 0;
}

static char *pem_encode(const uint8_t *der, size_t len)
{
	static const char head[] = "-----BEGIN CERTIFICATE-----\n";
	static const char tail[] = "-----END CERTIFICATE-----\n";
	size_t b64_len = 4 * ((len + 2) / 3);
	char *b64 = malloc(b64_len + 1), *pem, *p;

	if (!b64 || len > INT32_MAX)
		goto fail;
	EVP_EncodeBlock((unsigned char *)b64, der, (int)len);
	pem = malloc(sizeof(head) + b64_len + b64_len / 64 + 2 + sizeof(tail));
	if (!pem)
		goto fail;
	p = stpcpy(pem, head);
	for (size_t i = 0; i < b64_len; i += 64) {
		size_t n = b64_len - i < 64 ? b64_len - i : 64;

		memcpy(p, b64 + i, n);
		p += n;
		*p++ = '\n';
	}
	strcpy(p, tail);
	free(b64);
	return pem;
fail:
	free(b64);
	return NULL;
}

/* Digest of a file with libcrypto. */
static int digest_file(const char *path, const char *hash, uint8_t *out, size_t *len)
{
	const EVP_MD *md = EVP_get_digestbyname(hash);
	EVP_MD_CTX *mdc = EVP_MD_CTX_new();
	FILE *f = fopen(path, "rb");
	uint8_t buf[8192];
	unsigned int mdlen = 0;
	size_t n;
	int rc = 0;

	if (!f)
		rc = -errno;
	else if (!md || !mdc || EVP_DigestInit_ex(mdc, md, NULL) != 1)
		rc = -EINVAL;
	while (rc == 0 && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (EVP_DigestUpdate(mdc, buf, n) != 1)
			rc = -EIO;
	}
	if (rc == 0 && ferror(f))
		rc = -EIO;
	if (rc == 0 && EVP_DigestFinal_ex(mdc, out, &mdlen) != 1)
		rc = -EIO;
	if (f)
		fclose(f);
	EVP_MD_CTX_free(mdc);
	*len = mdlen;
	return rc;
}

/* ---- interactive calls (the agent answers while we wait) ------------------ */

static int on_call_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct ctx *c = userdata;

	(void)ret_error;
	c->reply = sd_bus_message_ref(m);
	sd_bus_message_sensitive(c->reply);
	c->done = true;
	return 0;
}

static int on_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	struct ctx *c = userdata;

	(void)s;
	c->interrupted = (int)si->ssi_signo;
	ctl_agent_abort(c->agent, "interrupted");
	if (c->cancel_path) {
		/* Stop the operation in onshid too; sent before the bus closes. */
		sd_bus_call_method_async(c->bus, NULL, SERVICE_NAME, c->cancel_path, READER_IFACE,
					 "Cancel", NULL, NULL, NULL);
	}
	c->done = true;
	return 0;
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ctx *c = userdata;

	(void)s; (void)usec;
	c->timed_out = true;
	c->done = true;
	return 0;
}

/* Runs the event loop until a callback sets c->done.  Not sd_event_loop()
 * and sd_event_exit(): exiting the loop runs sd-bus's exit hook, which
 * closes the connection, and some verbs still need it afterwards. */
static int run_loop(struct ctx *c)
{
	c->done = false;
	while (!c->done) {
		int r = sd_event_run(c->event, UINT64_MAX);

		if (r < 0)
			return r;
	}
	return 0;
}

/* Ctrl-C and SIGTERM end the loop (through on_signal) instead of the
 * process, so the terminal is restored and onshid is told. */
static int watch_signals(struct ctx *c, sd_event_source **sources)
{
	sigset_t set;
	int r;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -errno;
	r = sd_event_add_signal(c->event, &sources[0], SIGINT, on_signal, c);
	if (r >= 0)
		r = sd_event_add_signal(c->event, &sources[1], SIGTERM, on_signal, c);
	return r;
}

static void unwatch_signals(sd_event_source **sources)
{
	sources[0] = sd_event_source_disable_unref(sources[0]);
	sources[1] = sd_event_source_disable_unref(sources[1]);
}

/* Runs call with a terminal agent registered, serving it until the reply.
 * Returns 0 with *reply set, or an exit code after reporting. */
static int call_interactive(struct ctx *c, const char *reader, sd_bus_message *call,
			    sd_bus_message **reply)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_event_source *sig[2] = { NULL, NULL };
	int r, code = 0;

	*reply = NULL;
	r = ctl_agent_new(c->bus, CTL_AGENT_CAP_PIN | CTL_AGENT_CAP_PINPAD, &c->agent, &e);
	if (r < 0) {
		code = report_bus(c, &e, r);
		sd_bus_error_free(&e);
		return code;
	}
	c->cancel_path = reader;
	r = watch_signals(c, sig);
	if (r >= 0)
		r = sd_bus_call_async(c->bus, NULL, call, on_call_reply, c, c->timeout_usec);
	if (r >= 0)
		r = run_loop(c);
	unwatch_signals(sig);
	ctl_agent_free(c->agent);
	c->agent = NULL;
	c->cancel_path = NULL;
	sd_bus_flush(c->bus);
	if (c->interrupted)
		return report_as(c, ERR_PREFIX "Cancelled", "interrupted by signal %d", c->interrupted);
	if (r < 0 || !c->reply)
		return report(c, ERR_LOCAL, strerror(r < 0 ? -r : EIO));
	if (sd_bus_message_is_method_error(c->reply, NULL)) {
		code = report_bus(c, sd_bus_message_get_error(c->reply), -EIO);
		c->reply = sd_bus_message_unref(c->reply);
		return code;
	}
	*reply = c->reply;
	c->reply = NULL;
	return 0;
}

/* ---- verbs ---------------------------------------------------------------- */

static int cmd_readers(struct ctx *c, bool with_status)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	struct ctl_out *o = NULL;
	char **paths = NULL;
	char *version = NULL;
	int r, code = 0;

	if (with_status) {
		r = sd_bus_get_property_string(c->bus, SERVICE_NAME, MANAGER_PATH, MANAGER_IFACE,
					       "Version", &e, &version);
		if (r < 0)
			goto bus_fail;
	}
	r = list_readers(c, &paths, &e);
	if (r < 0)
		goto bus_fail;
	o = ctl_out_new(stdout, c->args->json);
	if (!o) {
		code = report(c, ERR_LOCAL, strerror(ENOMEM));
		goto out;
	}
	if (with_status)
		ctl_out_string(o, "version", version);
	ctl_out_begin_array(o, "readers");
	for (size_t i = 0; paths[i]; i++) {
		struct reader_info ri;

		/* A reader that left between the two calls is skipped. */
		r = get_reader_info(c, paths[i], &ri, &e);
		if (r < 0) {
			sd_bus_error_free(&e);
			reader_info_clear(&ri);
			continue;
		}
		ctl_out_begin_object(o, NULL);
		out_reader(o, &ri);
		if (with_status && ri.card_present) {
			sd_bus_message *st = NULL;
			struct field f[] = {
				{ "auth", F_UINT32, &(uint32_t){ 0 }, NULL, false },
				{ "sign", F_UINT32, &(uint32_t){ 0 }, NULL, false },
				{ "card-info", F_UINT32, &(uint32_t){ 0 }, NULL, false },
			};

			r = sd_bus_call_method(c->bus, SERVICE_NAME, ri.path, READER_IFACE,
					       "GetPinStatus", &e, &st, NULL);
			if (r >= 0)
				r = read_dict(st, f, 3);
			if (r >= 0) {
				ctl_out_begin_object(o, "tries-left");
				for (size_t k = 0; k < 3; k++) {
					if (f[k].present)
						ctl_out_uint(o, f[k].key, *(uint32_t *)f[k].dst);
				}
				ctl_out_end_object(o);
			} else {
				ctl_out_string(o, "pin-status-error",
					       ctl_error_short_name(sd_bus_error_is_set(&e) ? e.name : NULL));
			}
			sd_bus_error_free(&e);
			sd_bus_message_unref(st);
		}
		ctl_out_end_object(o);
		reader_info_clear(&ri);
	}
	ctl_out_end_array(o);
	code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	goto out;
bus_fail:
	code = report_bus(c, &e, r);
out:
	sd_bus_error_free(&e);
	free_strv(paths);
	free(version);
	return code;
}

/* wait-card: how far a reader is.  A card whose type onshid has not
 * decided yet ("" while it SELECTs the applet) gets a short grace period so
 * that a command run right after wait-card finds it examined. */
enum card_state { NO_CARD, CARD_UNTYPED, CARD_READY };

#define SETTLE_USEC (5u * 1000000u)

static int on_settled(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct ctx *c = userdata;

	(void)s; (void)usec;
	c->done = true;
	return 0;
}

/* Looks at one reader; records it in c->found when it has a card.  Returns
 * the state, CARD_READY ending the wait. */
static enum card_state consider_reader(struct ctx *c, const char *path)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	enum card_state st = NO_CARD;
	struct reader_info ri;

	/* Ask for the whole state rather than trusting one changed property:
	 * invalidated properties and added readers are covered alike. */
	if (get_reader_info(c, path, &ri, &e) >= 0 && ri.card_present &&
	    strlen(path) < sizeof(c->found)) {
		st = ri.card_type && *ri.card_type ? CARD_READY : CARD_UNTYPED;
		strcpy(c->found, path);
		if (st == CARD_UNTYPED && !c->settle)
			sd_event_add_time_relative(c->event, &c->settle, CLOCK_MONOTONIC,
						   SETTLE_USEC, 0, on_settled, c);
	}
	reader_info_clear(&ri);
	sd_bus_error_free(&e);
	return st;
}

static int on_reader_signal(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct ctx *c = userdata;
	const char *path = sd_bus_message_get_path(m);
	char want[READER_PATH_MAX];

	(void)ret_error;
	if (sd_bus_message_is_signal(m, MANAGER_IFACE, "ReaderAdded") &&
	    sd_bus_message_read(m, "o", &path) < 0)
		return 0;
	if (!path)
		return 0;
	if (c->args->reader && ctl_reader_path(c->args->reader, want, sizeof(want)) == 0 &&
	    strcmp(want, path) != 0)
		return 0;
	if (consider_reader(c, path) == CARD_READY)
		c->done = true;
	return 0;
}

/* Returns true when a reader already has an examined card. */
static bool card_now(struct ctx *c)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char **paths = NULL;
	char want[READER_PATH_MAX];
	bool ready = false;

	if (c->args->reader) {
		ctl_reader_path(c->args->reader, want, sizeof(want));
		paths = calloc(2, sizeof(*paths));
		if (paths)
			paths[0] = strdup(want);
	} else if (list_readers(c, &paths, &e) < 0) {
		paths = NULL;
	}
	for (size_t i = 0; paths && paths[i] && !ready; i++)
		ready = consider_reader(c, paths[i]) == CARD_READY;
	sd_bus_error_free(&e);
	free_strv(paths);
	return ready;
}

/* onshid appeared (started late, or restarted): look again. */
static int on_service_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct ctx *c = userdata;
	const char *name, *old_owner, *new_owner;

	(void)ret_error;
	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) >= 0 && *new_owner &&
	    card_now(c))
		c->done = true;
	return 0;
}

static bool service_missing(const sd_bus_error *e)
{
	return sd_bus_error_has_name(e, SD_BUS_ERROR_SERVICE_UNKNOWN) ||
	       sd_bus_error_has_name(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER);
}

static int cmd_wait_card(struct ctx *c)
{
	sd_bus_slot *slots[3] = { NULL, NULL, NULL };
	sd_event_source *sig[2] = { NULL, NULL }, *timer = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	struct reader_info ri;
	struct ctl_out *o;
	int r, code;

	/* Subscribe first, then look: a card inserted in between is seen by
	 * one or the other.  The same holds for onshid itself starting. */
	r = sd_bus_add_match(c->bus, &slots[0],
			     "type='signal',sender='" SERVICE_NAME "',interface='" PROPS_IFACE "',"
			     "member='PropertiesChanged',path_namespace='" MANAGER_PATH "',"
			     "arg0='" READER_IFACE "'", on_reader_signal, c);
	if (r >= 0)
		r = sd_bus_add_match(c->bus, &slots[1],
				     "type='signal',sender='" SERVICE_NAME "',interface='" MANAGER_IFACE "',"
				     "member='ReaderAdded',path='" MANAGER_PATH "'", on_reader_signal, c);
	if (r >= 0)
		r = sd_bus_add_match(c->bus, &slots[2],
				     "type='signal',sender='org.freedesktop.DBus',"
				     "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
				     "arg0='" SERVICE_NAME "'", on_service_owner, c);
	/* The first call also tells whether onshid is there at all; if it is
	 * not (yet), wait for it like for the card. */
	if (r >= 0) {
		char **paths = NULL;

		r = list_readers(c, &paths, &e);
		free_strv(paths);
		if (r < 0 && service_missing(&e)) {
			sd_bus_error_free(&e);
			r = 0;
		}
	}
	if (r < 0) {
		code = report_bus(c, &e, r);
		goto out;
	}
	if (!card_now(c)) {
		r = watch_signals(c, sig);
		if (r >= 0 && c->args->timeout_given)
			r = sd_event_add_time_relative(c->event, &timer, CLOCK_MONOTONIC,
						       (uint64_t)c->args->timeout_sec * 1000000u, 0,
						       on_timer, c);
		if (r >= 0)
			r = run_loop(c);
		if (r < 0) {
			code = report(c, ERR_LOCAL, strerror(-r));
			goto out;
		}
		if (c->interrupted) {
			code = report_as(c, ERR_PREFIX "Cancelled", "interrupted by signal %d", c->interrupted);
			goto out;
		}
		if (c->timed_out) {
			code = report_as(c, ERR_PREFIX "Timeout", "no card within %u s", c->args->timeout_sec);
			goto out;
		}
	}
	r = get_reader_info(c, c->found, &ri, &e);
	if (r < 0) {
		code = report_bus(c, &e, r);
		goto out;
	}
	o = ctl_out_new(stdout, c->args->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		out_reader(o, &ri);
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
	reader_info_clear(&ri);
out:
	sd_bus_error_free(&e);
	c->settle = sd_event_source_disable_unref(c->settle);
	sd_event_source_disable_unref(timer);
	unwatch_signals(sig);
	for (size_t i = 0; i < 3; i++)
		sd_bus_slot_unref(slots[i]);
	return code;
}

static int cmd_cert(struct ctx *c)
{
	const struct ctl_args *a = c->args;
	sd_bus_message *call = NULL, *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char reader[READER_PATH_MAX];
	struct cert_info ci;
	struct ctl_out *o;
	const void *der;
	size_t der_len;
	int r, code = 0;

	cert_info_init(&ci);
	if (pick_reader(c, reader, &code) < 0)
		return code;
	r = sd_bus_message_new_method_call(c->bus, &call, SERVICE_NAME, reader, READER_IFACE,
					   "ReadCertificate");
	if (r >= 0)
		r = sd_bus_message_append(call, "s", a->which);
	if (r < 0) {
		code = report_bus(c, NULL, r);
		goto out;
	}
	/* The signature certificate needs the signature password: agent. */
	if (strcmp(a->which, "sign") == 0) {
		code = call_interactive(c, reader, call, &reply);
		if (code)
			goto out;
	} else {
		r = sd_bus_call(c->bus, call, c->timeout_usec, &e, &reply);
		if (r < 0) {
			code = report_bus(c, &e, r);
			goto out;
		}
	}
	r = sd_bus_message_read_array(reply, 'y', &der, &der_len);
	if (r >= 0)
		r = read_dict(reply, ci.f, 10);
	if (r < 0) {
		code = report_as(c, ERR_LOCAL, "malformed reply from onshid: %s", strerror(-r));
		goto out;
	}
	if (a->cert_format != CTL_CERT_INFO) {
		char *pem = NULL;

		if (a->cert_format == CTL_CERT_PEM) {
			pem = pem_encode(der, der_len);
			if (!pem) {
				code = report(c, ERR_LOCAL, strerror(ENOMEM));
				goto out;
			}
		}
		r = write_file(a->out_file ? a->out_file : "-", pem ? (const void *)pem : der,
			       pem ? strlen(pem) : der_len);
		free(pem);
		if (r < 0) {
			code = report_as(c, ERR_LOCAL, "cannot write %s: %s",
					 a->out_file ? a->out_file : "standard output", strerror(-r));
			goto out;
		}
		/* Without --out, stdout carries the certificate alone. */
		if (!a->out_file)
			goto out;
	}
	o = ctl_out_new(stdout, a->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		ctl_out_string(o, "reader", reader);
		ctl_out_string(o, "which", a->which);
		out_cert_fields(o, &ci);
		if (a->out_file)
			ctl_out_string(o, "written-to", a->out_file);
		if (a->json)
			ctl_out_hex(o, "certificate", der, der_len);
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
out:
	sd_bus_error_free(&e);
	sd_bus_message_unref(call);
	sd_bus_message_unref(reply);
	cert_info_clear(&ci);
	return code;
}

static int cmd_pin_status(struct ctx *c)
{
	sd_bus_message *reply = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	char reader[READER_PATH_MAX];
	uint32_t tries[3] = { 0, 0, 0 };
	struct field f[] = {
		{ "auth", F_UINT32, &tries[0], NULL, false },
		{ "sign", F_UINT32, &tries[1], NULL, false },
		{ "card-info", F_UINT32, &tries[2], NULL, false },
	};
	struct ctl_out *o;
	int r, code = 0;

	if (pick_reader(c, reader, &code) < 0)
		return code;
	r = sd_bus_call_method(c->bus, SERVICE_NAME, reader, READER_IFACE, "GetPinStatus",
			       &e, &reply, NULL);
	if (r < 0) {
		code = report_bus(c, &e, r);
		goto out;
	}
	r = read_dict(reply, f, 3);
	if (r < 0) {
		code = report_as(c, ERR_LOCAL, "malformed reply from onshid: %s", strerror(-r));
		goto out;
	}
	o = ctl_out_new(stdout, c->args->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		ctl_out_string(o, "reader", reader);
		ctl_out_begin_object(o, "tries-left");
		for (size_t k = 0; k < 3; k++) {
			if (f[k].present)
				ctl_out_uint(o, f[k].key, tries[k]);
		}
		ctl_out_end_object(o);
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
out:
	sd_bus_error_free(&e);
	sd_bus_message_unref(reply);
	return code;
}

/* The challenge: --challenge hex, --challenge-file, else random bytes. */
static int load_challenge(struct ctx *c, uint8_t **out, size_t *len)
{
	const struct ctl_args *a = c->args;
	long n;
	int r;

	if (a->challenge_file) {
		r = read_file_bounded(a->challenge_file, CHALLENGE_FILE_MAX, out, len);
		if (r < 0)
			return report_as(c, ERR_LOCAL, "cannot read %s: %s", a->challenge_file,
					 r == -EFBIG ? "longer than 4096 bytes" : strerror(-r));
		if (*len == 0)
			return report_as(c, "org.freedesktop.DBus.Error.InvalidArgs", "%s is empty",
					 a->challenge_file);
		return 0;
	}
	*out = malloc(CTL_MAX_BLOB);
	if (!*out)
		return report(c, ERR_LOCAL, strerror(ENOMEM));
	if (a->challenge_hex) {
		n = ctl_hex_decode(a->challenge_hex, *out, CTL_MAX_BLOB);
		*len = n > 0 ? (size_t)n : 0;  /* the parser checked it */
		return 0;
	}
	if (getrandom(*out, DEFAULT_CHALLENGE_LEN, 0) != (ssize_t)DEFAULT_CHALLENGE_LEN)
		return report_as(c, ERR_LOCAL, "no random bytes: %s", strerror(errno));
	*len = DEFAULT_CHALLENGE_LEN;
	return 0;
}

static int cmd_auth(struct ctx *c)
{
	const struct ctl_args *a = c->args;
	sd_bus_message *call = NULL, *reply = NULL;
	char reader[READER_PATH_MAX];
	uint8_t *challenge = NULL;
	size_t challenge_len = 0;
	struct cert_info ci;
	struct ctl_out *o;
	int r, code = 0;

	cert_info_init(&ci);
	if (pick_reader(c, reader, &code) < 0)
		return code;
	code = load_challenge(c, &challenge, &challenge_len);
	if (code)
		goto out;
	r = sd_bus_message_new_method_call(c->bus, &call, SERVICE_NAME, reader, READER_IFACE,
					   "Authenticate");
	if (r >= 0)
		r = sd_bus_message_append(call, "s", "pin");
	if (r >= 0)
		r = sd_bus_message_append_array(call, 'y', challenge, challenge_len);
	if (r >= 0)
		r = sd_bus_message_open_container(call, 'a', "{sv}");
	if (r >= 0 && a->allow_last_try)
		r = sd_bus_message_append(call, "{sv}", "allow-last-try", "b", 1);
	/* onshid takes 1..3600000 ms; a longer (or no) D-Bus timeout leaves
	 * the agent limited to onshid's hour at most. */
	if (r >= 0 && a->timeout_given && a->timeout_sec > 0)
		r = sd_bus_message_append(call, "{sv}", "timeout-ms", "u",
					  a->timeout_sec >= 3600 ? 3600000u : (uint32_t)a->timeout_sec * 1000u);
	if (r >= 0)
		r = sd_bus_message_close_container(call);
	if (r < 0) {
		code = report_bus(c, NULL, r);
		goto out;
	}
	code = call_interactive(c, reader, call, &reply);
	if (code)
		goto out;
	r = read_dict(reply, ci.f, 10);
	if (r < 0 || !ci.f[9].present) {
		code = report_as(c, ERR_LOCAL, "malformed reply from onshid%s",
				 r < 0 ? "" : ": no signature");
		goto out;
	}
	o = ctl_out_new(stdout, a->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		ctl_out_string(o, "reader", reader);
		ctl_out_string(o, "mode", ci.f[0].present ? ci.mode : "pin");
		ctl_out_hex(o, "challenge", challenge, challenge_len);
		out_cert_fields(o, &ci);
		/* People get the signature; the DER is for programs. */
		if (a->json && ci.f[8].present)
			ctl_out_hex(o, "certificate", ci.der, ci.der_len);
		ctl_out_hex(o, "signature", ci.signature, ci.sig_len);
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
out:
	sd_bus_message_unref(call);
	sd_bus_message_unref(reply);
	free(challenge);
	cert_info_clear(&ci);
	return code;
}

static int cmd_sign(struct ctx *c)
{
	const struct ctl_args *a = c->args;
	sd_bus_message *call = NULL, *reply = NULL;
	char reader[READER_PATH_MAX];
	uint8_t digest[64];
	size_t digest_len = 0;
	const void *sig;
	size_t sig_len;
	struct ctl_out *o;
	int r, code = 0;

	if (a->data_file) {
		r = digest_file(a->data_file, a->hash, digest, &digest_len);
		if (r < 0)
			return report_as(c, ERR_LOCAL, "cannot hash %s: %s", a->data_file, strerror(-r));
	} else {
		long n = ctl_hex_decode(a->digest_hex, digest, sizeof(digest));

		digest_len = n > 0 ? (size_t)n : 0;  /* length checked by the parser */
	}
	if (pick_reader(c, reader, &code) < 0)
		return code;
	r = sd_bus_message_new_method_call(c->bus, &call, SERVICE_NAME, reader, READER_IFACE, "Sign");
	if (r >= 0)
		r = sd_bus_message_append(call, "ss", a->key, a->hash);
	if (r >= 0)
		r = sd_bus_message_append_array(call, 'y', digest, digest_len);
	if (r < 0) {
		code = report_bus(c, NULL, r);
		goto out;
	}
	code = call_interactive(c, reader, call, &reply);
	if (code)
		goto out;
	r = sd_bus_message_read_array(reply, 'y', &sig, &sig_len);
	if (r < 0) {
		code = report_as(c, ERR_LOCAL, "malformed reply from onshid: %s", strerror(-r));
		goto out;
	}
	if (a->out_file) {
		r = write_file(a->out_file, sig, sig_len);
		if (r < 0) {
			code = report_as(c, ERR_LOCAL, "cannot write %s: %s", a->out_file, strerror(-r));
			goto out;
		}
	}
	o = ctl_out_new(stdout, a->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		ctl_out_string(o, "reader", reader);
		ctl_out_string(o, "key", a->key);
		ctl_out_string(o, "hash", a->hash);
		ctl_out_hex(o, "digest", digest, digest_len);
		ctl_out_hex(o, "signature", sig, sig_len);
		if (a->out_file)
			ctl_out_string(o, "written-to", a->out_file);
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
out:
	sd_bus_message_unref(call);
	sd_bus_message_unref(reply);
	return code;
}

/* onshid restarted: its agent list is new, register again. */
static int on_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct ctx *c = userdata;
	const char *name, *old_owner, *new_owner;
	sd_bus_error e = SD_BUS_ERROR_NULL;

	(void)ret_error;
	if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0 || !*new_owner)
		return 0;
	if (ctl_agent_register(c->agent, &e) < 0)
		fprintf(stderr, "onshictl: cannot register again: %s\n",
			sd_bus_error_is_set(&e) ? e.message : "failed");
	else
		fprintf(stderr, "onshictl: onshid restarted; agent registered again\n");
	sd_bus_error_free(&e);
	return 0;
}

static int cmd_agent(struct ctx *c)
{
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_event_source *sig[2] = { NULL, NULL };
	sd_bus_slot *owner_slot = NULL;
	struct ctl_out *o;
	int r, code;

	r = ctl_agent_new(c->bus, CTL_AGENT_CAP_PIN | CTL_AGENT_CAP_PINPAD | CTL_AGENT_CAP_COLLATION,
			  &c->agent, &e);
	if (r >= 0 && c->args->default_agent)
		r = ctl_agent_request_default(c->agent, &e);
	if (r < 0) {
		code = report_bus(c, &e, r);
		goto out;
	}
	r = sd_bus_match_signal(c->bus, &owner_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				"org.freedesktop.DBus", "NameOwnerChanged", on_owner_changed, c);
	if (r >= 0)
		r = watch_signals(c, sig);
	if (r < 0) {
		code = report(c, ERR_LOCAL, strerror(-r));
		goto out;
	}
	fprintf(stderr, "onshictl: agent %s registered%s; serving until Ctrl-C\n", CTL_AGENT_PATH,
		c->args->default_agent ? " as the default agent" : "");
	r = run_loop(c);
	if (r < 0 && !c->interrupted) {
		code = report(c, ERR_LOCAL, strerror(-r));
		goto out;
	}
	o = ctl_out_new(stdout, c->args->json);
	code = CTL_EXIT_FAILURE;
	if (o) {
		ctl_out_string(o, "agent", CTL_AGENT_PATH);
		ctl_out_uint(o, "answered", ctl_agent_answered(c->agent));
		code = ctl_out_finish(o) < 0 ? CTL_EXIT_FAILURE : 0;
	}
out:
	unwatch_signals(sig);
	sd_bus_slot_unref(owner_slot);
	ctl_agent_free(c->agent);
	c->agent = NULL;
	sd_bus_error_free(&e);
	return code;
}

/* ---- connection ------------------------------------------------------------ */

static int connect_bus(struct ctx *c)
{
	int r;

	if (c->args->address) {
		r = sd_bus_new(&c->bus);
		if (r >= 0)
			r = sd_bus_set_address(c->bus, c->args->address);
		if (r >= 0)
			r = sd_bus_set_bus_client(c->bus, 1);
		if (r >= 0)
			r = sd_bus_start(c->bus);
	} else {
		/* Honours DBUS_SYSTEM_BUS_ADDRESS. */
		r = sd_bus_open_system(&c->bus);
	}
	if (r >= 0)
		r = sd_bus_set_method_call_timeout(c->bus, c->timeout_usec);
	if (r >= 0)
		r = sd_event_new(&c->event);
	if (r >= 0)
		r = sd_bus_attach_event(c->bus, c->event, SD_EVENT_PRIORITY_NORMAL);
	return r;
}

int ctl_run(const struct ctl_args *args)
{
	struct ctx c = { .args = args };
	int r, code;

	/* 0 s would mean "sd-bus default"; a tiny limit is what was asked. */
	c.timeout_usec = args->timeout_sec ? (uint64_t)args->timeout_sec * 1000000u : 1;
	if (args->verb == CTL_VERB_WAIT_CARD)
		c.timeout_usec = CTL_DEFAULT_TIMEOUT_SEC * 1000000ull;
	r = connect_bus(&c);
	if (r < 0) {
		code = report_as(&c, "org.freedesktop.DBus.Error.NoServer", "cannot connect to %s: %s",
				 args->address ? args->address : "the system bus", strerror(-r));
		goto out;
	}
	switch (args->verb) {
	case CTL_VERB_READERS: code = cmd_readers(&c, false); break;
	case CTL_VERB_STATUS: code = cmd_readers(&c, true); break;
	case CTL_VERB_WAIT_CARD: code = cmd_wait_card(&c); break;
	case CTL_VERB_CERT: code = cmd_cert(&c); break;
	case CTL_VERB_PIN_STATUS: code = cmd_pin_status(&c); break;
	case CTL_VERB_AUTH: code = cmd_auth(&c); break;
	case CTL_VERB_SIGN: code = cmd_sign(&c); break;
	case CTL_VERB_AGENT: code = cmd_agent(&c); break;
	default: code = CTL_EXIT_USAGE; break;
	}
out:
	sd_bus_flush_close_unref(c.bus);
	sd_event_unref(c.event);
	return code;
}

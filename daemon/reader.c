/* reader.c — reader objects, per-reader worker threads and the operations
 * (see reader.h for the threading and card-state rules). */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <openssl/sha.h>

#include "agent.h"
#include "authz.h"
#include "bus-common.h"
#include "errors.h"
#include "jpki-ops.h"
#include "pcsc-card.h"
#include "reader.h"
#include "secret.h"
#include "x509-info.h"

#define CHALLENGE_MAX 65536u
#define CERT_CAP 8192u

enum op_kind { OP_PROBE, OP_CARD_TYPE, OP_READ_CERT, OP_PIN_STATUS, OP_AUTH, OP_SIGN };

struct reader;

struct op {
	struct op *next;
	enum op_kind kind;
	struct reader *r;
	sd_bus_message *call;          /* NULL for internal operations */
	char *sender;
	uid_t uid;
	sd_bus_track *track;
	bool caller_gone;

	/* arguments */
	enum jpki_cert which;
	enum jpki_key key;
	enum jpki_hash hash;
	uint8_t *data;                 /* digest (Sign) or challenge (Authenticate) */
	size_t data_len;
	bool allow_last_try;
	uint32_t timeout_ms;
	bool personal_ok;

	/* worker step in flight */
	void (*step)(struct op *op);
	void (*done)(struct op *op);
	bool in_worker;

	/* results */
	enum jpki_result rc;
	const char *err_name;          /* overrides rc when set */
	const char *err_msg;
	int tries;
	struct jpki_pin_status pin_state;
	uint8_t *der, *ca_der;
	size_t der_len, ca_len;
	struct x509_info info;
	bool have_info, chain_valid;
	uint8_t sig[512];
	size_t sig_len;
	struct jpki_pin_status status[3];
	bool status_ok[3];
	enum jpki_card_type card_type;
	uint32_t verify_ioctl;

	/* PIN and agent */
	struct secret *pin;
	bool use_pinpad;
	struct agent_ref agent;
	bool agent_waiting;
	bool agent_prompted;           /* DisplayPinPadPrompt sent */
	sd_bus_slot *agent_slot;
	uint64_t agent_deadline;       /* CLOCK_MONOTONIC usec of the request's timeout */
	const char *cancel_name;       /* set once the operation is being aborted */
};

struct reader {
	struct reader *next;
	unsigned index;
	char path[64];
	char name[PCSC_NAME_MAX];
	bool published, gone;
	bool present;
	unsigned event_count;
	uint8_t atr[PCSC_ATR_MAX];
	size_t atr_len;
	const char *card_type;
	bool contactless;
	uint32_t verify_ioctl;
	sd_bus_slot *vtable_slot;

	struct op *current;
	struct op *queue, *queue_tail;
	unsigned queued;

	/* worker; lock guards todo, finished, exit_req, exited */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct op *todo, *finished;
	bool exit_req, exited;
	int efd;
	sd_event_source *efd_source;
	/* worker-thread only */
	struct pcsc_session sess;
	struct jpki_card *card;
};

static sd_bus *bus;
static sd_event *loop;
static struct reader *readers;
static unsigned next_index;

extern const sd_bus_vtable reader_vtable[];
static void op_start_next(struct reader *r);
static void op_finish(struct op *op);
static void reader_free(struct reader *r);

static void free_wiped(uint8_t *p, size_t len)
{
	if (p) {
		explicit_bzero(p, len);
		free(p);
	}
}

/* ===================== worker thread ===================== */

static void trace_apdu(void *ctx, const struct jpki_trace_event *ev)
{
	struct reader *r = ctx;
	char c[2 * 64 + 1] = "", s[2 * 64 + 1] = "";

	for (size_t i = 0; i < ev->command_len && i < 64; i++)
		sprintf(c + 2 * i, "%02X", ev->command[i]);
	for (size_t i = 0; i < ev->response_len && i < 64; i++)
		sprintf(s + 2 * i, "%02X", ev->response[i]);
	log_msg(LOG_LVL_INFO, "apdu %u: > %s%s%s < %s%s%s", r->index, c,
		ev->command_len > 64 ? "..." : "", ev->command_redacted ? " (redacted)" : "",
		s, ev->response_len > 64 ? "..." : "", ev->response_redacted ? " (redacted)" : "");
}

static void *worker_main(void *arg)
{
	struct reader *r = arg;
	uint64_t one = 1;
	LONG rv = pcsc_session_init(&r->sess, r->name);

	if (rv != SCARD_S_SUCCESS)
		log_warning("reader %u: SCardEstablishContext: %s", r->index, pcsc_stringify_error(rv));
	r->card = jpki_card_new(pcsc_session_transmit, &r->sess);
	if (r->card && onshid_config.trace_apdu)
		jpki_card_set_trace(r->card, trace_apdu, r);
	for (;;) {
		pthread_mutex_lock(&r->lock);
		while (!r->todo && !r->exit_req)
			pthread_cond_wait(&r->cond, &r->lock);
		struct op *op = r->todo;
		r->todo = NULL;
		pthread_mutex_unlock(&r->lock);
		if (!op)
			break;
		if (r->card)
			op->step(op);
		else
			op->rc = JPKI_ERR_READER;
		pthread_mutex_lock(&r->lock);
		r->finished = op;
		pthread_mutex_unlock(&r->lock);
		if (write(r->efd, &one, sizeof one) < 0)
			log_warning("reader %u: eventfd: %m", r->index);
	}
	pcsc_session_fini(&r->sess);
	jpki_card_free(r->card);
	r->card = NULL;
	pthread_mutex_lock(&r->lock);
	r->exited = true;
	pthread_mutex_unlock(&r->lock);
	if (write(r->efd, &one, sizeof one) < 0)
		log_warning("reader %u: eventfd: %m", r->index);
	return NULL;
}

/* Main thread: hand op to the worker; done(op) runs on the main thread. */
static void submit(struct op *op, void (*step)(struct op *), void (*done)(struct op *))
{
	struct reader *r = op->r;

	op->step = step;
	op->done = done;
	op->in_worker = true;
	pthread_mutex_lock(&r->lock);
	r->todo = op;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

static int on_worker_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct reader *r = userdata;
	uint64_t v;

	(void)s;
	(void)revents;
	if (read(fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&r->lock);
	struct op *op = r->finished;
	bool exited = r->exited;
	r->finished = NULL;
	pthread_mutex_unlock(&r->lock);
	if (op) {
		op->in_worker = false;
		op->done(op);
	}
	if (exited && !r->current) {
		pthread_join(r->thread, NULL);
		reader_free(r);
	}
	return 0;
}

/* ---- steps (worker thread) ---- */

static bool connect_card(struct op *op, bool exclusive)
{
	struct reader *r = op->r;
	LONG rv = pcsc_session_connect(&r->sess, exclusive);

	jpki_card_forget_selection(r->card);
	if (rv == SCARD_S_SUCCESS)
		return true;
	if (rv == SCARD_E_SHARING_VIOLATION) {
		op->err_name = ONSHI_ERROR_BUSY;
		op->err_msg = "another PC/SC client holds the card";
	}
	op->rc = pcsc_result(rv);
	if (op->rc == JPKI_ERR_CARD_REMOVED)
		op->rc = JPKI_ERR_NO_CARD;
	return false;
}

static void step_probe(struct op *op)
{
	LONG rv = pcsc_reader_pinpad(&op->r->sess, &op->verify_ioctl);
	op->rc = rv == SCARD_S_SUCCESS ? JPKI_OK : JPKI_ERR_READER;
}

static void step_card_type(struct op *op)
{
	if (!connect_card(op, false))
		return;
	op->rc = jpki_read_card_type(op->r->card, &op->card_type);
	pcsc_session_end(&op->r->sess, false);
}

static uint8_t *read_cert(struct op *op, enum jpki_cert which, size_t *len)
{
	uint8_t *buf = malloc(CERT_CAP);

	if (!buf) {
		op->rc = JPKI_ERR_READER;
		return NULL;
	}
	op->rc = jpki_read_certificate(op->r->card, which, 0, false, buf, CERT_CAP, len);
	/* CERT_CAP is far above any JPKI certificate: a larger length header
	 * is the card's fault, not the caller's (never InvalidArgs). */
	if (op->rc == JPKI_ERR_BUFFER_TOO_SMALL) {
		log_warning("reader %u: the card announces a certificate over %u bytes", op->r->index,
			    CERT_CAP);
		op->rc = JPKI_ERR_CARD_PROTOCOL;
	}
	if (op->rc != JPKI_OK) {
		free(buf);  /* jpki_read_certificate() wiped a partial sign certificate */
		return NULL;
	}
	return buf;
}

static enum jpki_cert ca_of(enum jpki_cert which)
{
	return which == JPKI_CERT_SIGN || which == JPKI_CERT_SIGN_CA ? JPKI_CERT_SIGN_CA
								    : JPKI_CERT_AUTH_CA;
}

/* Reads which and its CA, parses and checks the chain (rc set on failure). */
static void read_cert_and_chain(struct op *op, enum jpki_cert which)
{
	op->der = read_cert(op, which, &op->der_len);
	if (!op->der)
		return;
	op->ca_der = read_cert(op, ca_of(which), &op->ca_len);
	if (!op->ca_der)
		return;
	if (x509_info_parse(op->der, op->der_len, &op->info) != 0) {
		op->rc = JPKI_ERR_CARD_PROTOCOL;
		return;
	}
	op->have_info = true;
	op->chain_valid = x509_chain_valid(op->der, op->der_len, op->ca_der, op->ca_len,
					   onshid_config.trust_dir, (int64_t)time(NULL), NULL, 0);
}

static void step_read_cert(struct op *op)
{
	if (!connect_card(op, false))
		return;
	read_cert_and_chain(op, op->which);
	pcsc_session_end(&op->r->sess, false);
}

static void step_pin_status(struct op *op)
{
	static const enum jpki_key keys[3] = { JPKI_KEY_AUTH, JPKI_KEY_SIGN, JPKI_KEY_CARD_INFO };

	if (!connect_card(op, false))
		return;
	op->rc = JPKI_OK;
	for (int i = 0; i < 3; i++) {
		if (keys[i] == JPKI_KEY_CARD_INFO && !op->personal_ok)
			continue;
		enum jpki_result rc = jpki_pin_status(op->r->card, keys[i], &op->status[i]);
		if (rc == JPKI_OK)
			op->status_ok[i] = true;
		else if (rc == JPKI_ERR_CARD_REMOVED || rc == JPKI_ERR_NO_CARD || rc == JPKI_ERR_READER ||
			 (i == 0 && rc == JPKI_ERR_UNSUPPORTED_CARD)) {
			op->rc = rc;
			break;
		}
	}
	/* The queries SELECT other applications: forget the selection. */
	jpki_card_forget_selection(op->r->card);
	pcsc_session_end(&op->r->sess, false);
}

/* First half of a PIN operation: exclusive connection, retry counter. */
static void step_pin_prepare(struct op *op)
{
	if (!connect_card(op, true))
		return;
	op->rc = jpki_pin_status(op->r->card, op->key, &op->pin_state);
	if (op->rc != JPKI_OK)
		pcsc_session_end(&op->r->sess, true);
}

static void pinpad_verify(struct op *op)
{
	uint32_t t = (op->timeout_ms ? op->timeout_ms : onshid_config.agent_timeout_ms) / 1000u;
	uint16_t sw = 0;
	LONG rv = pcsc_session_verify_pin_direct(&op->r->sess, op->r->verify_ioctl, 4,
						 (uint8_t)(t < 1 ? 1 : t > 255 ? 255 : t), &sw);

	op->tries = -1;
	if (rv != SCARD_S_SUCCESS) {
		op->rc = pcsc_result(rv);
		return;
	}
	if (sw == 0x9000) {
		op->rc = JPKI_OK;
	} else if ((sw & 0xFFF0) == 0x63C0) {
		op->tries = sw & 0x0F;
		op->rc = op->tries ? JPKI_ERR_PIN_INCORRECT : JPKI_ERR_PIN_BLOCKED;
	} else if (sw == 0x6983 || sw == 0x6984) {
		op->rc = JPKI_ERR_PIN_BLOCKED;
	} else if (sw == 0x6400) {
		op->err_name = ONSHI_ERROR_TIMEOUT;
		op->err_msg = "nobody typed the PIN on the PIN pad in time";
	} else if (sw == 0x6401) {
		op->err_name = ONSHI_ERROR_CANCELLED;
		op->err_msg = "PIN entry cancelled on the PIN pad";
	} else {
		op->rc = JPKI_ERR_CARD_PROTOCOL;
	}
}

/* Second half: VERIFY, then the protected work; always powers the card off. */
static void step_pin_finish(struct op *op)
{
	struct reader *r = op->r;

	if (op->use_pinpad) {
		pinpad_verify(op);
	} else {
		op->rc = jpki_verify(r->card, op->key, secret_data(op->pin), secret_len(op->pin),
				     op->allow_last_try, &op->tries);
		secret_clear(op->pin);
	}
	if (op->rc != JPKI_OK || op->err_name)
		goto out;
	if (op->kind == OP_READ_CERT) {
		read_cert_and_chain(op, JPKI_CERT_SIGN);
	} else if (op->kind == OP_AUTH) {
		uint8_t digest[SHA256_DIGEST_LENGTH];
		SHA256(op->data, op->data_len, digest);
		op->rc = jpki_sign(r->card, JPKI_KEY_AUTH, JPKI_HASH_SHA256, digest, sizeof digest,
				   op->sig, sizeof op->sig, &op->sig_len);
		if (op->rc == JPKI_OK)
			read_cert_and_chain(op, JPKI_CERT_AUTH);
	} else if (op->kind == OP_SIGN) {
		op->rc = jpki_sign(r->card, op->key, op->hash, op->data, op->data_len,
				   op->sig, sizeof op->sig, &op->sig_len);
	}
out:
	pcsc_session_end(&r->sess, true);
}

static void step_release(struct op *op)
{
	pcsc_session_end(&op->r->sess, true);
}

/* ===================== main thread: operations ===================== */

static void op_free(struct op *op)
{
	if (!op)
		return;
	sd_bus_slot_unref(op->agent_slot);
	sd_bus_track_unref(op->track);
	sd_bus_message_unref(op->call);
	free(op->sender);
	free_wiped(op->data, op->data_len);
	/* A sign certificate is personal data: wipe it (and, not knowing
	 * which this was, any certificate) before it goes back to the heap. */
	free_wiped(op->der, op->der_len);
	free(op->ca_der);
	x509_info_clear(&op->info);
	secret_free(op->pin);
	free(op);
}

static void reply_error(struct op *op, const char *name, const char *msg)
{
	if (!op->call || op->caller_gone)
		return;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_error_set(&e, name, msg);
	sd_bus_reply_method_error(op->call, &e);
	sd_bus_error_free(&e);
}

/* Replies with the operation's error; true when there was one. */
static bool reply_failure(struct op *op)
{
	if (op->cancel_name) {
		reply_error(op, op->cancel_name,
			    strcmp(op->cancel_name, ONSHI_ERROR_CARD_REMOVED) == 0 ? "the card was removed"
			    : strcmp(op->cancel_name, ONSHI_ERROR_CANCELLED) == 0 ? "the operation was cancelled"
			    : "the operation was aborted");
		return true;
	}
	if (op->err_name) {
		reply_error(op, op->err_name, op->err_msg ? op->err_msg : "failed");
		return true;
	}
	if (op->rc == JPKI_OK)
		return false;
	if (op->call && !op->caller_gone) {
		sd_bus_error e = SD_BUS_ERROR_NULL;
		errors_set_jpki(&e, op->rc, op->tries);
		sd_bus_reply_method_error(op->call, &e);
		sd_bus_error_free(&e);
	}
	return true;
}

static int append_info(sd_bus_message *m, const struct op *op)
{
	int r = sd_bus_message_append(m, "{sv}{sv}{sv}{sv}{sv}{sv}{sv}",
				      "serial", "s", op->info.serial_hex,
				      "subject", "s", op->info.subject ? op->info.subject : "",
				      "issuer", "s", op->info.issuer ? op->info.issuer : "",
				      "not-before", "x", op->info.not_before,
				      "not-after", "x", op->info.not_after,
				      "chain-valid", "b", op->chain_valid,
				      "key-bits", "u", (uint32_t)op->info.key_bits);
	return r;
}

static void send_reply(struct op *op, sd_bus_message *reply, int r)
{
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	if (r < 0)
		log_warning("reply to %s failed: %s", op->sender ? op->sender : "?", strerror(-r));
	sd_bus_message_unref(reply);
}

static void reply_success(struct op *op)
{
	sd_bus_message *reply = NULL;
	int r;

	if (!op->call || op->caller_gone)
		return;
	r = sd_bus_message_new_method_return(op->call, &reply);
	if (r < 0)
		return;
	switch (op->kind) {
	case OP_READ_CERT:
		/* sd-bus wipes a sensitive message when it frees it. */
		if (op->which == JPKI_CERT_SIGN)
			sd_bus_message_sensitive(reply);
		r = sd_bus_message_append_array(reply, 'y', op->der, op->der_len);
		if (r >= 0) r = sd_bus_message_open_container(reply, 'a', "{sv}");
		if (r >= 0) r = append_info(reply, op);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		break;
	case OP_PIN_STATUS: {
		static const char *const names[3] = { "auth", "sign", "card-info" };
		r = sd_bus_message_open_container(reply, 'a', "{sv}");
		for (int i = 0; i < 3 && r >= 0; i++) {
			/* Known count -> u; blocked -> 0; "already verified" (9000)
			 * or no count (6300) -> left out (documented). */
			if (!op->status_ok[i] || op->status[i].state == JPKI_PIN_VERIFIED_OR_UNKNOWN)
				continue;
			uint32_t n = op->status[i].state == JPKI_PIN_BLOCKED ? 0 : (uint32_t)op->status[i].tries_left;
			r = sd_bus_message_append(reply, "{sv}", names[i], "u", n);
		}
		if (r >= 0) r = sd_bus_message_close_container(reply);
		break;
	}
	case OP_AUTH:
		r = sd_bus_message_open_container(reply, 'a', "{sv}");
		if (r >= 0) r = sd_bus_message_append(reply, "{sv}", "mode", "s", "pin");
		if (r >= 0) r = sd_bus_message_open_container(reply, 'e', "sv");
		if (r >= 0) r = sd_bus_message_append(reply, "s", "certificate");
		if (r >= 0) r = sd_bus_message_open_container(reply, 'v', "ay");
		if (r >= 0) r = sd_bus_message_append_array(reply, 'y', op->der, op->der_len);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		if (r >= 0) r = sd_bus_message_open_container(reply, 'e', "sv");
		if (r >= 0) r = sd_bus_message_append(reply, "s", "signature");
		if (r >= 0) r = sd_bus_message_open_container(reply, 'v', "ay");
		if (r >= 0) r = sd_bus_message_append_array(reply, 'y', op->sig, op->sig_len);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		if (r >= 0) r = append_info(reply, op);
		if (r >= 0) r = sd_bus_message_close_container(reply);
		break;
	case OP_SIGN:
		r = sd_bus_message_append_array(reply, 'y', op->sig, op->sig_len);
		break;
	default:
		r = -EINVAL;
	}
	send_reply(op, reply, r);
}

static void done_final(struct op *op)
{
	if (!reply_failure(op))
		reply_success(op);
	op_finish(op);
}

/* The card work after VERIFY (or a failure) is over. */
static void done_pin_finish(struct op *op)
{
	if (op->agent_prompted)
		agent_send_cancel(&op->agent, "done");
	if (op->rc == JPKI_ERR_PIN_INCORRECT || op->rc == JPKI_ERR_PIN_BLOCKED)
		log_info("reader %u: %s PIN rejected by the card (%d tries left)", op->r->index,
			 jpki_key_name(op->key), op->tries);
	done_final(op);
}

/* Abort while nothing runs in the worker: power the card off, then reply. */
static void abort_now(struct op *op)
{
	submit(op, step_release, done_final);
}

static int on_pin_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct op *op = userdata;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	const char *pin = NULL;

	(void)ret_error;
	op->agent_slot = sd_bus_slot_unref(op->agent_slot);
	op->agent_waiting = false;
	/* The reply may hold a PIN: wipe it when the message is freed. */
	sd_bus_message_sensitive(m);
	if (e) {
		uint64_t now = 0;
		sd_event_now(loop, CLOCK_MONOTONIC, &now);
		/* sd-bus reports its own timeout as NoReply, and so does the bus
		 * when the agent disconnects: tell them apart by the clock. */
		if (sd_bus_error_has_name(e, SD_BUS_ERROR_TIMEOUT) ||
		    (sd_bus_error_has_name(e, SD_BUS_ERROR_NO_REPLY) && now + 100000 >= op->agent_deadline)) {
			agent_send_cancel(&op->agent, "timeout");
			op->err_name = ONSHI_ERROR_TIMEOUT;
			op->err_msg = "the agent did not answer in time";
		} else if (sd_bus_error_has_name(e, ONSHI_ERROR_CANCELLED)) {
			op->err_name = ONSHI_ERROR_CANCELLED;
			op->err_msg = "the user cancelled";
		} else {
			op->err_name = ONSHI_ERROR_AGENT_FAILED;
			op->err_msg = "the agent failed";
			log_info("reader %u: agent %s failed: %s", op->r->index, op->agent.owner, e->name);
		}
		abort_now(op);
		return 0;
	}
	if (sd_bus_message_read(m, "s", &pin) < 0 || !pin ||
	    secret_take_string(op->pin, (char *)pin) < 0) {
		op->err_name = ONSHI_ERROR_AGENT_FAILED;
		op->err_msg = "the agent returned malformed data";
		abort_now(op);
		return 0;
	}
	if (jpki_pin_format_check(op->key, secret_data(op->pin), secret_len(op->pin)) != JPKI_OK) {
		secret_clear(op->pin);
		op->rc = JPKI_ERR_PIN_FORMAT;
		op->err_name = ONSHI_ERROR_AGENT_FAILED;
		op->err_msg = "the agent returned a PIN of the wrong format (nothing was sent to the card)";
		abort_now(op);
		return 0;
	}
	submit(op, step_pin_finish, done_pin_finish);
	return 0;
}

static const char *kind_of_key(enum jpki_key key)
{
	return jpki_key_name(key);
}

/* The retry counter is known: ask the agent (or the PIN pad). */
static void done_pin_prepare(struct op *op)
{
	struct reader *r = op->r;

	if (op->cancel_name || op->err_name || op->rc != JPKI_OK) {
		abort_now(op);  /* the card may still be connected: power it off */
		return;
	}
	if (op->pin_state.state == JPKI_PIN_BLOCKED) {
		op->rc = JPKI_ERR_PIN_BLOCKED;
		abort_now(op);
		return;
	}
	uint32_t tries = op->pin_state.state == JPKI_PIN_TRIES ? (uint32_t)op->pin_state.tries_left : 0;
	if (op->pin_state.state == JPKI_PIN_TRIES && tries == 1 && !op->allow_last_try) {
		op->rc = JPKI_ERR_LAST_TRY_REFUSED;
		abort_now(op);
		return;
	}
	op->use_pinpad = r->verify_ioctl != 0 && op->key == JPKI_KEY_AUTH;
	if (op->use_pinpad) {
		/* The reader shows its own prompt; an agent that can, mirrors it. */
		if (agent_choose(op->sender, op->uid, AGENT_CAP_PINPAD_PROMPT, &op->agent) == 0 &&
		    agent_call(&op->agent, "DisplayPinPadPrompt", op->timeout_ms, NULL, NULL, NULL,
			       "osu", r->path, kind_of_key(op->key), tries) >= 0)
			op->agent_prompted = true;
		submit(op, step_pin_finish, done_pin_finish);
		return;
	}
	if (agent_choose(op->sender, op->uid, AGENT_CAP_PIN, &op->agent) < 0) {
		op->err_name = ONSHI_ERROR_NO_AGENT;
		op->err_msg = "no agent can ask for this PIN";
		abort_now(op);
		return;
	}
	op->pin = secret_new();
	if (!op->pin) {
		op->rc = JPKI_ERR_READER;
		abort_now(op);
		return;
	}
	int rr = agent_call(&op->agent, "RequestPin", op->timeout_ms, on_pin_reply, op, &op->agent_slot,
			    "osu", r->path, kind_of_key(op->key), tries);
	if (rr < 0) {
		op->err_name = ONSHI_ERROR_AGENT_FAILED;
		op->err_msg = "cannot call the agent";
		abort_now(op);
		return;
	}
	op->agent_waiting = true;
	uint64_t now = 0;
	sd_event_now(loop, CLOCK_MONOTONIC, &now);
	op->agent_deadline = now + (uint64_t)(op->timeout_ms ? op->timeout_ms
							      : onshid_config.agent_timeout_ms) * 1000u;
}

/* Ends op with error name: cancels the agent request and powers the card
 * off.  agent_reason is what Agent.Cancel gets. */
static void op_abort(struct op *op, const char *name, const char *agent_reason)
{
	struct reader *r = op->r;

	if (op->cancel_name)
		return;
	op->cancel_name = name;
	if (r->current != op) {
		/* Still queued: unlink and answer. */
		struct op *prev = NULL;
		for (struct op *q = r->queue; q; prev = q, q = q->next)
			if (q == op) {
				if (prev)
					prev->next = q->next;
				else
					r->queue = q->next;
				if (r->queue_tail == q)
					r->queue_tail = prev;
				r->queued--;
				break;
			}
		reply_failure(op);
		op_free(op);
		return;
	}
	if (op->agent_waiting) {
		op->agent_slot = sd_bus_slot_unref(op->agent_slot);
		op->agent_waiting = false;
		agent_send_cancel(&op->agent, agent_reason);
		abort_now(op);
	}
	/* In the worker: its done handler sees cancel_name. */
}

/* An agent left the registry: operations waiting for it fail with
 * AgentFailed (after Agent.Cancel when it is still on the bus). */
static void on_agent_removed(const struct agent_ref *ref, bool gone_from_bus)
{
	for (struct reader *r = readers; r; r = r->next) {
		struct op *op = r->current;
		if (!op || !op->agent_waiting || strcmp(op->agent.owner, ref->owner) != 0 ||
		    strcmp(op->agent.path, ref->path) != 0)
			continue;
		op->agent_slot = sd_bus_slot_unref(op->agent_slot);
		op->agent_waiting = false;
		if (!gone_from_bus)
			agent_send_cancel(&op->agent, "cancelled");
		op->err_name = ONSHI_ERROR_AGENT_FAILED;
		op->err_msg = gone_from_bus ? "the agent left the bus" : "the agent was unregistered";
		abort_now(op);
	}
}

static int on_caller_gone(sd_bus_track *t, void *userdata)
{
	struct op *op = userdata;

	(void)t;
	log_info("reader %u: caller %s left; cancelling its operation", op->r->index,
		 op->sender ? op->sender : "?");
	op->caller_gone = true;
	op_abort(op, ONSHI_ERROR_CANCELLED, "cancelled");
	return 0;
}

static void op_begin(struct op *op)
{
	op->r->current = op;
	switch (op->kind) {
	case OP_PROBE:      submit(op, step_probe, done_final); break;
	case OP_CARD_TYPE:  submit(op, step_card_type, done_final); break;
	case OP_PIN_STATUS: submit(op, step_pin_status, done_final); break;
	case OP_READ_CERT:
		if (op->which == JPKI_CERT_SIGN)
			submit(op, step_pin_prepare, done_pin_prepare);
		else
			submit(op, step_read_cert, done_final);
		break;
	case OP_AUTH:
	case OP_SIGN:       submit(op, step_pin_prepare, done_pin_prepare); break;
	}
}

static void emit_card_props(struct reader *r)
{
	if (r->published)
		sd_bus_emit_properties_changed(bus, r->path, ONSHID_READER_IFACE,
					       "CardPresent", "Atr", "CardType", "Contactless", NULL);
}

static void op_internal_result(struct op *op)
{
	struct reader *r = op->r;

	if (op->kind == OP_PROBE) {
		r->verify_ioctl = op->verify_ioctl;
		if (!r->gone) {
			int rr = sd_bus_add_object_vtable(bus, &r->vtable_slot, r->path, ONSHID_READER_IFACE,
							  reader_vtable, r);
			if (rr < 0) {
				log_error("reader %u: cannot export %s: %s", r->index, r->path, strerror(-rr));
			} else {
				r->published = true;
				sd_bus_emit_signal(bus, ONSHID_MANAGER_PATH, ONSHID_MANAGER_IFACE,
						   "ReaderAdded", "o", r->path);
				log_info("reader %u: \"%s\" at %s%s", r->index, r->name, r->path,
					 r->verify_ioctl ? " (PIN pad)" : "");
			}
		}
	} else if (op->kind == OP_CARD_TYPE && r->present) {
		const char *t = "";
		if (op->rc == JPKI_OK)
			t = op->card_type == JPKI_CARD_MYNUMBER ? "mynumber"
			  : (op->card_type == JPKI_CARD_SMARTPHONE_GPSE ||
			     op->card_type == JPKI_CARD_SMARTPHONE_IOS) ? "jpki-smartphone" : "other";
		else if (op->rc == JPKI_ERR_UNSUPPORTED_CARD || op->rc == JPKI_ERR_NOT_FOUND ||
			 op->rc == JPKI_ERR_CARD_PROTOCOL)
			t = "other";
		if (strcmp(t, r->card_type) != 0) {
			r->card_type = t;
			emit_card_props(r);
		}
		log_debug("reader %u: card type \"%s\"", r->index, t);
	}
}

static void op_finish(struct op *op)
{
	struct reader *r = op->r;

	if (!op->call)
		op_internal_result(op);
	if (r->current == op)
		r->current = NULL;
	op_free(op);
	op_start_next(r);
}

static void op_start_next(struct reader *r)
{
	if (r->current)
		return;
	if (r->gone) {
		pthread_mutex_lock(&r->lock);
		r->exit_req = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		return;
	}
	struct op *op = r->queue;
	if (!op)
		return;
	r->queue = op->next;
	if (!r->queue)
		r->queue_tail = NULL;
	r->queued--;
	op->next = NULL;
	op_begin(op);
}

/* Queues op (takes ownership).  Returns 0 or a negative errno with e set. */
static int enqueue(struct reader *r, struct op *op, sd_bus_error *e)
{
	op->r = r;
	if (r->current && r->queued >= ONSHID_READER_QUEUE_MAX) {
		op_free(op);
		return sd_bus_error_set(e, ONSHI_ERROR_BUSY, "too many operations waiting for this reader");
	}
	if (op->call) {
		int rr = sd_bus_track_new(bus, &op->track, on_caller_gone, op);
		if (rr >= 0)
			rr = sd_bus_track_add_sender(op->track, op->call);
		if (rr < 0) {
			op_free(op);
			return rr;
		}
	}
	if (!r->current) {
		op_begin(op);
		return 1;
	}
	if (r->queue_tail)
		r->queue_tail->next = op;
	else
		r->queue = op;
	r->queue_tail = op;
	r->queued++;
	return 1;
}

/* ===================== D-Bus methods ===================== */

static struct op *op_new_call(sd_bus_message *m, enum op_kind kind)
{
	struct op *op = calloc(1, sizeof *op);

	if (!op)
		return NULL;
	op->kind = kind;
	op->tries = -1;
	op->call = sd_bus_message_ref(m);
	op->sender = strdup(sd_bus_message_get_sender(m) ? sd_bus_message_get_sender(m) : "");
	if (!op->sender || authz_sender_uid(m, &op->uid) < 0) {
		op_free(op);
		return NULL;
	}
	return op;
}

static int check_card(struct reader *r, sd_bus_error *e)
{
	if (!r->present)
		return sd_bus_error_set(e, ONSHI_ERROR_NO_CARD, "no card in the reader");
	return 0;
}

static int method_read_certificate(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;
	const char *which;
	enum jpki_cert cert;
	int rr = sd_bus_message_read(m, "s", &which);

	if (rr < 0)
		return rr;
	if (jpki_cert_from_name(which, &cert) < 0)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS,
					"which must be auth, auth-ca, sign-ca or sign");
	if (cert == JPKI_CERT_SIGN && (rr = authz_check(m, AUTHZ_PERSONAL, e)) < 0)
		return rr;
	if ((rr = check_card(r, e)) < 0)
		return rr;
	struct op *op = op_new_call(m, OP_READ_CERT);
	if (!op)
		return -ENOMEM;
	op->which = cert;
	op->key = JPKI_KEY_SIGN;
	return enqueue(r, op, e);
}

static int method_get_pin_status(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;
	int rr = check_card(r, e);

	if (rr < 0)
		return rr;
	struct op *op = op_new_call(m, OP_PIN_STATUS);
	if (!op)
		return -ENOMEM;
	op->personal_ok = authz_allowed(m, AUTHZ_PERSONAL);
	return enqueue(r, op, e);
}

/* Reads a{sv} options of Authenticate. */
static int read_auth_options(sd_bus_message *m, struct op *op, sd_bus_error *e)
{
	int rr = sd_bus_message_enter_container(m, 'a', "{sv}");

	if (rr < 0)
		return rr;
	while ((rr = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		const char *key;
		if ((rr = sd_bus_message_read(m, "s", &key)) < 0)
			return rr;
		if (strcmp(key, "allow-last-try") == 0) {
			int b;
			if (sd_bus_message_read(m, "v", "b", &b) < 0)
				return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "allow-last-try must be b");
			op->allow_last_try = b;
		} else if (strcmp(key, "timeout-ms") == 0) {
			uint32_t t;
			if (sd_bus_message_read(m, "v", "u", &t) < 0)
				return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "timeout-ms must be u");
			if (t == 0 || t > ONSHID_AGENT_TIMEOUT_MS_MAX)
				return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
							 "timeout-ms must be 1 to %u", ONSHID_AGENT_TIMEOUT_MS_MAX);
			op->timeout_ms = t;
		} else {
			return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS,
						"unknown option (known: allow-last-try, timeout-ms)");
		}
		if ((rr = sd_bus_message_exit_container(m)) < 0)
			return rr;
	}
	if (rr < 0)
		return rr;
	return sd_bus_message_exit_container(m);
}

static int copy_bytes(struct op *op, const void *p, size_t n)
{
	op->data = malloc(n ? n : 1);
	if (!op->data)
		return -ENOMEM;
	memcpy(op->data, p, n);
	op->data_len = n;
	return 0;
}

static int method_authenticate(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;
	const char *mode;
	const void *challenge;
	size_t clen;
	int rr = sd_bus_message_read(m, "s", &mode);

	if (rr < 0)
		return rr;
	if (strcmp(mode, "face") == 0)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS,
					"mode \"face\" is reserved and not supported yet; use \"pin\"");
	if (strcmp(mode, "pin") != 0)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "unknown mode (supported: pin)");
	if ((rr = sd_bus_message_read_array(m, 'y', &challenge, &clen)) < 0)
		return rr;
	if (clen == 0 || clen > CHALLENGE_MAX)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
					 "challenge must be 1 to %u bytes", CHALLENGE_MAX);
	struct op *op = op_new_call(m, OP_AUTH);
	if (!op)
		return -ENOMEM;
	op->key = JPKI_KEY_AUTH;
	if ((rr = read_auth_options(m, op, e)) < 0 || (rr = copy_bytes(op, challenge, clen)) < 0 ||
	    (rr = check_card(r, e)) < 0) {
		op_free(op);
		return rr;
	}
	return enqueue(r, op, e);
}

static int method_sign(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;
	const char *key_name, *hash_name;
	const void *digest;
	size_t dlen;
	enum jpki_key key;
	enum jpki_hash hash;
	int rr = sd_bus_message_read(m, "ss", &key_name, &hash_name);

	if (rr < 0)
		return rr;
	if ((rr = sd_bus_message_read_array(m, 'y', &digest, &dlen)) < 0)
		return rr;
	if (jpki_key_from_name(key_name, &key) < 0 || key == JPKI_KEY_CARD_INFO)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "key must be auth or sign");
	if (jpki_hash_from_name(hash_name, &hash) < 0)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "hash must be sha256, sha384 or sha512");
	if (dlen != jpki_hash_digest_len(hash))
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "a %s digest is %zu bytes, got %zu",
					 hash_name, jpki_hash_digest_len(hash), dlen);
	if (key == JPKI_KEY_SIGN && (rr = authz_check(m, AUTHZ_PERSONAL, e)) < 0)
		return rr;
	if ((rr = check_card(r, e)) < 0)
		return rr;
	struct op *op = op_new_call(m, OP_SIGN);
	if (!op)
		return -ENOMEM;
	op->key = key;
	op->hash = hash;
	if ((rr = copy_bytes(op, digest, dlen)) < 0) {
		op_free(op);
		return rr;
	}
	return enqueue(r, op, e);
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;
	const char *sender = sd_bus_message_get_sender(m);

	(void)e;
	/* The caller's own operations only: queued ones and the running one. */
	for (struct op *q = r->queue, *next; q; q = next) {
		next = q->next;
		if (q->sender && sender && strcmp(q->sender, sender) == 0)
			op_abort(q, ONSHI_ERROR_CANCELLED, "cancelled");
	}
	if (r->current && r->current->sender && sender && strcmp(r->current->sender, sender) == 0)
		op_abort(r->current, ONSHI_ERROR_CANCELLED, "cancelled");
	return sd_bus_reply_method_return(m, NULL);
}

static int get_property(sd_bus *b, const char *path, const char *iface, const char *prop,
			sd_bus_message *reply, void *userdata, sd_bus_error *e)
{
	struct reader *r = userdata;

	(void)b; (void)path; (void)iface; (void)e;
	if (strcmp(prop, "Name") == 0)
		return sd_bus_message_append(reply, "s", r->name);
	if (strcmp(prop, "CardPresent") == 0)
		return sd_bus_message_append(reply, "b", r->present);
	if (strcmp(prop, "CardType") == 0)
		return sd_bus_message_append(reply, "s", r->card_type);
	if (strcmp(prop, "Atr") == 0)
		return sd_bus_message_append_array(reply, 'y', r->atr, r->present ? r->atr_len : 0);
	if (strcmp(prop, "Contactless") == 0)
		return sd_bus_message_append(reply, "b", r->contactless);
	if (strcmp(prop, "PinPad") == 0)
		return sd_bus_message_append(reply, "b", r->verify_ioctl != 0);
	return -ENOENT;
}

const sd_bus_vtable reader_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Name", "s", get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("CardPresent", "b", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("CardType", "s", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Atr", "ay", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("Contactless", "b", get_property, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
	SD_BUS_PROPERTY("PinPad", "b", get_property, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_NAMES("ReadCertificate", "s", SD_BUS_PARAM(which), "aya{sv}",
				 SD_BUS_PARAM(der) SD_BUS_PARAM(info), method_read_certificate,
				 SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD_WITH_NAMES("GetPinStatus", "", , "a{sv}", SD_BUS_PARAM(status),
				 method_get_pin_status, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("Authenticate", "saya{sv}",
				 SD_BUS_PARAM(mode) SD_BUS_PARAM(challenge) SD_BUS_PARAM(options),
				 "a{sv}", SD_BUS_PARAM(result), method_authenticate,
				 SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD_WITH_NAMES("Sign", "ssay", SD_BUS_PARAM(key) SD_BUS_PARAM(hash) SD_BUS_PARAM(digest),
				 "ay", SD_BUS_PARAM(signature), method_sign,
				 SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD("Cancel", "", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

/* ===================== reader set ===================== */

static void reader_free(struct reader *r)
{
	for (struct reader **p = &readers; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	sd_event_source_disable_unref(r->efd_source);
	close(r->efd);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

static struct reader *reader_new(const char *name)
{
	struct reader *r = calloc(1, sizeof *r);

	if (!r)
		return NULL;
	r->index = next_index++;
	snprintf(r->path, sizeof r->path, ONSHID_READER_PREFIX "/%u", r->index);
	snprintf(r->name, sizeof r->name, "%s", name);
	r->card_type = "";
	r->contactless = pcsc_looks_contactless(name, NULL, 0);
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->efd < 0 || sd_event_add_io(loop, &r->efd_source, r->efd, EPOLLIN, on_worker_event, r) < 0 ||
	    pthread_create(&r->thread, NULL, worker_main, r) != 0) {
		log_error("reader \"%s\": cannot start its worker", name);
		sd_event_source_disable_unref(r->efd_source);
		if (r->efd >= 0)
			close(r->efd);
		free(r);
		return NULL;
	}
	r->next = readers;
	readers = r;
	struct op *op = calloc(1, sizeof *op);
	if (op) {
		op->kind = OP_PROBE;
		enqueue(r, op, NULL);
	}
	return r;
}

static void queue_card_type(struct reader *r)
{
	struct op *op = calloc(1, sizeof *op);
	if (op) {
		op->kind = OP_CARD_TYPE;
		sd_bus_error e = SD_BUS_ERROR_NULL;
		enqueue(r, op, &e);
		sd_bus_error_free(&e);
	}
}

/* Ends r's operations with error name (the agent gets agent_reason) and
 * unpublishes r; the worker exits once nothing runs. */
static void reader_remove(struct reader *r, const char *name, const char *agent_reason)
{
	log_info("reader %u: \"%s\" %s", r->index, r->name,
		 strcmp(name, ONSHI_ERROR_CARD_REMOVED) == 0 ? "left" : "closed");
	r->gone = true;
	r->present = false;
	while (r->queue)
		op_abort(r->queue, name, agent_reason);
	if (r->current)
		op_abort(r->current, name, agent_reason);
	if (r->published) {
		r->vtable_slot = sd_bus_slot_unref(r->vtable_slot);
		r->published = false;
		sd_bus_emit_signal(bus, ONSHID_MANAGER_PATH, ONSHID_MANAGER_IFACE, "ReaderRemoved", "o", r->path);
	}
	op_start_next(r);  /* idle: tells the worker to exit */
}

/* The card the callers asked about has left: the running call and every
 * queued one fail with CardRemoved, so a call made for one patient's card
 * never runs on the next patient's.  The queued ones go first: aborting the
 * running call may start the next one at once.  Internal operations (card
 * typing) stay; the next card queues its own anyway. */
static void abort_card_calls(struct reader *r)
{
	for (struct op *q = r->queue, *next; q; q = next) {
		next = q->next;
		if (q->call)
			op_abort(q, ONSHI_ERROR_CARD_REMOVED, "card-removed");
	}
	if (r->current && r->current->call)
		op_abort(r->current, ONSHI_ERROR_CARD_REMOVED, "card-removed");
}

static void reader_update(struct reader *r, const struct pcsc_reader_state *st)
{
	bool changed = false;

	if (st->present != r->present || st->event_count != r->event_count) {
		bool was = r->present;
		r->present = st->present;
		r->event_count = st->event_count;
		r->card_type = "";
		r->atr_len = 0;
		changed = true;
		if (was)
			abort_card_calls(r);
		if (r->present)
			queue_card_type(r);
		log_debug("reader %u: card %s", r->index, r->present ? "present" : "absent");
	}
	/* pcscd clears the ATR while a card is powered down (our unpower at
	 * the end of PIN operations): keep the last one while present. */
	if (r->present && st->atr_len > 0 &&
	    (st->atr_len != r->atr_len || memcmp(st->atr, r->atr, st->atr_len) != 0)) {
		memcpy(r->atr, st->atr, st->atr_len);
		r->atr_len = st->atr_len;
		bool cl = pcsc_looks_contactless(r->name, r->atr, r->atr_len);
		r->contactless = cl;
		changed = true;
	}
	if (changed)
		emit_card_props(r);
}

void readers_sync(const struct pcsc_snapshot *snap)
{
	for (struct reader *r = readers, *next; r; r = next) {
		next = r->next;
		if (r->gone)
			continue;
		bool found = false;
		for (size_t i = 0; i < snap->n && !found; i++)
			found = strcmp(snap->readers[i].name, r->name) == 0;
		if (!found)
			reader_remove(r, ONSHI_ERROR_CARD_REMOVED, "card-removed");
	}
	for (size_t i = 0; i < snap->n; i++) {
		struct reader *r = readers;
		while (r && (r->gone || strcmp(r->name, snap->readers[i].name) != 0))
			r = r->next;
		if (!r)
			r = reader_new(snap->readers[i].name);
		if (r)
			reader_update(r, &snap->readers[i]);
	}
}

int readers_append_paths(sd_bus_message *m)
{
	/* Oldest first: the list is kept newest-first. */
	struct reader *list[256];
	size_t n = 0;
	int rr = 0;

	for (struct reader *r = readers; r && n < 256; r = r->next)
		if (r->published && !r->gone)
			list[n++] = r;
	while (n > 0 && rr >= 0)
		rr = sd_bus_message_append(m, "o", list[--n]->path);
	return rr;
}

void readers_init(sd_bus *b, sd_event *e)
{
	bus = b;
	loop = e;
	agent_set_removed_hook(on_agent_removed);
}

void readers_shutdown(void)
{
	while (readers) {
		struct reader *r = readers;
		/* The service stops: callers learn it as Cancelled, not as a
		 * card that left. */
		if (!r->gone)
			reader_remove(r, ONSHI_ERROR_CANCELLED, "cancelled");
		/* Wait for the running step, then for the worker to exit. */
		while (r->current && r->current->in_worker) {
			pthread_mutex_lock(&r->lock);
			struct op *op = r->finished;
			r->finished = NULL;
			pthread_mutex_unlock(&r->lock);
			if (op) {
				op->in_worker = false;
				op->done(op);
			} else {
				usleep(10000);  /* shutdown only */
			}
		}
		if (r->current) {
			op_free(r->current);
			r->current = NULL;
		}
		pthread_mutex_lock(&r->lock);
		r->exit_req = true;
		pthread_cond_signal(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		reader_free(r);
	}
}

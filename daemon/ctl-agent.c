/* ctl-agent.c — see ctl-agent.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <termios.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "ctl-agent.h"
#include "ctl-line.h"

#define SERVICE_NAME   "org.onshi.Onshi1"
#define MANAGER_PATH   "/org/onshi/Onshi1"
#define MANAGER_IFACE  "org.onshi.Onshi1.Manager"
#define AGENT_IFACE    "org.onshi.Onshi1.Agent"
#define ERR_CANCELLED  "org.onshi.Onshi1.Error.Cancelled"
#define ERR_BUSY       "org.onshi.Onshi1.Error.Busy"

/* Longest line accepted: a JPKI signature password has at most 16
 * characters, collation number B 14 digits; the rest is slack. */
#define INPUT_MAX 64

/* The one place a PIN lives in onshictl.  Static so it can be mlock'd once;
 * one agent per process. */
static char input_buf[INPUT_MAX + 1] __attribute__((aligned(64)));

struct ctl_agent {
	sd_bus *bus;
	sd_bus_slot *vtable_slot;
	unsigned caps;
	char *owner;                 /* unique name of org.onshi.Onshi1 */
	sd_bus_message *pending;     /* the request waiting for input */
	sd_event_source *input;      /* stdin watch while pending */
	struct ctl_line line;        /* over input_buf */
	bool tty;                    /* stdin is a terminal */
	bool echo_off;               /* saved_tty must be restored */
	bool prompted;               /* a prompt line is open on stderr */
	struct termios saved_tty;
	unsigned answered;
};

static bool buf_locked;

unsigned ctl_agent_answered(const struct ctl_agent *a) { return a->answered; }

static void wipe_input(struct ctl_agent *a)
{
	ctl_line_wipe(&a->line);
}

/* Ends the prompt line: the newline typed was not echoed (echo off), or
 * nothing was typed here at all (stdin not a terminal). */
static void restore_tty(struct ctl_agent *a)
{
	if (a->echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &a->saved_tty);
		a->echo_off = false;
	}
	if (a->prompted) {
		fputc('\n', stderr);
		a->prompted = false;
	}
}

static void stop_input(struct ctl_agent *a)
{
	restore_tty(a);
	a->input = sd_event_source_disable_unref(a->input);
}

/* Answers the pending request with an error and forgets it. */
static void fail_pending(struct ctl_agent *a, const char *name, const char *msg)
{
	stop_input(a);
	wipe_input(a);
	if (a->pending) {
		sd_bus_reply_method_error(a->pending, &SD_BUS_ERROR_MAKE_CONST(name, msg));
		a->pending = sd_bus_message_unref(a->pending);
	}
}

/* Answers the pending request with the line read, then wipes it. */
static void answer_pending(struct ctl_agent *a)
{
	sd_bus_message *reply = NULL;
	int r;

	stop_input(a);
	r = sd_bus_message_new_method_return(a->pending, &reply);
	if (r >= 0)
		r = sd_bus_message_sensitive(reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "s", input_buf);
	/* The message holds its own copy now (wiped when freed: sensitive). */
	wipe_input(a);
	if (r >= 0)
		r = sd_bus_send(a->bus, reply, NULL);
	sd_bus_message_unref(reply);
	if (r < 0) {
		/* Most likely not valid UTF-8: say so without echoing it. */
		sd_bus_reply_method_error(a->pending, &SD_BUS_ERROR_MAKE_CONST(
			"org.freedesktop.DBus.Error.InvalidArgs", "the line typed is not valid text"));
	} else {
		a->answered++;
	}
	a->pending = sd_bus_message_unref(a->pending);
}

/* One byte of input per call (level-triggered), so nothing past the
 * newline is consumed: a second request reads the next line.  Returns 1
 * when the request was answered. */
static int read_one_byte(struct ctl_agent *a)
{
	enum ctl_line_state st;
	char c = 0;
	ssize_t n = read(STDIN_FILENO, &c, 1);

	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return 0;
		fail_pending(a, ERR_CANCELLED, "cannot read the terminal");
		return 1;
	}
	st = n == 0 ? ctl_line_eof(&a->line) : ctl_line_feed(&a->line, c);
	explicit_bzero(&c, sizeof(c));
	switch (st) {
	case CTL_LINE_MORE:
		return 0;
	case CTL_LINE_DONE:
		answer_pending(a);
		break;
	case CTL_LINE_TOO_LONG:
		fail_pending(a, "org.freedesktop.DBus.Error.InvalidArgs", "the line typed is too long");
		break;
	case CTL_LINE_EMPTY_EOF:
		fail_pending(a, ERR_CANCELLED, "no input: end of file");
		break;
	}
	return 1;
}

static int on_input(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	(void)s; (void)fd; (void)revents;
	read_one_byte(userdata);
	return 0;
}

/* Starts reading a line for the pending request: echo off on a terminal;
 * a watch on stdin, or plain reads when stdin is a regular file (which
 * epoll refuses and which never blocks anyway). */
static int start_input(struct ctl_agent *a)
{
	sd_event *event = sd_bus_get_event(a->bus);
	int r;

	wipe_input(a);
	a->tty = isatty(STDIN_FILENO);
	if (a->tty && tcgetattr(STDIN_FILENO, &a->saved_tty) == 0) {
		struct termios t = a->saved_tty;

		t.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
		t.c_lflag |= ICANON;
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0)
			a->echo_off = true;
	}
	r = event ? sd_event_add_io(event, &a->input, STDIN_FILENO, EPOLLIN, on_input, a) : -ENXIO;
	if (r == -EPERM) {
		while (a->pending && read_one_byte(a) == 0)
			;
		return 0;
	}
	return r;
}

/* Only onshid itself may ask us for a PIN. */
static int check_caller(struct ctl_agent *a, sd_bus_message *m, sd_bus_error *error)
{
	const char *sender = sd_bus_message_get_sender(m);
	sd_bus_creds *creds = NULL;
	const char *unique = NULL;

	if (sender && a->owner && strcmp(sender, a->owner) == 0)
		return 0;
	/* Unknown or changed owner (onshid restarted): ask the bus again. */
	if (sd_bus_get_name_creds(a->bus, SERVICE_NAME, SD_BUS_CREDS_UNIQUE_NAME, &creds) >= 0 &&
	    sd_bus_creds_get_unique_name(creds, &unique) >= 0) {
		free(a->owner);
		a->owner = strdup(unique);
	}
	sd_bus_creds_unref(creds);
	if (sender && a->owner && strcmp(sender, a->owner) == 0)
		return 0;
	return sd_bus_error_set(error, SD_BUS_ERROR_ACCESS_DENIED,
				"only " SERVICE_NAME " may call this agent");
}

static int begin_request(struct ctl_agent *a, sd_bus_message *m, sd_bus_error *error)
{
	int r;

	if (a->pending)
		return sd_bus_error_set(error, ERR_BUSY, "a request is already waiting for input");
	a->pending = sd_bus_message_ref(m);
	a->prompted = true;
	r = start_input(a);
	if (r < 0) {
		stop_input(a);
		a->pending = sd_bus_message_unref(a->pending);
		return sd_bus_error_set_errnof(error, -r, "cannot read input: %s", strerror(-r));
	}
	return 1;  /* answered later, from on_input */
}

static int method_request_pin(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct ctl_agent *a = userdata;
	const char *reader, *kind;
	uint32_t tries;
	int r;

	sd_bus_message_sensitive(m);
	r = check_caller(a, m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "osu", &reader, &kind, &tries);
	if (r < 0)
		return r;
	char prompt[256];
	fputs(ctl_line_pin_prompt(prompt, sizeof(prompt), kind, tries), stderr);
	fflush(stderr);
	return begin_request(a, m, error);
}

static int method_request_collation(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct ctl_agent *a = userdata;
	const char *reader;
	int r;

	sd_bus_message_sensitive(m);
	r = check_caller(a, m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "o", &reader);
	if (r < 0)
		return r;
	fprintf(stderr, "Enter collation number B printed on the card (14 digits): ");
	fflush(stderr);
	return begin_request(a, m, error);
}

static int method_pinpad_prompt(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct ctl_agent *a = userdata;
	const char *reader, *kind;
	uint32_t tries;
	int r;

	r = check_caller(a, m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "osu", &reader, &kind, &tries);
	if (r < 0)
		return r;
	char prompt[128];
	fputs(ctl_line_pinpad_prompt(prompt, sizeof(prompt), tries), stderr);
	return sd_bus_reply_method_return(m, NULL);
}

static void print_reason(const char *reason)
{
	for (; *reason; reason++)
		fputc((unsigned char)*reason < 0x20 || *reason == 0x7f ? '?' : *reason, stderr);
}

static int method_cancel(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	struct ctl_agent *a = userdata;
	const char *reason;
	int r;

	r = check_caller(a, m, error);
	if (r < 0)
		return r;
	r = sd_bus_message_read(m, "s", &reason);
	if (r < 0)
		return r;
	if (a->pending) {
		fail_pending(a, ERR_CANCELLED, "cancelled by onshid");
		fputs("onshictl: onshid cancelled the request: ", stderr);
	} else if (strcmp(reason, "done") == 0) {
		fputs("onshictl: PIN pad entry finished", stderr);
		reason = "";
	} else {
		fputs("onshictl: onshid ended the request: ", stderr);
	}
	print_reason(reason);
	fputc('\n', stderr);
	return sd_bus_reply_method_return(m, NULL);
}

static const sd_bus_vtable agent_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_METHOD("RequestPin", "osu", "s", method_request_pin,
		      SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD("DisplayPinPadPrompt", "osu", "", method_pinpad_prompt,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("RequestCollationNumberB", "o", "s", method_request_collation,
		      SD_BUS_VTABLE_UNPRIVILEGED | SD_BUS_VTABLE_SENSITIVE),
	SD_BUS_METHOD("Cancel", "s", "", method_cancel, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END
};

int ctl_agent_register(struct ctl_agent *a, sd_bus_error *error)
{
	sd_bus_message *call = NULL, *reply = NULL;
	int r;

	r = sd_bus_message_new_method_call(a->bus, &call, SERVICE_NAME, MANAGER_PATH,
					   MANAGER_IFACE, "RegisterAgent");
	if (r >= 0)
		r = sd_bus_message_append(call, "o", CTL_AGENT_PATH);
	if (r >= 0)
		r = sd_bus_message_open_container(call, 'a', "s");
	if (r >= 0 && (a->caps & CTL_AGENT_CAP_PIN))
		r = sd_bus_message_append(call, "s", "pin");
	if (r >= 0 && (a->caps & CTL_AGENT_CAP_PINPAD))
		r = sd_bus_message_append(call, "s", "pinpad-prompt");
	if (r >= 0 && (a->caps & CTL_AGENT_CAP_COLLATION))
		r = sd_bus_message_append(call, "s", "collation-number-b");
	if (r >= 0)
		r = sd_bus_message_close_container(call);
	if (r >= 0)
		r = sd_bus_call(a->bus, call, 0, error, &reply);
	sd_bus_message_unref(reply);
	sd_bus_message_unref(call);
	if (r >= 0) {
		sd_bus_creds *creds = NULL;
		const char *unique = NULL;

		/* The name's owner now, to check callers against. */
		if (sd_bus_get_name_creds(a->bus, SERVICE_NAME, SD_BUS_CREDS_UNIQUE_NAME, &creds) >= 0 &&
		    sd_bus_creds_get_unique_name(creds, &unique) >= 0) {
			free(a->owner);
			a->owner = strdup(unique);
		}
		sd_bus_creds_unref(creds);
	}
	return r < 0 ? r : 0;
}

int ctl_agent_request_default(struct ctl_agent *a, sd_bus_error *error)
{
	int r = sd_bus_call_method(a->bus, SERVICE_NAME, MANAGER_PATH, MANAGER_IFACE,
				   "RequestDefaultAgent", error, NULL, "o", CTL_AGENT_PATH);

	return r < 0 ? r : 0;
}

int ctl_agent_new(sd_bus *bus, unsigned caps, struct ctl_agent **out, sd_bus_error *error)
{
	struct ctl_agent *a = calloc(1, sizeof(*a));
	int r;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->bus = sd_bus_ref(bus);
	a->caps = caps;
	ctl_line_init(&a->line, input_buf, sizeof(input_buf));
	if (!buf_locked)
		buf_locked = mlock(input_buf, sizeof(input_buf)) == 0;  /* best effort */
	r = sd_bus_add_object_vtable(bus, &a->vtable_slot, CTL_AGENT_PATH, AGENT_IFACE,
				     agent_vtable, a);
	if (r >= 0)
		r = ctl_agent_register(a, error);
	if (r < 0) {
		ctl_agent_free(a);
		return r;
	}
	*out = a;
	return 0;
}

bool ctl_agent_abort(struct ctl_agent *a, const char *why)
{
	if (!a || !a->pending)
		return false;
	fail_pending(a, ERR_CANCELLED, why);
	return true;
}

void ctl_agent_free(struct ctl_agent *a)
{
	if (!a)
		return;
	ctl_agent_abort(a, "onshictl is exiting");
	stop_input(a);
	wipe_input(a);
	if (a->owner) {
		/* Best effort and quick: onshid also drops agents whose
		 * connection leaves the bus. */
		sd_bus_call_method_async(a->bus, NULL, SERVICE_NAME, MANAGER_PATH, MANAGER_IFACE,
					 "UnregisterAgent", NULL, NULL, "o", CTL_AGENT_PATH);
	}
	sd_bus_slot_unref(a->vtable_slot);
	free(a->owner);
	sd_bus_unref(a->bus);
	free(a);
}

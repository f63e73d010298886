/* agent.c — agent registry and calls to agents. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "authz.h"
#include "bus-common.h"
#include "errors.h"

#define AGENT_MAX 256

struct agent {
	struct agent *next;
	char *owner;
	char *path;
	unsigned caps;
	uid_t uid;
	bool is_default;
	sd_bus_track *track;
};

static sd_bus *agent_bus;
static agent_removed_fn removed_hook;
static struct agent *agents;
static size_t agent_count;

void agent_registry_init(sd_bus *bus)
{
	agent_bus = bus;
}

static void agent_free(struct agent *a)
{
	if (!a)
		return;
	sd_bus_track_unref(a->track);
	free(a->owner);
	free(a->path);
	free(a);
}

static void ref_from(const struct agent *a, struct agent_ref *out);

void agent_set_removed_hook(agent_removed_fn fn)
{
	removed_hook = fn;
}

static void notify_removed(const struct agent *a, bool gone)
{
	struct agent_ref ref;

	if (!removed_hook)
		return;
	ref_from(a, &ref);
	removed_hook(&ref, gone);
}

static void agent_unlink(struct agent *a)
{
	for (struct agent **p = &agents; *p; p = &(*p)->next)
		if (*p == a) {
			*p = a->next;
			agent_count--;
			return;
		}
}

void agent_registry_free(void)
{
	while (agents) {
		struct agent *a = agents;
		agent_unlink(a);
		agent_free(a);
	}
}

static struct agent *agent_find(const char *owner, const char *path)
{
	for (struct agent *a = agents; a; a = a->next)
		if (strcmp(a->owner, owner) == 0 && strcmp(a->path, path) == 0)
			return a;
	return NULL;
}

unsigned agent_cap_from_name(const char *name)
{
	if (strcmp(name, "pin") == 0)
		return AGENT_CAP_PIN;
	if (strcmp(name, "pinpad-prompt") == 0)
		return AGENT_CAP_PINPAD_PROMPT;
	if (strcmp(name, "collation-number-b") == 0)
		return AGENT_CAP_COLLATION_B;
	if (strcmp(name, "face") == 0)
		return AGENT_CAP_FACE;
	return 0;
}

/* The owner's connection left the bus: forget every agent it had. */
static int on_owner_gone(sd_bus_track *t, void *userdata)
{
	struct agent *a = userdata;

	(void)t;
	log_info("agent %s %s left the bus", a->owner, a->path);
	agent_unlink(a);
	notify_removed(a, true);
	agent_free(a);
	return 0;
}

int agent_method_register(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	const char *path, *sender = sd_bus_message_get_sender(m);
	unsigned caps = 0;
	uid_t uid;
	int r;

	(void)userdata;
	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	r = sd_bus_message_enter_container(m, 'a', "s");
	if (r < 0)
		return r;
	for (;;) {
		const char *word;
		r = sd_bus_message_read(m, "s", &word);
		if (r < 0)
			return r;
		if (r == 0)
			break;
		unsigned c = agent_cap_from_name(word);
		if (!c)
			return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
						 "unknown agent capability (known: pin, pinpad-prompt, collation-number-b, face)");
		caps |= c;
	}
	r = sd_bus_message_exit_container(m);
	if (r < 0)
		return r;
	if (!caps)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "no capabilities given");
	if (!sender)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "no sender");
	r = authz_sender_uid(m, &uid);
	if (r < 0)
		return sd_bus_error_set(e, ONSHI_ERROR_NOT_AUTHORIZED, "caller identity unknown");

	struct agent *a = agent_find(sender, path);
	if (a) {
		a->caps = caps;
		return sd_bus_reply_method_return(m, NULL);
	}
	if (agent_count >= AGENT_MAX)
		return sd_bus_error_set(e, ONSHI_ERROR_BUSY, "too many agents");
	a = calloc(1, sizeof *a);
	if (!a || !(a->owner = strdup(sender)) || !(a->path = strdup(path))) {
		agent_free(a);
		return -ENOMEM;
	}
	a->caps = caps;
	a->uid = uid;
	r = sd_bus_track_new(agent_bus, &a->track, on_owner_gone, a);
	if (r >= 0)
		r = sd_bus_track_add_sender(a->track, m);
	if (r < 0) {
		agent_free(a);
		return r;
	}
	a->next = agents;
	agents = a;
	agent_count++;
	log_info("agent registered: %s %s (uid %ld, caps 0x%x)", sender, path, (long)uid, caps);
	return sd_bus_reply_method_return(m, NULL);
}

int agent_method_unregister(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	const char *path;
	int r;

	(void)userdata;
	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	struct agent *a = agent_find(sd_bus_message_get_sender(m), path);
	if (!a)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "no such agent of this caller");
	agent_unlink(a);
	notify_removed(a, false);
	agent_free(a);
	return sd_bus_reply_method_return(m, NULL);
}

int agent_method_request_default(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	const char *path;
	int r;

	(void)userdata;
	r = sd_bus_message_read(m, "o", &path);
	if (r < 0)
		return r;
	r = authz_check(m, AUTHZ_ROOT, e);
	if (r < 0)
		return r;
	struct agent *a = agent_find(sd_bus_message_get_sender(m), path);
	if (!a)
		return sd_bus_error_set(e, SD_BUS_ERROR_INVALID_ARGS, "register the agent first");
	for (struct agent *o = agents; o; o = o->next)
		o->is_default = false;
	a->is_default = true;
	return sd_bus_reply_method_return(m, NULL);
}

static void ref_from(const struct agent *a, struct agent_ref *out)
{
	snprintf(out->owner, sizeof out->owner, "%s", a->owner);
	snprintf(out->path, sizeof out->path, "%s", a->path);
}

int agent_choose(const char *caller, uid_t caller_uid, unsigned cap, struct agent_ref *out)
{
	const struct agent *same_uid = NULL, *fallback = NULL;

	for (const struct agent *a = agents; a; a = a->next) {
		if (!(a->caps & cap))
			continue;
		if (caller && strcmp(a->owner, caller) == 0) {
			ref_from(a, out);
			return 0;
		}
		if (a->uid == caller_uid && !same_uid)
			same_uid = a;
		if (a->is_default)
			fallback = a;
	}
	if (same_uid || fallback) {
		ref_from(same_uid ? same_uid : fallback, out);
		return 0;
	}
	return -ENOENT;
}

int agent_call(const struct agent_ref *ref, const char *method, uint32_t timeout_ms,
	       sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **slot,
	       const char *types, ...)
{
	sd_bus_message *call = NULL;
	va_list ap;
	int r;

	r = sd_bus_message_new_method_call(agent_bus, &call, ref->owner, ref->path,
					   ONSHID_AGENT_IFACE, method);
	if (r < 0)
		return r;
	va_start(ap, types);
	r = sd_bus_message_appendv(call, types, ap);
	va_end(ap);
	if (r >= 0) {
		uint64_t ms = timeout_ms ? timeout_ms : onshid_config.agent_timeout_ms;
		r = sd_bus_call_async(agent_bus, slot, call, cb, userdata, ms * 1000u);
	}
	sd_bus_message_unref(call);
	return r;
}

void agent_send_cancel(const struct agent_ref *ref, const char *reason)
{
	sd_bus_message *call = NULL;
	int r = sd_bus_message_new_method_call(agent_bus, &call, ref->owner, ref->path,
					       ONSHID_AGENT_IFACE, "Cancel");
	if (r >= 0)
		r = sd_bus_message_append(call, "s", reason);
	if (r >= 0)
		r = sd_bus_message_set_expect_reply(call, 0);
	if (r >= 0)
		r = sd_bus_send(agent_bus, call, NULL);
	if (r < 0)
		log_debug("Agent.Cancel to %s failed: %s", ref->owner, strerror(-r));
	sd_bus_message_unref(call);
}

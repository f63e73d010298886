/* agent.h — the registry of PIN/face agents and the calls onshid makes to
 * them (org.onshi.Onshi1.Agent).
 *
 * Contract:
 *  - An agent is (owner unique name, object path, capabilities, owner uid).
 *    Its connection is tracked with sd_bus_track: when it leaves the bus the
 *    agent is dropped.
 *  - agent_choose(): among agents with the capability, the caller's own
 *    (same connection), else one of the same uid, else the default agent.
 *  - Calls to agents are asynchronous (sd_bus_call_async with an explicit
 *    timeout) so the main loop keeps serving while a user types.
 *  - Replies carrying a PIN are marked sensitive by the reader module when
 *    read (sd_bus_message_sensitive), and wiped with the message.
 */
#ifndef ONSHI_AGENT_H
#define ONSHI_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

enum agent_cap {
	AGENT_CAP_PIN = 1u << 0,
	AGENT_CAP_PINPAD_PROMPT = 1u << 1,
	AGENT_CAP_COLLATION_B = 1u << 2,
	AGENT_CAP_FACE = 1u << 3,
};

/* Identity of a chosen agent, copied so that it outlives the registry
 * entry (the agent may leave while a call to it is pending). */
struct agent_ref {
	char owner[256];
	char path[256];
};

void agent_registry_init(sd_bus *bus);
void agent_registry_free(void);

/* Method handlers of the Manager (see org.onshi.Onshi1.xml). */
int agent_method_register(sd_bus_message *m, void *userdata, sd_bus_error *e);
int agent_method_unregister(sd_bus_message *m, void *userdata, sd_bus_error *e);
int agent_method_request_default(sd_bus_message *m, void *userdata, sd_bus_error *e);

/* Parses a capability word; 0 for unknown. */
unsigned agent_cap_from_name(const char *name);

/* Picks the agent for caller (unique name) / caller_uid with cap.  Returns
 * 0 and fills out, or -ENOENT. */
int agent_choose(const char *caller, uid_t caller_uid, unsigned cap, struct agent_ref *out);

/* Starts Agent.method on ref with the signature/arguments given; reply goes
 * to cb.  timeout_ms 0 = onshid_config.agent_timeout_ms. */
int agent_call(const struct agent_ref *ref, const char *method, uint32_t timeout_ms,
	       sd_bus_message_handler_t cb, void *userdata, sd_bus_slot **slot,
	       const char *types, ...);

/* Called when an agent leaves the registry: gone_from_bus is true when its
 * connection left (nobody to send Cancel to), false for UnregisterAgent. */
typedef void (*agent_removed_fn)(const struct agent_ref *ref, bool gone_from_bus);
void agent_set_removed_hook(agent_removed_fn fn);

/* Agent.Cancel(reason), no reply expected. */
void agent_send_cancel(const struct agent_ref *ref, const char *reason);

#endif

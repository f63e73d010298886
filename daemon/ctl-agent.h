/* ctl-agent.h — onshictl's terminal agent: an org.onshi.Onshi1.Agent object
 * exported on onshictl's own bus connection, answering onshid's PIN
 * requests from the terminal.
 *
 * Contract:
 *  - ctl_agent_new() exports the object at CTL_AGENT_PATH and registers it
 *    with onshid (Manager.RegisterAgent) with the capabilities asked for.
 *    Requests are served from the sd-event loop the bus is attached to, so
 *    the caller must run that loop (e.g. while an Authenticate call made
 *    with sd_bus_call_async is pending) — a blocking sd_bus_call would never
 *    let the agent answer.
 *  - RequestPin / RequestCollationNumberB read one line without blocking the
 *    loop: from the terminal with echo off when stdin is a terminal, else
 *    one line from stdin.  The answer is kept in one mlock'd buffer, sent in
 *    a message marked sensitive, and wiped with explicit_bzero right after
 *    the reply is queued.  It is never printed.  Prompts go to stderr.
 *  - Only the current owner of org.onshi.Onshi1 may call the agent; others
 *    get org.freedesktop.DBus.Error.AccessDenied.
 *  - DisplayPinPadPrompt and Cancel print a line to stderr for the user.
 *  - ctl_agent_abort() ends a pending request (Ctrl-C): the terminal is
 *    restored and onshid gets org.onshi.Onshi1.Error.Cancelled.
 *  - ctl_agent_free() restores the terminal, wipes, unregisters (best
 *    effort) and frees.  NULL is a no-op.
 */
#ifndef ONSHI_CTL_AGENT_H
#define ONSHI_CTL_AGENT_H

#include <stdbool.h>
#include <systemd/sd-bus.h>

#define CTL_AGENT_PATH "/org/onshi/ctl/agent"

enum ctl_agent_caps {
	CTL_AGENT_CAP_PIN = 1 << 0,
	CTL_AGENT_CAP_PINPAD = 1 << 1,
	CTL_AGENT_CAP_COLLATION = 1 << 2,
};

struct ctl_agent;

/* Exports and registers.  Returns 0 or a negative errno; on a D-Bus error
 * from RegisterAgent, error is set. */
int ctl_agent_new(sd_bus *bus, unsigned caps, struct ctl_agent **out, sd_bus_error *error);

/* Registers again (after onshid restarted).  Returns 0 or negative errno. */
int ctl_agent_register(struct ctl_agent *a, sd_bus_error *error);

/* Makes this agent onshid's default agent. */
int ctl_agent_request_default(struct ctl_agent *a, sd_bus_error *error);

/* Ends a request waiting for input (see above).  Returns true if there was
 * one. */
bool ctl_agent_abort(struct ctl_agent *a, const char *why);

/* Number of requests answered with a PIN or number so far. */
unsigned ctl_agent_answered(const struct ctl_agent *a);

void ctl_agent_free(struct ctl_agent *a);

#endif

/* authz.h — the one place onshid decides who may do what.
 *
 * Contract:
 *  - The bus policy already admits only the onshi group to the service;
 *    here onshid adds its own per-operation checks:
 *      AUTHZ_USE       anyone the bus let through;
 *      AUTHZ_PERSONAL  personal data (signature certificate, signature key,
 *                      card-info PIN): uid 0, or the personal-data group as
 *                      primary or supplementary group;
 *      AUTHZ_ROOT      uid 0 only (RequestDefaultAgent).
 *  - Identity comes from the bus (sd_bus_query_sender_creds: the broker's
 *    record of the peer, taken at connect time), never from /proc
 *    (augmented fields are racy and ignored).
 *  - authz_decide() is pure logic for unit tests.
 */
#ifndef ONSHI_AUTHZ_H
#define ONSHI_AUTHZ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

enum authz_need { AUTHZ_USE, AUTHZ_PERSONAL, AUTHZ_ROOT };

struct authz_identity {
	uid_t uid;
	gid_t gid;
	const gid_t *groups;   /* supplementary groups (may be NULL) */
	size_t n_groups;
};

/* True when who may perform an operation needing need.  personal_gid is
 * used only when personal_valid. */
bool authz_decide(const struct authz_identity *who, enum authz_need need,
		  gid_t personal_gid, bool personal_valid);

/* The sender's uid from the bus (not augmented).  Returns 0 or -errno. */
int authz_sender_uid(sd_bus_message *m, uid_t *uid);

/* Checks the sender of m against need with onshid_config.  Returns 0 when
 * allowed, else fills e (NotAuthorized) and returns a negative errno. */
int authz_check(sd_bus_message *m, enum authz_need need, sd_bus_error *e);

/* Like authz_check() without an error or a log line (for operations that
 * only leave out personal fields, e.g. GetPinStatus's card-info). */
bool authz_allowed(sd_bus_message *m, enum authz_need need);

#endif

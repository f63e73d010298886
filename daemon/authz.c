/* authz.c — caller identity and the per-operation authorization rules. */
#include <errno.h>

#include "authz.h"
#include "bus-common.h"
#include "errors.h"

bool authz_decide(const struct authz_identity *who, enum authz_need need,
		  gid_t personal_gid, bool personal_valid)
{
	if (!who)
		return false;
	if (who->uid == 0 || need == AUTHZ_USE)
		return true;
	if (need != AUTHZ_PERSONAL || !personal_valid)
		return false;
	if (who->gid == personal_gid)
		return true;
	for (size_t i = 0; i < who->n_groups && who->groups; i++)
		if (who->groups[i] == personal_gid)
			return true;
	return false;
}

/* Creds of the sender, with the fields we need checked not to come from
 * /proc (augmented) but from the broker. */
static int sender_creds(sd_bus_message *m, uint64_t mask, sd_bus_creds **out)
{
	sd_bus_creds *c = NULL;
	int r = sd_bus_query_sender_creds(m, mask, &c);

	if (r < 0)
		return r;
	uint64_t augmented = sd_bus_creds_get_augmented_mask(c);

	/* Need one of uid/euid straight from the broker. */
	if ((sd_bus_creds_get_mask(c) & ~augmented & (SD_BUS_CREDS_EUID | SD_BUS_CREDS_UID)) == 0) {
		sd_bus_creds_unref(c);
		return -EPERM;
	}
	*out = c;
	return 0;
}

static int creds_uid(sd_bus_creds *c, uid_t *uid)
{
	/* dbus-daemon reports one uid per connection (GetConnectionCredentials
	 * UnixUserID); take whichever field sd-bus filed it in, never an
	 * augmented one. */
	uint64_t augmented = sd_bus_creds_get_augmented_mask(c);

	if (!(augmented & SD_BUS_CREDS_EUID) && sd_bus_creds_get_euid(c, uid) >= 0)
		return 0;
	if (!(augmented & SD_BUS_CREDS_UID) && sd_bus_creds_get_uid(c, uid) >= 0)
		return 0;
	return -EPERM;
}

int authz_sender_uid(sd_bus_message *m, uid_t *uid)
{
	sd_bus_creds *c = NULL;
	int r = sender_creds(m, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID, &c);

	if (r < 0)
		return r;
	r = creds_uid(c, uid);
	sd_bus_creds_unref(c);
	return r;
}

static bool sender_allowed(sd_bus_message *m, enum authz_need need, uid_t *uid_out)
{
	sd_bus_creds *c = NULL;
	struct authz_identity who = { .uid = (uid_t)-1, .gid = (gid_t)-1 };
	/* dbus-daemon 1.14 reports no group list: sd-bus fills the
	 * supplementary groups from /proc/PID/status (AUGMENT).  The uid
	 * must not come from there (sender_creds checks), and groups read
	 * from the connecting process are what the bus policy used too. */
	int r = sender_creds(m, SD_BUS_CREDS_UID | SD_BUS_CREDS_EUID | SD_BUS_CREDS_GID |
			     SD_BUS_CREDS_EGID | SD_BUS_CREDS_SUPPLEMENTARY_GIDS | SD_BUS_CREDS_AUGMENT, &c);

	if (r >= 0)
		r = creds_uid(c, &who.uid);
	if (r >= 0) {
		const gid_t *groups = NULL;
		int n;

		if (sd_bus_creds_get_egid(c, &who.gid) < 0)
			(void)sd_bus_creds_get_gid(c, &who.gid);
		n = sd_bus_creds_get_supplementary_gids(c, &groups);
		if (n > 0) {
			who.groups = groups;
			who.n_groups = (size_t)n;
		}
	}
	bool ok = r >= 0 && authz_decide(&who, need, onshid_config.personal_gid,
					  onshid_config.personal_gid_valid);
	sd_bus_creds_unref(c);
	*uid_out = who.uid;
	return ok;
}

bool authz_allowed(sd_bus_message *m, enum authz_need need)
{
	uid_t uid;
	return sender_allowed(m, need, &uid);
}

int authz_check(sd_bus_message *m, enum authz_need need, sd_bus_error *e)
{
	uid_t uid;

	if (sender_allowed(m, need, &uid))
		return 0;
	log_info("refused %s from uid %ld: %s", sd_bus_message_get_member(m), (long)(int)uid,
		 need == AUTHZ_ROOT ? "needs root" : "needs the personal-data group");
	return sd_bus_error_set(e, ONSHI_ERROR_NOT_AUTHORIZED,
				need == AUTHZ_ROOT ? "only root may do this"
						   : "this operation needs the personal-data group");
}

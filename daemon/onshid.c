/* onshid.c — the onshi system D-Bus service: options, event loop, Manager
 * object.  See dbus/org.onshi.Onshi1.xml for the interface and reader.h
 * for how card work is kept off the event loop.
 *
 * Decisions the interface leaves open (documented here and in the report):
 *  - Threads: card I/O runs in one worker thread per reader rather than
 *    "short" calls on the loop, because a single SCardTransmit can block for
 *    seconds (T=1 waiting time extensions, a PIN-pad entry of up to the
 *    agent timeout) and one slow reader must not stall the others, agents
 *    and property reads.  Workers only touch their pcsc_session and the
 *    operation handed to them; results return through an eventfd.
 *  - GetPinStatus: a key whose VERIFY-without-data answers 9000 ("already
 *    verified" by another PC/SC client in this card session) or 6300 (no
 *    count) is left out of the dictionary; a blocked PIN is 0.  "card-info"
 *    is only reported to callers with the personal-data group or root.
 *  - Contactless: true when the ATR is a PC/SC pseudo-ATR (3B 8n 80 01 ...,
 *    synthesised for ISO 14443 cards) or the reader name says
 *    Contactless/PICC/NFC/" CL "; it may change (PropertiesChanged) once a
 *    card shows a pseudo-ATR.
 *  - CardType: SELECT of the JPKI AP and the EF 0006 label; an old 住基
 *    card (JPKIAPICCTOKEN) and any card without the applet are "other".
 *  - Authenticate signs SHA-256(challenge) as a PKCS#1 v1.5 DigestInfo;
 *    challenges are 1..65536 bytes.
 *  - Queue: one operation runs per reader, up to 64 more wait in order,
 *    beyond that Error.Busy; another PC/SC client holding the card
 *    exclusively also gives Busy.
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "agent.h"
#include "bus-common.h"
#include "errors.h"
#include "pcsc-monitor.h"
#include "reader.h"
#include "secret.h"
#include "x509-info.h"

static int method_list_readers(sd_bus_message *m, void *userdata, sd_bus_error *e)
{
	sd_bus_message *reply = NULL;
	int r;

	(void)userdata;
	(void)e;
	r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "o");
	if (r >= 0)
		r = readers_append_paths(reply);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r;
}

static int get_version(sd_bus *b, const char *path, const char *iface, const char *prop,
		       sd_bus_message *reply, void *userdata, sd_bus_error *e)
{
	(void)b; (void)path; (void)iface; (void)prop; (void)userdata; (void)e;
	return sd_bus_message_append(reply, "s", PACKAGE_VERSION);
}

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("Version", "s", get_version, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_METHOD_WITH_NAMES("ListReaders", "", , "ao", SD_BUS_PARAM(readers),
				 method_list_readers, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("RegisterAgent", "oas", SD_BUS_PARAM(agent) SD_BUS_PARAM(capabilities),
				 "", , agent_method_register, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("UnregisterAgent", "o", SD_BUS_PARAM(agent), "", ,
				 agent_method_unregister, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_NAMES("RequestDefaultAgent", "o", SD_BUS_PARAM(agent), "", ,
				 agent_method_request_default, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_SIGNAL_WITH_NAMES("ReaderAdded", "o", SD_BUS_PARAM(reader), 0),
	SD_BUS_SIGNAL_WITH_NAMES("ReaderRemoved", "o", SD_BUS_PARAM(reader), 0),
	SD_BUS_VTABLE_END
};

static int on_monitor(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	static struct pcsc_snapshot snap;

	(void)s; (void)fd; (void)revents;
	pcsc_monitor_snapshot(userdata, &snap);
	readers_sync(&snap);
	return 0;
}

/* SIGTERM/SIGINT: end every operation while the bus is still open.  sd-bus
 * flushes and closes its connection in its own exit handler as soon as the
 * loop exits, so replies (Cancelled) and Agent.Cancel calls sent after
 * sd_event_loop() returns would never leave.  userdata: the monitor's event
 * source, switched off first so no snapshot re-creates readers. */
static int on_stop_signal(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata)
{
	sd_event_source **mon_src = userdata;

	log_info("signal %u: shutting down", si->ssi_signo);
	if (*mon_src)
		sd_event_source_set_enabled(*mon_src, SD_EVENT_OFF);
	readers_shutdown();
	return sd_event_exit(sd_event_source_get_event(s), 0);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: onshid [OPTIONS]\n"
		"  --system                 use the system bus (default)\n"
		"  --bus-address ADDRESS    use this bus (tests: a private system-type bus)\n"
		"  --trust-dir DIR          trust anchors for chain-valid (default: the card's CA)\n"
		"  --personal-group GROUP   group for personal-data operations (default %s)\n"
		"  --agent-timeout-ms MS    limit on one agent request (default %u)\n"
		"  --verbose                debug messages\n"
		"  --trace-apdu             log APDUs (VERIFY data and sign-cert data redacted)\n"
		"  --version, --help\n", ONSHI_PERSONAL_GROUP, ONSHID_AGENT_TIMEOUT_MS_DEFAULT);
}

static int set_personal_group(const char *name)
{
	struct group *g = getgrnam(name);
	char *end;

	if (g) {
		onshid_config.personal_gid = g->gr_gid;
		onshid_config.personal_gid_valid = true;
		return 0;
	}
	errno = 0;
	unsigned long v = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && v < (gid_t)-1) {
		onshid_config.personal_gid = (gid_t)v;
		onshid_config.personal_gid_valid = true;
		return 0;
	}
	log_warning("group \"%s\" does not exist: personal data only for root", name);
	return 0;
}

static int parse_options(int argc, char **argv)
{
	enum { OPT_SYSTEM = 256, OPT_ADDR, OPT_TRUST, OPT_GROUP, OPT_TIMEOUT, OPT_TRACE, OPT_VERSION };
	static const struct option opts[] = {
		{ "system", no_argument, NULL, OPT_SYSTEM },
		{ "bus-address", required_argument, NULL, OPT_ADDR },
		{ "trust-dir", required_argument, NULL, OPT_TRUST },
		{ "personal-group", required_argument, NULL, OPT_GROUP },
		{ "agent-timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "verbose", no_argument, NULL, 'v' },
		{ "trace-apdu", no_argument, NULL, OPT_TRACE },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *group = ONSHI_PERSONAL_GROUP;
	int c;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SYSTEM: onshid_config.bus_address = NULL; break;
		case OPT_ADDR: onshid_config.bus_address = optarg; break;
		case OPT_TRUST: onshid_config.trust_dir = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_TIMEOUT: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end || v == 0 || v > ONSHID_AGENT_TIMEOUT_MS_MAX) {
				fprintf(stderr, "onshid: --agent-timeout-ms takes 1..%u\n", ONSHID_AGENT_TIMEOUT_MS_MAX);
				return -1;
			}
			onshid_config.agent_timeout_ms = (uint32_t)v;
			break;
		}
		case 'v': onshid_config.verbose = true; break;
		case OPT_TRACE: onshid_config.trace_apdu = true; break;
		case OPT_VERSION: printf("onshid %s\n", PACKAGE_VERSION); exit(0);
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	return set_personal_group(group);
}

static int open_bus(sd_bus **out)
{
	sd_bus *b = NULL;
	int r;

	if (!onshid_config.bus_address)
		return sd_bus_open_system(out);
	r = sd_bus_new(&b);
	if (r >= 0)
		r = sd_bus_set_address(b, onshid_config.bus_address);
	if (r >= 0)
		r = sd_bus_set_bus_client(b, 1);
	if (r >= 0)
		r = sd_bus_start(b);
	if (r < 0) {
		sd_bus_unref(b);
		return r;
	}
	*out = b;
	return 0;
}

int main(int argc, char **argv)
{
	sd_event *event = NULL;
	sd_bus *bus = NULL;
	struct pcsc_monitor *mon = NULL;
	sd_event_source *mon_src = NULL;
	sigset_t ss;
	int r;

	/* First: libcrypto must not have allocated yet. */
	if (x509_wipe_freed_memory() < 0)
		log_warning("libcrypto will not wipe what it frees");
	if (parse_options(argc, argv) < 0)
		return 2;
	r = secret_harden_process();
	if (r < 0)
		log_warning("cannot harden the process: %s", strerror(-r));
	errors_register();
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);  /* before threads start: they inherit it */
	signal(SIGPIPE, SIG_IGN);

	r = sd_event_default(&event);
	if (r >= 0)
		r = open_bus(&bus);
	if (r < 0) {
		log_error("cannot connect to the bus: %s", strerror(-r));
		goto out;
	}
	sd_event_add_signal(event, NULL, SIGTERM, on_stop_signal, &mon_src);
	sd_event_add_signal(event, NULL, SIGINT, on_stop_signal, &mon_src);
	r = sd_bus_attach_event(bus, event, SD_EVENT_PRIORITY_NORMAL);
	agent_registry_init(bus);
	readers_init(bus, event);
	/* Objects first, the name last: no call can reach a missing object. */
	if (r >= 0)
		r = sd_bus_add_object_vtable(bus, NULL, ONSHID_MANAGER_PATH, ONSHID_MANAGER_IFACE,
					     manager_vtable, NULL);
	if (r < 0) {
		log_error("cannot export the manager: %s", strerror(-r));
		goto out;
	}
	mon = pcsc_monitor_start();
	if (!mon) {
		r = -errno;
		log_error("cannot start the PC/SC monitor: %m");
		goto out;
	}
	r = sd_event_add_io(event, &mon_src, pcsc_monitor_fd(mon), EPOLLIN, on_monitor, mon);
	if (r >= 0)
		r = sd_bus_request_name(bus, ONSHID_BUS_NAME, 0);
	if (r < 0) {
		log_error("cannot own %s: %s", ONSHID_BUS_NAME, strerror(-r));
		goto out;
	}
	log_info("onshid %s ready on %s", PACKAGE_VERSION,
		 onshid_config.bus_address ? onshid_config.bus_address : "the system bus");
	r = sd_event_loop(event);
out:
	pcsc_monitor_stop(mon);  /* no more snapshots */
	sd_event_source_disable_unref(mon_src);
	readers_shutdown();  /* nothing left after on_stop_signal; error paths */
	agent_registry_free();
	if (bus)
		sd_bus_flush_close_unref(bus);
	sd_event_unref(event);
	return r < 0 ? 1 : 0;
}

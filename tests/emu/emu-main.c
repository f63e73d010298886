/* emu-main.c — onshi-emu: an emulated USB CCID reader in a umockdev testbed.
 *
 *   onshi-emu --profile NAME --card SPEC [--card2 SPEC] [--control PATH] [--no-card]
 *
 * Prints "UMOCKDEV_DIR=<dir>" and "READY" on stdout once the device is
 * plugged in; runs programs under test with umockdev-wrapper and that
 * UMOCKDEV_DIR.  Ends on SIGTERM/SIGINT, the control command "quit", or EOF
 * on stdin when stdin is a pipe, socket or terminal; the testbed directory is
 * removed on the way out.
 *
 * Exit status: 0; 1 when the reader could not start; 2 for bad options; 3
 * when a replay card deviated from its transcript or left entries unplayed
 * (its "replay ..." report is on stderr).
 *
 * Threads: the main thread runs the GLib loop (signals, stdin, control
 * socket, plug/unplug); umockdev's worker thread runs the ioctl handler
 * (emu-usb.c); the firmware thread runs every emu_ccid_* call in job order,
 * so the firmware never sees two callers; short-lived card-opening threads
 * run emu_card_open() (a vicc card waits for its peer) and hand the card to
 * the firmware thread.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include <umockdev.h>
#include "emu-card.h"
#include "emu-ccid.h"
#include "emu-control.h"
#include "emu-profile.h"
#include "emu-sysfs.h"
#include "emu-usb.h"
#include "tests/backends/backends.h"

#define FIRST_DEVNUM 2   /* 1 is the root hub on a real bus */
#define EMU_EXIT_REPLAY_FAILED 3

typedef struct reader reader;
typedef void (*job_fn)(reader *r, void *data);

typedef struct job {
	job_fn fn;
	void *data;
	bool done;             /* set by the firmware thread when `wait`ed for */
	bool wait;
} job;

struct reader {
	const emu_profile *profile;
	char *default_spec[EMU_MAX_SLOTS];
	UMockdevTestbed *tb;
	emu_usb *usb;
	emu_ccid *ccid;
	emu_sysfs_dev sysfs;
	unsigned next_devnum;
	GMainLoop *loop;

	/* firmware thread and its job queue */
	GThread *fw;
	GMutex jobs_lock;
	GCond jobs_cond;
	GQueue jobs;
	bool fw_quit;
	unsigned commands_in_flight; /* PC_to_RDR messages queued or running (jobs_lock) */
	unsigned answer_tail_ms;     /* firmware thread only: see job_bulk_out() */

	/* wait_ms() and what cuts it short */
	GMutex wait_lock;
	GCond wait_cond;
	bool wait_aborted;

	emu_ccid_stats ccid_base;  /* at the last reset-stats */
	unsigned replay_failures;  /* firmware thread; read once it has stopped */

	/* start-up cards still being opened (card_open_thread) */
	GMutex open_lock;
	GCond open_cond;
	unsigned startup_opening;
};

/* ---- firmware thread ---------------------------------------------------------- */

static gpointer fw_main(gpointer data)
{
	reader *r = data;
	for (;;) {
		g_mutex_lock(&r->jobs_lock);
		while (g_queue_is_empty(&r->jobs) && !r->fw_quit)
			g_cond_wait(&r->jobs_cond, &r->jobs_lock);
		job *j = g_queue_pop_head(&r->jobs);
		g_mutex_unlock(&r->jobs_lock);
		if (!j)
			return NULL;   /* quit, queue empty */
		j->fn(r, j->data);
		g_mutex_lock(&r->jobs_lock);
		if (j->wait) {
			j->done = true;
			g_cond_broadcast(&r->jobs_cond);
		} else {
			g_free(j);
		}
		g_mutex_unlock(&r->jobs_lock);
	}
}

/* Queue fn(data) on the firmware thread; with wait, return once it ran.
 * false (nothing queued, data not consumed) once the firmware has stopped. */
static bool fw_call(reader *r, job_fn fn, void *data, bool wait)
{
	g_mutex_lock(&r->jobs_lock);
	if (r->fw_quit) {
		g_mutex_unlock(&r->jobs_lock);
		return false;
	}
	job *j = g_new0(job, 1);
	j->fn = fn;
	j->data = data;
	j->wait = wait;
	g_queue_push_tail(&r->jobs, j);
	g_cond_broadcast(&r->jobs_cond);
	if (wait) {
		while (!j->done)
			g_cond_wait(&r->jobs_cond, &r->jobs_lock);
		g_free(j);
	}
	g_mutex_unlock(&r->jobs_lock);
	return true;
}

static void abort_wait(reader *r)
{
	g_mutex_lock(&r->wait_lock);
	r->wait_aborted = true;
	g_cond_broadcast(&r->wait_cond);
	g_mutex_unlock(&r->wait_lock);
	if (r->ccid)
		emu_ccid_abort_wait(r->ccid);
}

static void clear_abort(reader *r)
{
	g_mutex_lock(&r->wait_lock);
	r->wait_aborted = false;
	g_mutex_unlock(&r->wait_lock);
}

/* ---- firmware environment -------------------------------------------------------- */

/* Set on the firmware thread while job_bulk_out() runs a command: whether
 * that command has sent its answer yet. */
static __thread bool bulk_job_running, bulk_job_answered;

static void command_done(reader *r);

static void env_bulk_in(void *user, const uint8_t *frame, size_t len)
{
	reader *r = user;
	/* A reader is free again once it has sent its answer (a time extension
	 * is not one): count the command done before the host can see the
	 * answer, or a host that sends the next command at once is told
	 * CMD_SLOT_BUSY by a reader that is only tidying up.  (Busy answers
	 * come from another thread and do not count.) */
	if (bulk_job_running && !bulk_job_answered && len > CCID_OFF_STATUS &&
	    (frame[CCID_OFF_STATUS] & 0xC0) != CCID_CMD_TIME_EXTENSION) {
		bulk_job_answered = true;
		command_done(r);
	}
	emu_usb_bulk_in(r->usb, frame, len);
}

static void env_interrupt_in(void *user, const uint8_t *frame, size_t len)
{
	reader *r = user;
	emu_usb_interrupt_in(r->usb, frame, len);
}

static bool env_wait_ms(void *user, unsigned ms)
{
	reader *r = user;
	gint64 end = g_get_monotonic_time() + (gint64)ms * 1000;
	g_mutex_lock(&r->wait_lock);
	while (!r->wait_aborted && g_cond_wait_until(&r->wait_cond, &r->wait_lock, end))
		;
	bool completed = !r->wait_aborted;
	g_mutex_unlock(&r->wait_lock);
	return completed;
}

/* A card left for good: a replay card that deviated or has entries left
 * (its report is already on stderr) makes the exit status 3. */
static void env_card_out(void *user, emu_card *card)
{
	reader *r = user;
	if (emu_card_finish(card) < 0)
		r->replay_failures++;
	emu_card_destroy(card);
}

/* ---- USB sink: from umockdev's worker thread to the firmware thread -------------- */

typedef struct bulk_msg {
	size_t len;
	uint8_t data[];
} bulk_msg;

static void command_done(reader *r)
{
	g_mutex_lock(&r->jobs_lock);
	r->commands_in_flight--;
	g_mutex_unlock(&r->jobs_lock);
}

static void job_bulk_out(reader *r, void *data)
{
	bulk_msg *m = data;
	/* A new command: an Abort that came before it has done its job. */
	clear_abort(r);
	bulk_job_running = true;
	bulk_job_answered = false;
	emu_ccid_bulk_out(r->ccid, m->data, m->len);
	g_free(m);
	/* answer-tail: firmware work after the answer, which must not make the
	 * reader look busy (see env_bulk_in()). */
	if (r->answer_tail_ms)
		g_usleep((gulong)r->answer_tail_ms * 1000);
	bulk_job_running = false;
	if (!bulk_job_answered)      /* mute: no answer at all */
		command_done(r);
}

/* A reader works on one command at a time (bMaxCCIDBusySlots 1): one that
 * comes while another is queued or running is answered CMD_SLOT_BUSY at
 * once instead of waiting its turn; PC_to_RDR_Abort still goes through. */
static void sink_bulk_out(void *user, const uint8_t *msg, size_t len)
{
	reader *r = user;
	g_mutex_lock(&r->jobs_lock);
	bool busy = r->commands_in_flight > 0;
	g_mutex_unlock(&r->jobs_lock);
	if (busy && emu_ccid_answer_busy(r->ccid, msg, len))
		return;
	bulk_msg *m = g_malloc(sizeof(*m) + len);
	m->len = len;
	memcpy(m->data, msg, len);
	g_mutex_lock(&r->jobs_lock);
	r->commands_in_flight++;
	g_mutex_unlock(&r->jobs_lock);
	if (!fw_call(r, job_bulk_out, m, false)) {
		g_free(m);
		command_done(r);
	}
}

static void job_class_request(reader *r, void *data)
{
	emu_usb_class_req *req = data;
	int res = emu_ccid_control(r->ccid, req->bmRequestType, req->bRequest, req->wValue,
				   req->wIndex, req->data, req->wLength);
	emu_usb_class_done(r->usb, req, res);
}

static void sink_class_request(void *user, emu_usb_class_req *req)
{
	fw_call(user, job_class_request, req, false);
}

static void sink_abort(void *user)
{
	abort_wait(user);
}

/* ---- cards ------------------------------------------------------------------------ */

typedef struct slot_job {
	unsigned slot;
	emu_card *card;
} slot_job;

static void job_insert(reader *r, void *data)
{
	slot_job *sj = data;
	emu_ccid_insert(r->ccid, sj->slot, sj->card);
	g_free(sj);
}

/* Opening a card may take long (vicc:PORT waits for its peer), so it runs
 * in a thread of its own; the firmware keeps answering USB meanwhile and
 * gets the card when it is there.  The thread is not joined: at exit it may
 * still wait for a peer that never comes. */
typedef struct card_open {
	reader *r;
	unsigned slot;
	char *spec;
	emu_control_pending *pending;   /* control `insert`, or NULL at start-up */
} card_open;

typedef struct deferred_answer {
	emu_control_pending *pending;
	char *reply;
} deferred_answer;

static gboolean answer_in_main(gpointer data)
{
	deferred_answer *a = data;
	emu_control_answer(a->pending, a->reply);
	g_free(a);
	return G_SOURCE_REMOVE;
}

static char *open_and_insert(reader *r, unsigned slot, const char *spec)
{
	char *error = NULL;
	emu_card *card = emu_card_open(spec, &error);
	if (!card) {
		char *reply = g_strdup_printf("err %s: %s", spec, error ? error : "cannot open");
		free(error);
		return reply;
	}
	slot_job *sj = g_new0(slot_job, 1);
	sj->slot = slot;
	sj->card = card;
	if (!fw_call(r, job_insert, sj, true)) {
		emu_card_destroy(card);
		g_free(sj);
		return g_strdup("err shutting down");
	}
	return g_strdup_printf("ok slot=%u", slot);
}

static gpointer card_open_thread(gpointer data)
{
	card_open *co = data;
	reader *r = co->r;
	char *reply = open_and_insert(r, co->slot, co->spec);
	if (co->pending) {
		deferred_answer *a = g_new0(deferred_answer, 1);
		a->pending = co->pending;
		a->reply = reply;
		g_idle_add(answer_in_main, a);
	} else {
		if (strncmp(reply, "ok", 2) != 0)
			fprintf(stderr, "onshi-emu: card in slot %u: %s\n", co->slot, reply + 4);
		g_free(reply);
		g_mutex_lock(&r->open_lock);
		r->startup_opening--;
		g_cond_broadcast(&r->open_cond);
		g_mutex_unlock(&r->open_lock);
	}
	g_free(co->spec);
	g_free(co);
	return NULL;
}

static void open_card_async(reader *r, unsigned slot, const char *spec,
			    emu_control_pending *pending)
{
	card_open *co = g_new0(card_open, 1);
	co->r = r;
	co->slot = slot;
	co->spec = g_strdup(spec);
	co->pending = pending;
	g_thread_unref(g_thread_new("emu-card-open", card_open_thread, co));
}

static void job_remove(reader *r, void *data)
{
	slot_job *sj = data;
	emu_ccid_remove(r->ccid, sj->slot);
	g_free(sj);
}

/* ---- plug / unplug ------------------------------------------------------------------ */

static int plug(reader *r, char **error)
{
	unsigned devnum = r->next_devnum;
	if (devnum > 127) {
		*error = g_strdup("no USB device numbers left on this bus (replugged too often)");
		return -1;
	}
	if (emu_sysfs_add(r->tb, r->profile, devnum, &r->sysfs, error) < 0)
		return -1;
	if (emu_usb_plug(r->usb, r->sysfs.devnode, devnum, error) < 0) {
		emu_sysfs_remove(r->tb, &r->sysfs);
		return -1;
	}
	r->next_devnum++;
	clear_abort(r);
	emu_sysfs_announce(r->tb, &r->sysfs);
	return 0;
}

static void job_power_loss(reader *r, void *data)
{
	(void)data;
	emu_ccid_power_loss(r->ccid);
}

static void unplug(reader *r)
{
	emu_usb_unplug(r->usb);          /* pending URBs fail with ENODEV first */
	abort_wait(r);
	/* No bus power, no powered card: after a replug the card needs a new
	 * IccPowerOn and has forgotten every PIN it verified. */
	fw_call(r, job_power_loss, NULL, false);
	emu_sysfs_remove(r->tb, &r->sysfs);
}

/* ---- control commands ---------------------------------------------------------------- */

typedef struct stats_job {
	emu_ccid_stats now;
	bool reset;
} stats_job;

static void job_stats(reader *r, void *data)
{
	stats_job *sj = data;
	emu_ccid_get_stats(r->ccid, &sj->now);
	if (sj->reset)
		r->ccid_base = sj->now;
}

static char *cmd_stats(reader *r, bool reset)
{
	stats_job sj = { .reset = reset };
	fw_call(r, job_stats, &sj, true);
	if (reset) {
		emu_usb_reset_stats(r->usb);
		return g_strdup("ok");
	}
	emu_usb_stats us;
	emu_usb_get_stats(r->usb, &us);
	return g_strdup_printf("ok bulk_out=%lu bulk_in=%lu intr_in=%lu control=%lu apdus=%lu "
			       "time_extensions=%lu",
			       us.bulk_out, us.bulk_in, us.intr_in, us.control,
			       sj.now.apdus - r->ccid_base.apdus,
			       sj.now.time_extensions - r->ccid_base.time_extensions);
}

static char *cmd_insert(reader *r, const emu_cmd *cmd, emu_control_pending *pending)
{
	unsigned slot = cmd->has_slot ? cmd->slot : 0;
	if (slot >= r->profile->nslots)
		return g_strdup_printf("err profile %s has %u slot(s)", r->profile->name,
				       r->profile->nslots);
	const char *spec = cmd->spec ? cmd->spec : r->default_spec[slot];
	if (!spec)
		return g_strdup_printf("err no card spec for slot %u (give one)", slot);
	open_card_async(r, slot, spec, pending);
	return NULL;   /* answered by card_open_thread() */
}

typedef struct fault_job {
	emu_ccid_fault fault;
	unsigned count;
} fault_job;

static void job_fault(reader *r, void *data)
{
	fault_job *fj = data;
	emu_ccid_inject(r->ccid, fj->fault, fj->count);
}

static char *cmd_fault(reader *r, const emu_cmd *cmd)
{
	if (cmd->stall) {
		emu_usb_set_stall(r->usb, true);
		return g_strdup("ok");
	}
	if (cmd->fault == EMU_FAULT_NONE)
		emu_usb_set_stall(r->usb, false);
	fault_job fj = { cmd->fault, cmd->count };
	fw_call(r, job_fault, &fj, true);
	return g_strdup("ok");
}

typedef struct keypad_job {
	const char *keys;
} keypad_job;

static void job_keypad(reader *r, void *data)
{
	keypad_job *kj = data;
	emu_ccid_set_keypad(r->ccid, kj->keys);
}

static char *cmd_keypad(reader *r, const emu_cmd *cmd)
{
	keypad_job kj = { cmd->keypad == EMU_KEYPAD_DIGITS ? cmd->digits :
			  cmd->keypad == EMU_KEYPAD_TIMEOUT ? "" : NULL };
	fw_call(r, job_keypad, &kj, true);
	return g_strdup("ok");
}

typedef struct delay_job {
	unsigned slot, ms;
} delay_job;

static void job_card_delay(reader *r, void *data)
{
	delay_job *dj = data;
	emu_ccid_set_card_delay(r->ccid, dj->slot, dj->ms);
}

static char *cmd_card_delay(reader *r, const emu_cmd *cmd)
{
	delay_job dj = { cmd->has_slot ? cmd->slot : 0, cmd->delay_ms };
	if (dj.slot >= r->profile->nslots)
		return g_strdup_printf("err profile %s has %u slot(s)", r->profile->name,
				       r->profile->nslots);
	fw_call(r, job_card_delay, &dj, true);
	return g_strdup_printf("ok slot=%u delay_ms=%u", dj.slot, dj.ms);
}

static void job_answer_tail(reader *r, void *data)
{
	r->answer_tail_ms = *(unsigned *)data;
}

static gboolean quit_idle(gpointer data)
{
	g_main_loop_quit(((reader *)data)->loop);
	return G_SOURCE_REMOVE;
}

static char *exec_cmd(void *user, const emu_cmd *cmd, emu_control_pending *pending)
{
	reader *r = user;
	char *error = NULL;
	switch (cmd->kind) {
	case EMU_CMD_INSERT:
		return cmd_insert(r, cmd, pending);
	case EMU_CMD_REMOVE: {
		unsigned slot = cmd->has_slot ? cmd->slot : 0;
		if (slot >= r->profile->nslots)
			return g_strdup_printf("err profile %s has %u slot(s)", r->profile->name,
					       r->profile->nslots);
		slot_job *sj = g_new0(slot_job, 1);
		sj->slot = slot;
		fw_call(r, job_remove, sj, true);
		return g_strdup_printf("ok slot=%u", slot);
	}
	case EMU_CMD_UNPLUG:
		if (!emu_usb_plugged(r->usb))
			return g_strdup("err already unplugged");
		unplug(r);
		return g_strdup("ok");
	case EMU_CMD_REPLUG:
		if (emu_usb_plugged(r->usb))
			return g_strdup("err already plugged in");
		if (plug(r, &error) < 0) {
			char *answer = g_strdup_printf("err %s", error);
			g_free(error);
			return answer;
		}
		return g_strdup_printf("ok devnode=%s", r->sysfs.devnode);
	case EMU_CMD_FAULT:
		return cmd_fault(r, cmd);
	case EMU_CMD_KEYPAD:
		return cmd_keypad(r, cmd);
	case EMU_CMD_CARD_DELAY:
		return cmd_card_delay(r, cmd);
	case EMU_CMD_ANSWER_TAIL: {
		unsigned ms = cmd->delay_ms;
		fw_call(r, job_answer_tail, &ms, true);
		return g_strdup_printf("ok answer_tail_ms=%u", ms);
	}
	case EMU_CMD_STATS:
		return cmd_stats(r, false);
	case EMU_CMD_RESET_STATS:
		return cmd_stats(r, true);
	case EMU_CMD_QUIT:
		g_idle_add(quit_idle, r);
		return g_strdup("ok");
	}
	return g_strdup("err unknown command");
}

/* ---- main ------------------------------------------------------------------------------ */

static gboolean on_signal(gpointer data)
{
	g_main_loop_quit(((reader *)data)->loop);
	return G_SOURCE_CONTINUE;
}

static gboolean on_stdin(gint fd, GIOCondition cond, gpointer data)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		g_main_loop_quit(((reader *)data)->loop);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;   /* input is ignored; only its end matters */
}

/* EOF on stdin means "the parent is gone" only for pipes, sockets and ttys;
 * /dev/null or a file would end the emulator at once. */
static bool stdin_signals_parent(void)
{
	struct stat st;
	if (fstat(STDIN_FILENO, &st) < 0)
		return false;
	return S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(STDIN_FILENO);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: onshi-emu --profile NAME (--card SPEC | --no-card) [--card2 SPEC]\n"
		   "                 [--control PATH]\n"
		   "profiles:");
	for (const emu_profile *const *p = emu_profiles; *p; p++)
		fprintf(f, " %s", (*p)->name);
	fprintf(f, "\ncard SPEC: vcard:DIR[,noext] | vicc:PORT | replay:FILE | record:FILE:SPEC\n");
}

typedef struct options {
	const char *profile, *card, *card2, *control;
	bool no_card;
} options;

static int parse_options(int argc, char **argv, options *o)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "card", required_argument, NULL, 'c' },
		{ "card2", required_argument, NULL, '2' },
		{ "control", required_argument, NULL, 's' },
		{ "no-card", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	memset(o, 0, sizeof(*o));
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'p': o->profile = optarg; break;
		case 'c': o->card = optarg; break;
		case '2': o->card2 = optarg; break;
		case 's': o->control = optarg; break;
		case 'n': o->no_card = true; break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (optind != argc || !o->profile) {
		fprintf(stderr, "onshi-emu: %s\n", optind != argc ? "unexpected argument" :
			"--profile is required");
		return -1;
	}
	if (!o->card && !o->no_card) {
		fprintf(stderr, "onshi-emu: give --card SPEC or --no-card\n");
		return -1;
	}
	return 0;
}

/* Start-up cards: the device is plugged in once they are open, or after
 * STARTUP_CARD_WAIT_MS (a vicc card waits for a peer that may only start
 * once the reader is visible; it is inserted when it connects). */
#define STARTUP_CARD_WAIT_MS 1000

static void start_cards(reader *r, const options *o)
{
	if (o->no_card)
		return;
	const char *specs[EMU_MAX_SLOTS] = { o->card, o->card2 };
	for (unsigned s = 0; s < EMU_MAX_SLOTS && s < r->profile->nslots; s++) {
		if (!specs[s])
			continue;
		g_mutex_lock(&r->open_lock);
		r->startup_opening++;
		g_mutex_unlock(&r->open_lock);
		open_card_async(r, s, specs[s], NULL);
	}
	gint64 end = g_get_monotonic_time() + STARTUP_CARD_WAIT_MS * G_TIME_SPAN_MILLISECOND;
	g_mutex_lock(&r->open_lock);
	while (r->startup_opening > 0 && g_cond_wait_until(&r->open_cond, &r->open_lock, end))
		;
	g_mutex_unlock(&r->open_lock);
}

static void reader_stop_firmware(reader *r)
{
	abort_wait(r);
	g_mutex_lock(&r->jobs_lock);
	r->fw_quit = true;
	g_cond_broadcast(&r->jobs_cond);
	g_mutex_unlock(&r->jobs_lock);
	g_thread_join(r->fw);
	job *j;
	while ((j = g_queue_pop_head(&r->jobs)))
		g_free(j);     /* never queued with wait after the loop ended */
}

/* umockdev's library checks parent devices and builds uevents through plain
 * file access and libudev, which see the testbed only from inside the
 * preload: run this process under it too (as umockdev-wrapper would). */
#define PRELOAD_LIB "libumockdev-preload.so.0"

static void reexec_under_preload(char **argv)
{
	const char *pre = getenv("LD_PRELOAD");
	if (pre && strstr(pre, "libumockdev-preload"))
		return;
	char *value = pre && *pre ? g_strdup_printf("%s:%s", PRELOAD_LIB, pre) : g_strdup(PRELOAD_LIB);
	setenv("LD_PRELOAD", value, 1);
	g_free(value);
	/* Under ASan the preload comes before the sanitizer runtime. */
	const char *asan = getenv("ASAN_OPTIONS");
	char *asan_opts = asan && *asan ? g_strdup_printf("%s:verify_asan_link_order=0", asan)
					: g_strdup("verify_asan_link_order=0");
	setenv("ASAN_OPTIONS", asan_opts, 1);
	g_free(asan_opts);
	execv("/proc/self/exe", argv);
	fprintf(stderr, "onshi-emu: cannot re-execute under %s: %s\n", PRELOAD_LIB, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	options o;
	reexec_under_preload(argv);
	if (parse_options(argc, argv, &o) < 0) {
		usage(stderr);
		return 2;
	}
	/* Static: card-opening threads may outlive main()'s cleanup. */
	static reader r;
	r.profile = emu_profile_find(o.profile);
	if (!r.profile) {
		fprintf(stderr, "onshi-emu: unknown profile %s\n", o.profile);
		usage(stderr);
		return 2;
	}
	if (o.card2 && r.profile->nslots < 2) {
		fprintf(stderr, "onshi-emu: profile %s has one slot; --card2 needs two\n", o.profile);
		return 2;
	}
	r.default_spec[0] = g_strdup(o.card);
	r.default_spec[1] = g_strdup(o.card2);
	r.next_devnum = FIRST_DEVNUM;
	signal(SIGPIPE, SIG_IGN);

	g_mutex_init(&r.jobs_lock);
	g_cond_init(&r.jobs_cond);
	g_mutex_init(&r.wait_lock);
	g_cond_init(&r.wait_cond);
	g_mutex_init(&r.open_lock);
	g_cond_init(&r.open_cond);
	g_queue_init(&r.jobs);
	r.loop = g_main_loop_new(NULL, FALSE);
	r.tb = umockdev_testbed_new();

	static const emu_usb_sink sink_ops = { NULL, sink_bulk_out, sink_class_request, sink_abort };
	emu_usb_sink sink = sink_ops;
	sink.user = &r;
	r.usb = emu_usb_new(r.tb, r.profile, &sink);
	emu_ccid_env env = { &r, env_bulk_in, env_interrupt_in, env_wait_ms, env_card_out };
	r.ccid = emu_ccid_new(r.profile, &env);
	int status = 1;
	emu_control *ctl = NULL;
	char *error = NULL;
	if (!r.ccid) {
		fprintf(stderr, "onshi-emu: cannot create the reader firmware\n");
		goto out_usb;
	}
	r.fw = g_thread_new("emu-firmware", fw_main, &r);
	start_cards(&r, &o);

	if (o.control && !(ctl = emu_control_start(o.control, exec_cmd, &r, &error)))
		goto fail;
	if (plug(&r, &error) < 0)
		goto fail;

	g_unix_signal_add(SIGTERM, on_signal, &r);
	g_unix_signal_add(SIGINT, on_signal, &r);
	if (stdin_signals_parent())
		g_unix_fd_add(STDIN_FILENO, G_IO_IN | G_IO_HUP | G_IO_ERR, on_stdin, &r);

	char *root = umockdev_testbed_get_root_dir(r.tb);
	printf("UMOCKDEV_DIR=%s\nREADY\n", root);
	fflush(stdout);
	g_free(root);
	g_main_loop_run(r.loop);
	status = 0;
	if (emu_usb_plugged(r.usb))
		unplug(&r);
	goto out;

fail:
	fprintf(stderr, "onshi-emu: %s\n", error);
	g_free(error);
out:
	emu_control_stop(ctl);
	reader_stop_firmware(&r);
	emu_ccid_take_out_cards(r.ccid);
	if (r.replay_failures > 0) {
		/* The replay lines above say where; the exit status says that. */
		fprintf(stderr, "onshi-emu: %u replay card(s) deviated from their transcript\n",
			r.replay_failures);
		if (status == 0)
			status = EMU_EXIT_REPLAY_FAILED;
	}
	emu_ccid_free(r.ccid);
out_usb:
	emu_usb_free(r.usb);
	g_object_unref(r.tb);        /* removes the testbed directory */
	g_main_loop_unref(r.loop);
	g_free(r.default_spec[0]);
	g_free(r.default_spec[1]);
	return status;
}

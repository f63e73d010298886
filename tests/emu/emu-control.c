/* emu-control.c — control protocol parser and unix-socket line server. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <glib.h>
#include <glib-unix.h>
#include "emu-control.h"

/* ---- parser ----------------------------------------------------------------- */

static const struct {
	const char *name;
	bool stall;
	emu_ccid_fault fault;
} fault_names[] = {
	{ "stall", true, EMU_FAULT_NONE },
	{ "short-frame", false, EMU_FAULT_SHORT_FRAME },
	{ "wrong-seq", false, EMU_FAULT_WRONG_SEQ },
	{ "oversized-length", false, EMU_FAULT_OVERSIZED_LENGTH },
	{ "endless-time-extension", false, EMU_FAULT_ENDLESS_TIME_EXTENSION },
	{ "bad-slot", false, EMU_FAULT_BAD_SLOT },
	{ "t1-garbage", false, EMU_FAULT_T1_GARBAGE },
	{ "hardware-error", false, EMU_FAULT_HARDWARE_ERROR },
	{ "mute", false, EMU_FAULT_MUTE },
	{ "none", false, EMU_FAULT_NONE },
};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A decimal number in [lo, hi]. */
static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
	if (!all_digits(s) || strlen(s) > 9)
		return false;
	unsigned long v = strtoul(s, NULL, 10);
	if (v < lo || v > hi)
		return false;
	*out = (unsigned)v;
	return true;
}

static int fail(char **error, const char *msg)
{
	*error = g_strdup(msg);
	return -1;
}

static int parse_slot(char **tok, unsigned *i, emu_cmd *out, char **error)
{
	if (tok[*i] && all_digits(tok[*i])) {
		if (!parse_uint(tok[*i], 0, EMU_MAX_SLOTS - 1, &out->slot))
			return fail(error, "slot out of range");
		out->has_slot = true;
		(*i)++;
	}
	return 0;
}

static int parse_fault(char **tok, emu_cmd *out, char **error)
{
	if (!tok[1])
		return fail(error, "usage: fault NAME [COUNT]");
	size_t i;
	for (i = 0; i < G_N_ELEMENTS(fault_names); i++)
		if (strcmp(tok[1], fault_names[i].name) == 0)
			break;
	if (i == G_N_ELEMENTS(fault_names))
		return fail(error, "unknown fault (stall, short-frame, wrong-seq, oversized-length, "
			    "endless-time-extension, bad-slot, t1-garbage, hardware-error, mute, none)");
	out->stall = fault_names[i].stall;
	out->fault = fault_names[i].fault;
	out->count = 1;
	if (tok[2] && !parse_uint(tok[2], 1, EMU_FAULT_COUNT_MAX, &out->count))
		return fail(error, "fault COUNT must be 1..1000000");
	return tok[2] && tok[3] ? fail(error, "usage: fault NAME [COUNT]") : 0;
}

/* Digits, with ',' (the OK key) between the entries of a PIN change. */
static bool keypad_keys(const char *s)
{
	if (!*s || *s == ',')
		return false;
	for (; *s; s++)
		if ((*s < '0' || *s > '9') && *s != ',')
			return false;
	return true;
}

static int parse_keypad(char **tok, emu_cmd *out, char **error)
{
	if (!tok[1] || tok[2])
		return fail(error, "usage: keypad DIGITS|cancel|timeout");
	if (strcmp(tok[1], "cancel") == 0) {
		out->keypad = EMU_KEYPAD_CANCEL;
	} else if (strcmp(tok[1], "timeout") == 0) {
		out->keypad = EMU_KEYPAD_TIMEOUT;
	} else {
		if (!keypad_keys(tok[1]) || strlen(tok[1]) > EMU_KEYPAD_MAX)
			return fail(error, "keypad takes up to 64 digits and ',' (OK), cancel or timeout");
		out->keypad = EMU_KEYPAD_DIGITS;
		g_strlcpy(out->digits, tok[1], sizeof(out->digits));
	}
	return 0;
}

static const struct {
	const char *name;
	emu_cmd_kind kind;
} plain_cmds[] = {
	{ "unplug", EMU_CMD_UNPLUG }, { "replug", EMU_CMD_REPLUG }, { "stats", EMU_CMD_STATS },
	{ "reset-stats", EMU_CMD_RESET_STATS }, { "quit", EMU_CMD_QUIT },
};

static int parse_tokens(char **tok, emu_cmd *out, char **error)
{
	unsigned i = 1;
	if (!tok[0])
		return fail(error, "empty command");
	if (strcmp(tok[0], "insert") == 0) {
		out->kind = EMU_CMD_INSERT;
		if (parse_slot(tok, &i, out, error) < 0)
			return -1;
		if (tok[i])
			out->spec = g_strdup(tok[i++]);
		return tok[i] ? fail(error, "usage: insert [SLOT] [SPEC]") : 0;
	}
	if (strcmp(tok[0], "remove") == 0) {
		out->kind = EMU_CMD_REMOVE;
		if (parse_slot(tok, &i, out, error) < 0)
			return -1;
		return tok[i] ? fail(error, "usage: remove [SLOT]") : 0;
	}
	if (strcmp(tok[0], "card-delay") == 0) {
		out->kind = EMU_CMD_CARD_DELAY;
		if (tok[1] && tok[2] && parse_slot(tok, &i, out, error) < 0)
			return -1;
		if (!tok[i] || tok[i + 1] ||
		    !parse_uint(tok[i], 0, EMU_CARD_DELAY_MAX_MS, &out->delay_ms))
			return fail(error, "usage: card-delay [SLOT] MS (0..600000)");
		return 0;
	}
	if (strcmp(tok[0], "answer-tail") == 0) {
		out->kind = EMU_CMD_ANSWER_TAIL;
		if (!tok[1] || tok[2] || !parse_uint(tok[1], 0, EMU_ANSWER_TAIL_MAX_MS, &out->delay_ms))
			return fail(error, "usage: answer-tail MS (0..10000)");
		return 0;
	}
	if (strcmp(tok[0], "fault") == 0) {
		out->kind = EMU_CMD_FAULT;
		return parse_fault(tok, out, error);
	}
	if (strcmp(tok[0], "keypad") == 0) {
		out->kind = EMU_CMD_KEYPAD;
		return parse_keypad(tok, out, error);
	}
	for (size_t k = 0; k < G_N_ELEMENTS(plain_cmds); k++) {
		if (strcmp(tok[0], plain_cmds[k].name) == 0) {
			out->kind = plain_cmds[k].kind;
			return tok[1] ? fail(error, "this command takes no arguments") : 0;
		}
	}
	return fail(error, "unknown command (insert, remove, unplug, replug, fault, keypad, "
		    "card-delay, answer-tail, stats, reset-stats, quit)");
}

int emu_cmd_parse(const char *line, emu_cmd *out, char **error)
{
	memset(out, 0, sizeof(*out));
	if (strlen(line) >= EMU_CMD_LINE_MAX)
		return fail(error, "line too long");
	/* Tokens may hold keypad digits: wipe them before freeing. */
	char **raw = g_strsplit_set(line, " \t\r", -1);
	GPtrArray *tok = g_ptr_array_new();
	for (char **t = raw; *t; t++)
		if (**t)
			g_ptr_array_add(tok, *t);
	g_ptr_array_add(tok, NULL);
	int r = parse_tokens((char **)tok->pdata, out, error);
	for (char **t = raw; *t; t++)
		explicit_bzero(*t, strlen(*t));
	g_strfreev(raw);
	g_ptr_array_free(tok, TRUE);
	if (r < 0)
		emu_cmd_clear(out);
	return r;
}

void emu_cmd_clear(emu_cmd *cmd)
{
	g_free(cmd->spec);
	cmd->spec = NULL;
	explicit_bzero(cmd->digits, sizeof(cmd->digits));
}

/* ---- server ----------------------------------------------------------------- */

typedef struct conn {
	emu_control *ctl;
	int fd;
	guint watch;
	emu_control_pending *pending;   /* a reply still owed: later lines wait */
	char buf[EMU_CMD_LINE_MAX];
	size_t len;
} conn;

struct emu_control_pending {
	conn *c;                        /* NULL once the client has gone */
};

struct emu_control {
	char *path;
	int listen_fd;
	guint watch;
	GList *conns;
	emu_control_exec exec;
	void *user;
};

static void conn_close(conn *c)
{
	if (c->pending)
		c->pending->c = NULL;
	c->ctl->conns = g_list_remove(c->ctl->conns, c);
	if (c->watch)
		g_source_remove(c->watch);
	close(c->fd);
	explicit_bzero(c->buf, sizeof(c->buf));
	g_free(c);
}

static void send_line(int fd, const char *s)
{
	char *msg = g_strconcat(s, "\n", NULL);
	size_t n = strlen(msg), off = 0;
	while (off < n) {
		ssize_t w = send(fd, msg + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;      /* the peer left; its read side will notice */
		off += (size_t)w;
	}
	g_free(msg);
}

static void run_line(conn *c, char *line)
{
	emu_cmd cmd;
	char *error = NULL, *answer;
	if (emu_cmd_parse(line, &cmd, &error) < 0) {
		answer = g_strdup_printf("err %s", error);
		g_free(error);
	} else {
		emu_control_pending *p = g_new0(emu_control_pending, 1);
		p->c = c;
		answer = c->ctl->exec(c->ctl->user, &cmd, p);
		emu_cmd_clear(&cmd);
		if (!answer) {
			c->pending = p;
			return;
		}
		g_free(p);
	}
	send_line(c->fd, answer);
	g_free(answer);
}

/* Returns false when the connection must close. */
static bool take_lines(conn *c)
{
	char *nl;
	while (!c->pending && (nl = memchr(c->buf, '\n', c->len))) {
		*nl = '\0';
		size_t used = (size_t)(nl - c->buf) + 1;
		run_line(c, c->buf);
		explicit_bzero(c->buf, used);
		memmove(c->buf, c->buf + used, c->len - used);
		c->len -= used;
	}
	if (!c->pending && c->len == sizeof(c->buf)) {
		send_line(c->fd, "err line too long");
		return false;
	}
	return true;
}

static gboolean on_conn(gint fd, GIOCondition cond, gpointer data);

void emu_control_answer(emu_control_pending *p, char *reply)
{
	conn *c = p->c;
	g_free(p);
	if (!c) {
		g_free(reply);
		return;
	}
	c->pending = NULL;
	send_line(c->fd, reply);
	g_free(reply);
	if (!take_lines(c))
		conn_close(c);
	else if (!c->watch)
		c->watch = g_unix_fd_add(c->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_conn, c);
}

static gboolean on_conn(gint fd, GIOCondition cond, gpointer data)
{
	conn *c = data;
	if (c->len == sizeof(c->buf)) {
		/* Full while a deferred reply is owed: stop watching until it is
		 * sent (emu_control_answer() watches again). */
		c->watch = 0;
		return G_SOURCE_REMOVE;
	}
	ssize_t n = recv(fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return G_SOURCE_CONTINUE;
	if (n <= 0) {
		c->watch = 0;
		conn_close(c);
		return G_SOURCE_REMOVE;
	}
	c->len += (size_t)n;
	if (!take_lines(c)) {
		c->watch = 0;
		conn_close(c);
		return G_SOURCE_REMOVE;
	}
	return G_SOURCE_CONTINUE;
}

static gboolean on_accept(gint fd, GIOCondition cond, gpointer data)
{
	emu_control *ctl = data;
	int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
	if (cfd < 0)
		return G_SOURCE_CONTINUE;
	conn *c = g_new0(conn, 1);
	c->ctl = ctl;
	c->fd = cfd;
	c->watch = g_unix_fd_add(cfd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_conn, c);
	ctl->conns = g_list_prepend(ctl->conns, c);
	return G_SOURCE_CONTINUE;
}

emu_control *emu_control_start(const char *path, emu_control_exec exec, void *user,
			       char **error)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		*error = g_strdup_printf("control socket path longer than %zu bytes: %s",
					 sizeof(sa.sun_path) - 1, path);
		return NULL;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || (unlink(path) < 0 && errno != ENOENT) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0) {
		*error = g_strdup_printf("control socket %s: %s", path, g_strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	emu_control *ctl = g_new0(emu_control, 1);
	ctl->path = g_strdup(path);
	ctl->listen_fd = fd;
	ctl->exec = exec;
	ctl->user = user;
	ctl->watch = g_unix_fd_add(fd, G_IO_IN, on_accept, ctl);
	return ctl;
}

void emu_control_stop(emu_control *ctl)
{
	if (!ctl)
		return;
	while (ctl->conns)
		conn_close(ctl->conns->data);
	g_source_remove(ctl->watch);
	close(ctl->listen_fd);
	unlink(ctl->path);
	g_free(ctl->path);
	g_free(ctl);
}

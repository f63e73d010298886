/* test-emu-control.c — the emulator's control protocol: parsing and the
 * line server, driven without an emulator. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <check.h>
#include <glib.h>
#include "emu-control.h"

static emu_cmd parse_ok(const char *line)
{
	emu_cmd c;
	char *err = NULL;
	int r = emu_cmd_parse(line, &c, &err);
	ck_assert_msg(r == 0, "%s: %s", line, err ? err : "?");
	return c;
}

static char *parse_err(const char *line)
{
	emu_cmd c;
	char *err = NULL;
	ck_assert_int_eq(emu_cmd_parse(line, &c, &err), -1);
	ck_assert_ptr_nonnull(err);
	return err;
}

START_TEST(insert_slot_and_spec)
{
	emu_cmd c = parse_ok("insert");
	ck_assert_int_eq(c.kind, EMU_CMD_INSERT);
	ck_assert(!c.has_slot);
	ck_assert_ptr_null(c.spec);

	c = parse_ok("insert 1 vcard:/tmp/x,noext");
	ck_assert(c.has_slot);
	ck_assert_uint_eq(c.slot, 1);
	ck_assert_str_eq(c.spec, "vcard:/tmp/x,noext");
	emu_cmd_clear(&c);

	c = parse_ok("insert vicc:35963\r");
	ck_assert(!c.has_slot);
	ck_assert_str_eq(c.spec, "vicc:35963");
	emu_cmd_clear(&c);

	g_free(parse_err("insert 2"));      /* EMU_MAX_SLOTS is 2: slots 0 and 1 */
	g_free(parse_err("insert 0 a b"));
}
END_TEST

START_TEST(plain_commands)
{
	static const struct { const char *line; emu_cmd_kind kind; } cases[] = {
		{ "remove", EMU_CMD_REMOVE }, { "unplug", EMU_CMD_UNPLUG },
		{ "replug", EMU_CMD_REPLUG }, { "stats", EMU_CMD_STATS },
		{ "reset-stats", EMU_CMD_RESET_STATS }, { "  quit  ", EMU_CMD_QUIT },
	};
	for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
		emu_cmd c = parse_ok(cases[i].line);
		ck_assert_int_eq(c.kind, cases[i].kind);
	}
	emu_cmd c = parse_ok("remove 1");
	ck_assert(c.has_slot);
	ck_assert_uint_eq(c.slot, 1);
	g_free(parse_err("stats now"));
	g_free(parse_err("frobnicate"));
	g_free(parse_err(""));
}
END_TEST

START_TEST(faults)
{
	emu_cmd c = parse_ok("fault stall");
	ck_assert(c.stall);
	c = parse_ok("fault wrong-seq 3");
	ck_assert(!c.stall);
	ck_assert_int_eq(c.fault, EMU_FAULT_WRONG_SEQ);
	ck_assert_uint_eq(c.count, 3);
	c = parse_ok("fault endless-time-extension");
	ck_assert_int_eq(c.fault, EMU_FAULT_ENDLESS_TIME_EXTENSION);
	ck_assert_uint_eq(c.count, 1);
	c = parse_ok("fault none");
	ck_assert_int_eq(c.fault, EMU_FAULT_NONE);
	ck_assert(!c.stall);
	g_free(parse_err("fault"));
	g_free(parse_err("fault lightning"));
	g_free(parse_err("fault mute 0"));
	g_free(parse_err("fault mute 1000001"));
	g_free(parse_err("fault mute -1"));
	g_free(parse_err("fault mute 2 3"));
}
END_TEST

START_TEST(card_delay)
{
	emu_cmd c = parse_ok("card-delay 250");
	ck_assert_int_eq(c.kind, EMU_CMD_CARD_DELAY);
	ck_assert(!c.has_slot);
	ck_assert_uint_eq(c.delay_ms, 250);
	c = parse_ok("card-delay 1 0");
	ck_assert(c.has_slot);
	ck_assert_uint_eq(c.slot, 1);
	ck_assert_uint_eq(c.delay_ms, 0);
	g_free(parse_err("card-delay"));
	g_free(parse_err("card-delay 600001"));
	g_free(parse_err("card-delay 2 100"));
	g_free(parse_err("card-delay 0 100 7"));
	g_free(parse_err("card-delay fast"));
}
END_TEST

START_TEST(answer_tail)
{
	emu_cmd c = parse_ok("answer-tail 30");
	ck_assert_int_eq(c.kind, EMU_CMD_ANSWER_TAIL);
	ck_assert_uint_eq(c.delay_ms, 30);
	c = parse_ok("answer-tail 0");
	ck_assert_uint_eq(c.delay_ms, 0);
	g_free(parse_err("answer-tail"));
	g_free(parse_err("answer-tail 10001"));
	g_free(parse_err("answer-tail 0 5"));
	g_free(parse_err("answer-tail -1"));
}
END_TEST

START_TEST(keypad_never_echoes_digits)
{
	emu_cmd c = parse_ok("keypad 123456");
	ck_assert_int_eq(c.keypad, EMU_KEYPAD_DIGITS);
	ck_assert_str_eq(c.digits, "123456");
	emu_cmd_clear(&c);
	ck_assert_str_eq(c.digits, "");
	c = parse_ok("keypad cancel");
	ck_assert_int_eq(c.keypad, EMU_KEYPAD_CANCEL);
	c = parse_ok("keypad timeout");
	ck_assert_int_eq(c.keypad, EMU_KEYPAD_TIMEOUT);
	char *err = parse_err("keypad 12a4");
	ck_assert_ptr_null(strstr(err, "12a4"));
	g_free(err);
	c = parse_ok("keypad 1234,5678,5678");
	ck_assert_str_eq(c.digits, "1234,5678,5678");
	emu_cmd_clear(&c);
	char many[80];
	memset(many, '1', sizeof(many) - 1);
	many[sizeof(many) - 1] = '\0';
	char line[100];
	snprintf(line, sizeof(line), "keypad %s", many);   /* 79 keys */
	g_free(parse_err(line));
	g_free(parse_err("keypad ,1234"));
}
END_TEST

/* ---- the server ---------------------------------------------------------------- */

static int calls;
static emu_control_pending *owed;     /* `insert` answers later */

static char *fake_exec(void *user, const emu_cmd *cmd, emu_control_pending *pending)
{
	calls++;
	if (cmd->kind == EMU_CMD_INSERT) {
		owed = pending;
		return NULL;
	}
	if (cmd->kind == EMU_CMD_STATS)
		return g_strdup("ok bulk_out=1");
	return g_strdup_printf("ok kind=%d", (int)cmd->kind);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Run the main context until `fd` has delivered `n` lines or `ms` passed. */
static char *collect(int fd, int n, int ms)
{
	GString *got = g_string_new(NULL);
	gint64 end = g_get_monotonic_time() + ms * G_TIME_SPAN_MILLISECOND;
	int seen = 0;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (seen < n && g_get_monotonic_time() < end) {
		g_main_context_iteration(NULL, FALSE);
		char c;
		while (read(fd, &c, 1) == 1) {
			g_string_append_c(got, c);
			seen += c == '\n';
		}
		g_usleep(1000);
	}
	return g_string_free(got, FALSE);
}

static char *converse(const char *path, const char *lines, int nreplies)
{
	int fd = connect_to(path);
	ck_assert_int_eq(write(fd, lines, strlen(lines)), (ssize_t)strlen(lines));
	char *out = collect(fd, nreplies, 5000);
	close(fd);
	return out;
}

START_TEST(server_answers_each_line_in_order)
{
	char path[108];
	snprintf(path, sizeof(path), "%s/emu-ctl-%d.sock", g_get_tmp_dir(), (int)getpid());
	calls = 0;
	char *err = NULL;
	emu_control *ctl = emu_control_start(path, fake_exec, NULL, &err);
	ck_assert_msg(ctl != NULL, "%s", err ? err : "?");

	char *out = converse(path, "stats\nbogus\nfault mute 2\n", 3);
	ck_assert_str_eq(out, "ok bulk_out=1\nerr unknown command (insert, remove, unplug, replug, "
			      "fault, keypad, card-delay, answer-tail, stats, reset-stats, quit)\n"
			      "ok kind=4\n");
	ck_assert_int_eq(calls, 2);     /* the bad line never reached exec */
	g_free(out);

	/* A line that never ends is refused and the connection closed. */
	char *flood = g_malloc(EMU_CMD_LINE_MAX + 1);
	memset(flood, 'x', EMU_CMD_LINE_MAX);
	flood[EMU_CMD_LINE_MAX] = '\0';
	out = converse(path, flood, 1);
	ck_assert_str_eq(out, "err line too long\n");
	g_free(out);
	g_free(flood);

	emu_control_stop(ctl);
	ck_assert_int_eq(access(path, F_OK), -1);
}
END_TEST

START_TEST(deferred_reply_holds_later_lines_of_that_client_only)
{
	char path[108];
	snprintf(path, sizeof(path), "%s/emu-ctl-d-%d.sock", g_get_tmp_dir(), (int)getpid());
	calls = 0;
	owed = NULL;
	char *err = NULL;
	emu_control *ctl = emu_control_start(path, fake_exec, NULL, &err);
	ck_assert_msg(ctl != NULL, "%s", err ? err : "?");

	int a = connect_to(path);
	ck_assert_int_eq(write(a, "insert\nstats\n", 13), 13);
	char *out = collect(a, 1, 300);
	ck_assert_str_eq(out, "");           /* insert not answered: stats waits */
	ck_assert_ptr_nonnull(owed);
	ck_assert_int_eq(calls, 1);
	g_free(out);

	int b = connect_to(path);            /* another client is served meanwhile */
	ck_assert_int_eq(write(b, "quit\n", 5), 5);
	out = collect(b, 1, 5000);
	ck_assert_str_eq(out, "ok kind=8\n");
	g_free(out);
	close(b);

	emu_control_answer(owed, g_strdup("ok slot=0"));
	out = collect(a, 2, 5000);
	ck_assert_str_eq(out, "ok slot=0\nok bulk_out=1\n");
	g_free(out);

	/* A client that leaves before its answer: the answer is dropped. */
	ck_assert_int_eq(write(a, "insert 1\n", 9), 9);
	out = collect(a, 1, 300);
	g_free(out);
	close(a);
	for (int i = 0; i < 50; i++) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(1000);
	}
	emu_control_answer(owed, g_strdup("ok slot=1"));
	emu_control_stop(ctl);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("emu-control");
	TCase *tc = tcase_create("protocol");
	tcase_add_test(tc, insert_slot_and_spec);
	tcase_add_test(tc, plain_commands);
	tcase_add_test(tc, faults);
	tcase_add_test(tc, card_delay);
	tcase_add_test(tc, answer_tail);
	tcase_add_test(tc, keypad_never_echoes_digits);
	tcase_add_test(tc, server_answers_each_line_in_order);
	tcase_add_test(tc, deferred_reply_holds_later_lines_of_that_client_only);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}

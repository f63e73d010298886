/* emu-control.h — the emulator's control protocol: one command per line on
 * a unix stream socket, one reply line per command, "ok[ key=value...]" or
 * "err <message>".
 *
 * Contract: emu_cmd_parse() is pure (Check tests drive it); the server runs
 * on the GLib main context of the thread that starts it and calls `exec`
 * there, one command at a time, in the order received.
 *
 *   insert [SLOT] [SPEC]   put a card in SLOT (default 0); SPEC defaults to
 *                          the --card/--card2 spec of that slot
 *   remove [SLOT]          take the card out
 *   unplug | replug        USB cable out / in (replug gets a new devnum)
 *   fault NAME [COUNT]     stall, short-frame, wrong-seq, oversized-length,
 *                          endless-time-extension, bad-slot, t1-garbage,
 *                          hardware-error, mute, none (COUNT default 1)
 *   card-delay [SLOT] MS   every APDU to that card takes MS ms (0: none)
 *   keypad DIGITS|cancel|timeout   what the user types at the next PIN entry;
 *                          a PIN change takes several entries joined by
 *                          ',' (the OK key): "1234,5678,5678"
 *   stats | reset-stats | quit
 */
#ifndef ONSHI_EMU_CONTROL_H
#define ONSHI_EMU_CONTROL_H

#include <stdbool.h>
#include "emu-ccid.h"

#define EMU_CMD_LINE_MAX   4096
#define EMU_KEYPAD_MAX     64     /* keys the simulated user may type */
#define EMU_FAULT_COUNT_MAX 1000000u
#define EMU_CARD_DELAY_MAX_MS 600000u
#define EMU_ANSWER_TAIL_MAX_MS 10000u

typedef enum emu_cmd_kind {
	EMU_CMD_INSERT, EMU_CMD_REMOVE, EMU_CMD_UNPLUG, EMU_CMD_REPLUG, EMU_CMD_FAULT,
	EMU_CMD_KEYPAD, EMU_CMD_STATS, EMU_CMD_RESET_STATS, EMU_CMD_QUIT, EMU_CMD_CARD_DELAY,
	EMU_CMD_ANSWER_TAIL,
} emu_cmd_kind;

typedef enum emu_keypad_kind { EMU_KEYPAD_DIGITS, EMU_KEYPAD_CANCEL, EMU_KEYPAD_TIMEOUT } emu_keypad_kind;

typedef struct emu_cmd {
	emu_cmd_kind kind;
	bool has_slot;
	unsigned slot;
	char *spec;                /* insert: NULL = the slot's default spec */
	bool stall;                /* fault stall: a USB-level fault, not a frame fault */
	emu_ccid_fault fault;
	unsigned count;
	unsigned delay_ms;         /* card-delay, answer-tail */
	emu_keypad_kind keypad;
	char digits[EMU_KEYPAD_MAX + 1]; /* PINs: wiped by emu_cmd_clear() */
} emu_cmd;

/* 0, or -1 with *error set (g_free it).  Never echoes keypad digits. */
int emu_cmd_parse(const char *line, emu_cmd *out, char **error);
void emu_cmd_clear(emu_cmd *cmd);

typedef struct emu_control emu_control;
typedef struct emu_control_pending emu_control_pending;
/* Run one command; returns the reply line without newline (the server
 * g_free()s it).  The reply is written before the main loop runs again, so
 * `quit` may simply schedule the loop's end.  A command that takes long
 * (opening a vicc card waits for its peer) returns NULL instead and answers
 * later with emu_control_answer(pending, ...); that connection's next
 * commands wait for it, other connections are served meanwhile. */
typedef char *(*emu_control_exec)(void *user, const emu_cmd *cmd,
				  emu_control_pending *pending);

/* Main context only.  Sends the deferred reply (dropped if the client has
 * gone), frees `pending` and takes `reply`. */
void emu_control_answer(emu_control_pending *pending, char *reply);

emu_control *emu_control_start(const char *path, emu_control_exec exec, void *user,
			       char **error);
/* Closes every connection and unlinks the socket. */
void emu_control_stop(emu_control *ctl);

#endif

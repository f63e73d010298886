/* onshictl — command-line client of onshid (org.onshi.Onshi1 on the system
 * bus), with a terminal PIN agent.  See doc/onshictl.md. */
#include <stdio.h>

#include "ctl-args.h"
#include "ctl-cmd.h"
#include "secret.h"

static const char usage[] =
	"Usage: onshictl [OPTIONS] COMMAND [ARGS]\n"
	"\n"
	"Commands:\n"
	"  readers                       list readers (name, card, type, contactless, PIN pad)\n"
	"  status                        onshid version, readers, cards and PIN tries left\n"
	"  wait-card                     wait until a reader has a card (--timeout SEC limits)\n"
	"  cert [auth|auth-ca|sign-ca|sign] [--der|--pem] [--out FILE]\n"
	"                                show a certificate or write it (DER or PEM)\n"
	"  pin-status                    tries left for each PIN\n"
	"  auth [--pin] [--challenge HEX|--challenge-file FILE] [--allow-last-try]\n"
	"                                sign a challenge with the authentication key after\n"
	"                                asking for the PIN here (terminal, or one line of stdin)\n"
	"  sign --key auth|sign [--hash sha256|sha384|sha512] (--digest HEX|--data-file FILE)\n"
	"       [--out FILE]             sign a digest (computed here from --data-file)\n"
	"  agent [--default]             serve PIN requests from this terminal until Ctrl-C\n"
	"\n"
	"Options:\n"
	"  --system                      the system bus (default; DBUS_SYSTEM_BUS_ADDRESS is honoured)\n"
	"  --address ADDR                another bus, e.g. unix:path=/run/test/bus\n"
	"  --reader N|PATH               reader number or object path (default: first with a card)\n"
	"  --json                        one JSON object on stdout\n"
	"  --timeout SEC                 method timeout (default 300); for wait-card, the wait limit\n"
	"  -h, --help, --version\n"
	"\n"
	"Exit status: 0 ok, 1 failure, 2 usage/InvalidArgs, 3 no bus or onshid, 4 NoCard,\n"
	"5 UnsupportedCard, 6 PinIncorrect, 7 PinBlocked, 8 LastTryRefused, 9 Cancelled,\n"
	"10 NoAgent/AgentFailed, 11 NotAuthorized, 12 CardRemoved, 13 Busy, 14 ReaderError,\n"
	"15 Timeout.\n";

int main(int argc, char **argv)
{
	struct ctl_args args;
	char err[256];

	/* A PIN passes through this process: no core dumps, no ptrace. */
	secret_harden_process();
	if (ctl_parse_args(argc, argv, &args, err, sizeof(err)) < 0) {
		fprintf(stderr, "onshictl: %s\n", err);
		return CTL_EXIT_USAGE;
	}
	if (args.verb == CTL_VERB_HELP) {
		fputs(usage, stdout);
		return CTL_EXIT_OK;
	}
	if (args.verb == CTL_VERB_VERSION) {
		printf("onshictl %s\n", PACKAGE_VERSION);
		return CTL_EXIT_OK;
	}
	return ctl_run(&args);
}

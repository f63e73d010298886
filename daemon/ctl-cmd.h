/* ctl-cmd.h — onshictl's verbs over D-Bus (see doc/onshictl.md).
 *
 * Contract: ctl_run() connects to the bus the arguments name, runs the verb,
 * prints its result on stdout (human or one JSON object) and errors on
 * stderr as "ShortName: message" (with --json, also an {"error": ...}
 * object on stdout), and returns the process exit code (enum ctl_exit).
 */
#ifndef ONSHI_CTL_CMD_H
#define ONSHI_CTL_CMD_H

#include "ctl-args.h"

int ctl_run(const struct ctl_args *args);

#endif

/*
 * ha_sim: a deterministic cluster for the HA agents (cluster/ha_agent.c over
 * the ha_env interface). N nodes (default 3) share one virtual clock and one
 * replicated store; the partition holding more than half the nodes is the only
 * one that can write. Guests, leases, power, network links and crashes are
 * simulated; every node runs a CRM candidate and an LRM each round.
 *
 * A scenario is a list of commands, one a line ('#' starts a comment):
 *   nodes <n>                                 before anything else; 1..8
 *   timeouts lease <d> fence <d> margin <d>   before time moves; not checked (for tests)
 *   config group <g> nodes <n1:2,n2> [restricted 0|1] [nofailback 0|1]
 *   config group <g> remove
 *   config service <sid> [node <n>] [group <g>|-] [state <req>] [max_restart <k>]
 *                        [max_relocate <k>]   (node is needed when it is new)
 *   config service <sid> remove
 *   service <sid> started|stopped|disabled|ignored
 *   service <sid> migrate|relocate <node>     an admin request to the master
 *   power <node> on|off        network <node> on|off        shutdown <node>
 *   crash <sid>                startfail <sid> <node> on|off
 *   advance <k>s|<k>m          status
 * and the run writes an event log, one "HH:MM:SS <who> <role>: <text>" a line.
 *
 * After every step it checks the one invariant HA exists for: a service never
 * runs on two nodes, and is never started while another node still runs it.
 * A breach is logged as "VIOLATION ..." and counted.
 */
#ifndef PV_HA_SIM_H
#define PV_HA_SIM_H

#include <stddef.h>

struct ha_sim;

struct ha_sim *ha_sim_new(void);
void ha_sim_free(struct ha_sim *s);
/* One command line; -EINVAL with the reason in err. */
int ha_sim_command(struct ha_sim *s, const char *line, char *err, size_t errlen);
const char *ha_sim_log(const struct ha_sim *s);
int ha_sim_violations(const struct ha_sim *s);

/* Runs a whole scenario; *log is malloc'ed (also on error, up to the failing line). */
int ha_sim_run(const char *cmds, char **log, char *err, size_t errlen);

#endif

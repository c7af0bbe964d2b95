/*
 * secondary.h - colo-proxy's secondary-host mode: the sequence rewriter
 * between the forward link and the SVM.
 *
 *   colo-proxy secondary --forward IF --svm IF [--uplink IF]
 *                        [--engine unix:PATH] [--control unix:PATH]
 *
 * On the secondary host the client's frames arrive over the forward link
 * with the PVM's sequence numbers in their acknowledgements; the SVM chose
 * its own initial sequence numbers.  This mode sits between the two ports
 * the hotplug scripts give it (docs/networking.md): client frames go to the
 * SVM with their acknowledgement numbers translated (rewrite.h), SVM frames
 * go back over the forward link unchanged - the primary's comparator counts
 * stream offsets, not sequence numbers - until failover.  After FAILOVER on
 * the control socket (answered with FAILOVER once in force) the SVM's
 * frames go to clients, so their sequence numbers are translated into the
 * PVM's.  CHECKPOINT_DONE - broadcast by the engine whose control socket
 * --engine names, or sent to our own control socket - resets every offset:
 * the SVM then has the PVM's TCP state.
 */
#ifndef COLO_PROXY_SECONDARY_H
#define COLO_PROXY_SECONDARY_H

/* argv[0] is "secondary"; returns the process exit status. */
int secondary_main(int argc, char **argv);

#endif

# soak-xcr: the soak scenario with the secondary on libxenguest's own COLO
# restore loop (--domain svm,...,restore=libxenguest; docs/xen-backend.md,
# "restore=libxenguest"), the primary on save=pages: 50 checkpoints, then
# failover.  Not in CI (no boot's limit has room for it).
# libxenguest's apply adds to each checkpoint's cycle on the secondary (in
# session 15's boot 10 s a checkpoint against the soak's 8.3 s), so the
# hang guard allows 11 s a checkpoint.
SOAK_SCENARIO=soak-xcr SOAK_RESTORE=libxenguest SOAK_PER=11
. /lab/scenarios/soak.sh

# soak-xcr: the soak scenario with the secondary on libxenguest's own COLO
# restore loop (--domain svm,...,restore=libxenguest; docs/xen-backend.md,
# "restore=libxenguest"), the primary on save=pages: 50 checkpoints, then
# failover.  Not in CI (no boot's limit has room for it).
SOAK_SCENARIO=soak-xcr SOAK_RESTORE=libxenguest
. /lab/scenarios/soak.sh

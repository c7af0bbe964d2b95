# soak-xc: the soak scenario with the primary on libxenguest's own COLO
# loop (--domain pvm,...,save=libxenguest; docs/xen-backend.md,
# "save=libxenguest"): 50 checkpoints, then failover.
SOAK_SCENARIO=soak-xc SOAK_SAVE=libxenguest
. /lab/scenarios/soak.sh

"""Every time budget, margin and default of the harness, defined once.

Scoring, ingestion, the local runner and the meta-benchmark all import these
names, so a default never drifts between programs.
"""

# The default time budget T of one run, as in the benchmark's definition of
# ALC: 20 minutes per dataset.
DEFAULT_TIME_BUDGET_S = 1200.0

# The ALC time constant t0. Predictions made in the first t0 seconds weigh
# the most; 60 s matches the benchmark's published formula.
DEFAULT_T0_S = 60.0

# After the budget, the model's process group gets this long before SIGTERM.
# It lets a prediction that is being written finish its rename; anything
# written after T is ignored by scoring anyway, so a longer grace buys nothing.
GRACE_S = 5.0

# After SIGTERM, how long the group may take to exit before SIGKILL.
KILL_WAIT_S = 5.0

# How long ingestion waits for the model's process to load the data and reach
# the point where the clock starts. Data loading is not charged to the model,
# but a broken environment must not hang the harness.
STARTUP_TIMEOUT_S = 600.0

# How long the scoring program waits for ingestion to write start.json.
START_TIMEOUT_S = 600.0

# How often live scoring looks for new predictions. Short enough that the
# score follows a prediction within a fraction of a second; the check is one
# stat() call.
POLL_INTERVAL_S = 0.1

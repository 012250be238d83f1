import os

# Tests are small; keep torch from oversubscribing the 2 CI cores when pytest-xdist runs 2 workers.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

"""How many threads the numeric libraries (LightGBM, XGBoost, ONNX Runtime, FAISS, implicit) may use.

All of the machine's cores, unless OMP_NUM_THREADS says fewer: the variable OpenMP and BLAS already read, set
when several processes share the cores (the test suite's two workers do), where threads that wait by spinning
would only take turns with one another.
"""

from __future__ import annotations

import os


def cpu_threads() -> int:
    configured = os.environ.get("OMP_NUM_THREADS", "")
    if configured.isdigit() and int(configured) > 0:
        return int(configured)
    return os.cpu_count() or 1

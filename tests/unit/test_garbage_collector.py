"""The collector settings of a server's worker (server/serving.py: tune_garbage_collector)."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap


def test_a_worker_freezes_what_startup_made_so_full_collections_skip_it() -> None:
    # In a process of its own, as a worker: a frozen object stays frozen for the process's life.
    script = textwrap.dedent(
        """
        import gc
        import opensts.server.app  # what a worker has loaded by the time it has started
        from opensts.server.serving import GC_THRESHOLDS, tune_garbage_collector

        tune_garbage_collector(freeze=True)
        print(gc.get_freeze_count(), len(gc.get_objects()), gc.get_threshold() == GC_THRESHOLDS)
        """
    )
    frozen, tracked, thresholds = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(frozen) > 10_000  # the modules, classes and functions startup loaded
    assert int(tracked) < 1_000  # what a full collection still walks
    assert thresholds == "True"


def test_a_process_that_goes_on_making_apps_freezes_nothing() -> None:
    from opensts.server.serving import tune_garbage_collector

    before = gc.get_freeze_count()
    thresholds = gc.get_threshold()
    try:
        tune_garbage_collector()
        assert gc.get_freeze_count() == before
    finally:
        gc.set_threshold(*thresholds)

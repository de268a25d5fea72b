"""Faults injected into the production shape under load (tests/faults.py): nothing is lost,
nothing is processed twice, and every policy action runs within its bound of recovery.

Its own PostgreSQL and Redis (both are restarted), short intervals, a retrying transmitter.
`bench/faults.py` runs the same scenario with the default settings and prints the same report.
"""

import sys

import pytest

from tests.faults import SHORT_INTERVALS, FaultRig, run_faults


@pytest.mark.timeout(300)
def test_faults_lose_nothing_repeat_nothing_and_actions_recover_in_time(capsys):
    rig = FaultRig(rate=12, users=12, intervals=SHORT_INTERVALS)
    try:
        rig.start()
        result = run_faults(rig, warmup=2, redis_down=4, hold=1.0)
    except BaseException:
        sys.stderr.write(rig.log_tails())
        raise
    finally:
        rig.close()
    with capsys.disabled():
        sys.stdout.write("\n" + result.text() + "\n")
    assert result.failures == []
    assert result.redelivered >= 1  # the webhook interrupted by the kill was sent again

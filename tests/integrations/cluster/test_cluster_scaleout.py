"""Scale-out: recorders sharing one durable consumer (--shared) each record a share of the
stream; `evlog merge --by-sequence` of their recordings holds every message once, in stream
order, also when one of them is killed with SIGKILL (its unacknowledged messages go to the
others after --ack-wait)."""
from __future__ import annotations

import json

import pytest

from .harness import run_shared

pytestmark = pytest.mark.nats


@pytest.mark.timeout(300)
def test_two_shared_recorders_merge_to_every_message_once(cluster, tmp_path):
    result = run_shared(cluster, 2, 6000, str(tmp_path), prefill=False, rate=2000)
    print(json.dumps(result))
    assert (result["recorded"], result["lost"], result["duplicated"], result["out_of_order"]) == (6000, 0, 0, 0)
    assert all(share > 0 for share in result["shares"]), result   # both got a share
    assert result["exit"] == [0, 0]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_shared_recorder_killed_loses_nothing(cluster, tmp_path):
    result = run_shared(cluster, 2, 6000, str(tmp_path), kill_one_at=0.2, prefill=False, rate=1500)
    print(json.dumps(result))
    assert (result["recorded"], result["lost"], result["duplicated"], result["out_of_order"]) == (6000, 0, 0, 0)
    assert result["killed"] == 1 and result["exit"][1] == -9

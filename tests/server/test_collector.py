"""While a server serves, the garbage collector leaves start-up objects alone and runs its young
collections less often; when the last server of the process stops, it is as it was.

Another test's server may already serve in this process (session fixtures do): each test
compares with the state it found, whatever that was.
"""

import gc
from pathlib import Path

import httpx

from plaudit.server.app import create_app
from plaudit.server.collector import YOUNG_THRESHOLD, serving_collector
from plaudit.settings import Settings
from tests.conftest import free_port, serving_app


def test_a_serving_app_tunes_the_collector_and_restores_it(tmp_path: Path) -> None:
    before = (gc.get_threshold(), gc.get_freeze_count())
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'plaudit.db'}", grpc_port=0)
    with serving_app(create_app(settings), free_port()) as base:
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
    assert (gc.get_threshold(), gc.get_freeze_count()) == before


def test_the_last_of_several_servers_to_stop_restores_the_collector() -> None:
    before = (gc.get_threshold(), gc.get_freeze_count())
    first, second = serving_collector(), serving_collector()
    first.__enter__()
    second.__enter__()
    frozen = gc.get_freeze_count()
    first.__exit__(None, None, None)
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD  # the second still serves
    assert gc.get_freeze_count() == frozen > 0
    second.__exit__(None, None, None)
    assert (gc.get_threshold(), gc.get_freeze_count()) == before

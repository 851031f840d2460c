"""Suite-wide: no test touches the user's real data directory (the default store path)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _private_data_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # The daemon's default store is $XDG_DATA_HOME/smscd/smscd.db; subprocesses inherit it.
    with pytest.MonkeyPatch.context() as patch:
        home: Path = tmp_path_factory.mktemp("data-home")
        patch.setenv("XDG_DATA_HOME", str(home))
        yield

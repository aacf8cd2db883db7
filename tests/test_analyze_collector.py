"""The run pauses Python's cycle collector while it analyzes the roles (a speed measure); it must
give the process back as it found it, whatever happens in between."""

from __future__ import annotations

import gc

import pytest

from rightsizer.pipeline.analyze import collector_paused


@pytest.mark.parametrize("enabled", [True, False])
def test_the_collector_is_left_as_it_was_found(enabled: bool) -> None:
    was = gc.isenabled()
    try:
        (gc.enable if enabled else gc.disable)()
        with collector_paused():
            assert not gc.isenabled()
        assert gc.isenabled() is enabled
        with pytest.raises(RuntimeError), collector_paused():
            raise RuntimeError("a role failed")
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()

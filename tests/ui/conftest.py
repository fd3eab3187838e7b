"""Qt tests run with the app's own garbage-collection rule (collected on the UI thread only)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _collect_garbage_on_ui_thread(qapp):
    from playground.ui.jobs import collect_garbage_on_ui_thread

    collect_garbage_on_ui_thread(qapp)
    yield

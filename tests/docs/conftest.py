"""The suite of tests/e2e (free ports, its JWT secret), reused for the README examples."""
from __future__ import annotations

from tests.e2e.conftest import SECRET, suite

__all__ = ["SECRET", "suite"]

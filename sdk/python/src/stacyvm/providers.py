"""Provider helpers (kept from the 0.1.x SDK; ``Client`` has the same calls)."""

from __future__ import annotations

from typing import Dict, List

import httpx

from stacyvm import _operations as ops
from stacyvm._transport import send
from stacyvm.models import ProviderDetail, ProviderInfo


class ProviderManager:
    """Read provider health and configuration."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def list(self) -> List[ProviderInfo]:
        """List all providers (local and those advertised by workers)."""
        return send(self._http, ops.list_providers())

    def get(self, name: str) -> ProviderDetail:
        """Details of one provider (secrets redacted)."""
        return send(self._http, ops.get_provider(name))

    def test(self) -> Dict[str, bool]:
        """Re-check every provider now; ``{name: healthy}``."""
        return send(self._http, ops.test_providers())

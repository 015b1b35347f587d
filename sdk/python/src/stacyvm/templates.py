"""Template management (``client.templates``)."""

from __future__ import annotations

from typing import Optional

import httpx

from stacyvm import _operations as ops
from stacyvm._transport import send, send_async
from stacyvm.exceptions import ConflictError
from stacyvm.models import Page, Template


class TemplateManager:
    """Manage sandbox templates on the StacyVM server."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def list(self, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Page[Template]:
        """List templates (a page when ``limit`` or ``cursor`` is given)."""
        return send(self._http, ops.list_templates(limit, cursor))

    def get(self, name: str) -> Template:
        """Get a template by name."""
        return send(self._http, ops.get_template(name))

    def save(self, template: Template) -> Template:
        """Create a template, or replace it when one of that name exists."""
        try:
            return send(self._http, ops.create_template(template))
        except ConflictError:
            return self.replace(template)

    def replace(self, template: Template) -> Template:
        """Replace an existing template (``PUT``; unset fields get their defaults)."""
        return send(self._http, ops.replace_template(template))

    def delete(self, name: str) -> None:
        """Delete a template."""
        send(self._http, ops.delete_template(name))


class AsyncTemplateManager:
    """Async twin of :class:`TemplateManager` (``async_client.templates``)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def list(
        self, *, limit: Optional[int] = None, cursor: Optional[str] = None
    ) -> Page[Template]:
        """List templates (a page when ``limit`` or ``cursor`` is given)."""
        return await send_async(self._http, ops.list_templates(limit, cursor))

    async def get(self, name: str) -> Template:
        """Get a template by name."""
        return await send_async(self._http, ops.get_template(name))

    async def save(self, template: Template) -> Template:
        """Create a template, or replace it when one of that name exists."""
        try:
            return await send_async(self._http, ops.create_template(template))
        except ConflictError:
            return await self.replace(template)

    async def replace(self, template: Template) -> Template:
        """Replace an existing template (``PUT``)."""
        return await send_async(self._http, ops.replace_template(template))

    async def delete(self, name: str) -> None:
        """Delete a template."""
        await send_async(self._http, ops.delete_template(name))

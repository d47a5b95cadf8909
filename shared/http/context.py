"""The request context (actor, correlation) stamped on every event a request causes."""

import datetime as dt
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Request

from shared.authz import Principal
from shared.http.auth import principal_dependency
from shared.infra import logs
from shared.seedwork.ports import RequestContext


async def request_context(
    request: Request, principal: Annotated[Principal, Depends(principal_dependency)]
) -> RequestContext:
    """The verified caller as actor; `X-Correlation-Id` ties a business request together.
    (`async`: a plain `def` dependency would cost a trip to a worker thread per request.)"""
    command_id = str(uuid4())
    correlation_id = request.headers.get("x-correlation-id", command_id)
    logs.bind_now(agency=principal.agency, command_id=command_id, trace_id=correlation_id)
    return RequestContext(
        actor=f"{principal.agency}/{principal.subject}",
        correlation_id=correlation_id,
        causation_id=command_id,
        now=dt.datetime.now(dt.UTC),
    )


ContextDep = Annotated[RequestContext, Depends(request_context)]
"""FastAPI dependency: the context of the current request."""

"""Personal data requests (PDP law 91/2025/QH15): access and erasure, data-protection
officer only (`personal-data:erase`)."""

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from services.placement.service_layer import handlers
from services.placement.service_layer.handlers import Erasure, PersonalData
from services.placement.service_layer.ports import PlacementPorts
from shared.authz import Action
from shared.http.audit import audited
from shared.http.auth import PrincipalDep
from shared.http.problems import problem_responses
from shared.infra.audit_entries import Category
from shared.seedwork.errors import NotFound


def build_officials_router(ports: PlacementPorts) -> APIRouter:
    """`/api/officials/{official_id}/…`."""
    router = APIRouter(
        prefix="/api/officials",
        tags=["personal data"],
        responses=problem_responses(401, 403, 404, 422),
    )

    @router.get("/{official_id}/personal-data", response_model=PersonalData)
    @audited(Action.READ_PERSONAL_DATA, Category.PERSONAL_DATA)
    async def personal_data(official_id: str, who: PrincipalDep) -> PersonalData:
        """Everything held about the official (identity until erasure, profile, secondments)."""
        return await handlers.personal_data(who, official_id, ports.uow())

    @router.post("/{official_id}/erasure", response_model=Erasure)
    @audited(Action.ERASE_PERSONAL_DATA)
    async def erasure(official_id: str, who: PrincipalDep) -> Erasure:
        """Erase who the official was; every count and figure stays as it was."""
        return await handlers.erase_official(who, official_id, ports.uow())

    return router


def build_intake_router(ports: PlacementPorts) -> APIRouter:
    """`/api/personal-data/intake-key`: the public key agencies seal identities for."""
    router = APIRouter(prefix="/api/personal-data", tags=["personal data"])

    @router.get("/intake-key", responses=problem_responses(404))
    async def intake_key() -> JSONResponse:
        """The intake key (JSON Web Key, X25519): seal an official's `full_name` and
        `birth_date` for it and send `official.identity_sealed` instead (docs/contract.md).
        Public: it is a public key."""
        if ports.intake is None:
            raise NotFound("intake key", "(none: this service takes no sealed identities)")
        return JSONResponse(ports.intake.jwk(), headers={"Cache-Control": "max-age=3600"})

    return router

"""API about the caller: who am I (``GET /me``)."""

from __future__ import annotations

from ninja import Router, Schema

from vrop.core.api_utils import ErrorOut

router = Router(tags=["accounts"])


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str
    team: str | None
    is_superuser: bool


@router.get("/me", response={200: MeOut, 401: ErrorOut})
def me(request):
    """The user the token or session belongs to."""
    user = request.auth
    return {
        "id": user.pk,
        "email": user.email,
        "name": str(user),
        "role": user.role,
        "team": user.team.name if user.team_id else None,
        "is_superuser": user.is_superuser,
    }

"""API for clients, products, deals with lines, and tasks."""

from __future__ import annotations

from ninja import Router, Schema

router = Router(tags=["crm"])


class MeOut(Schema):
    id: int
    email: str
    name: str
    role: str


@router.get("/me", response=MeOut)
def me(request):
    user = request.auth
    return {"id": user.pk, "email": user.email, "name": str(user), "role": user.role}

"""INN (ИНН) checksum validation: 10 digits for organisations, 12 for individuals."""

from __future__ import annotations

from django.utils.translation import gettext as _

from vrop.core.errors import ValidationError

_W10 = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_W11 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_W12 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)


def _check_digit(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def is_valid_inn(inn: str) -> bool:
    if not inn.isdigit():
        return False
    if len(inn) == 10:
        return _check_digit(inn, _W10) == int(inn[9])
    if len(inn) == 12:
        return _check_digit(inn, _W11) == int(inn[10]) and _check_digit(inn, _W12) == int(inn[11])
    return False


def clean_inn(value: str | None) -> str:
    """Normalise and validate an INN; empty is allowed (a client not yet identified)."""
    inn = (value or "").strip().replace(" ", "")
    if not inn:
        return ""
    if not is_valid_inn(inn):
        raise ValidationError(
            _("INN “%(inn)s” is not valid: it must have 10 or 12 digits with a correct checksum.")
            % {"inn": inn},
            field="inn",
        )
    return inn


def make_inn(prefix9: str) -> str:
    """A valid 10-digit INN from 9 digits (for the demo and tests)."""
    return prefix9 + str(_check_digit(prefix9, _W10))

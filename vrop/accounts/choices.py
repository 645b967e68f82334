from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    OWNER = "owner", _("owner")
    HEAD = "head", _("head of sales")
    MANAGER = "manager", _("manager")
    FINANCE = "finance", _("finance")
    SUPPLY = "supply", _("supply")


# The order of authority for approvals: a role may decide what needs its level or lower.
APPROVAL_RANK = {Role.MANAGER: 1, Role.HEAD: 2, Role.OWNER: 3}

"""User-facing texts of the discipline area: refusals of the inbox, snooze and next step
services, and the nudges sent to people.

They live in one module of the discipline app so that its catalogue
(``vrop/discipline/locale``) carries them; the inbox services in ``vrop/crm/inbox.py``
raise these same texts.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext_lazy

# --- inbox ------------------------------------------------------------------------------
REQUEST_NEEDS_CONTACT = _("A request needs a phone, an e-mail or a text.")
REQUEST_IN_FUTURE = _("A request cannot arrive in the future.")
REQUEST_PROCESSED = _("The request is already processed.")
NO_SUCH_REQUEST = _("No such request.")
DECLINE_NEEDS_REASON = _("Say why the request is declined.")
LINK_NEEDS_TARGET = _("Choose the client or the deal to link the request to.")
ONLY_HEAD_REASSIGNS = _("Only the head of sales reassigns requests.")
MANAGER_DISMISSED = _("%(name)s has left the company: choose another manager.")
NOT_A_SELLER = _("%(name)s does not take requests: choose a manager.")
UNKNOWN_FORM = _("There is no such form. Check the form key on the website.")
TOO_MANY_REQUESTS = _("Too many requests from this address. Try again in a minute.")
CLIENT_FROM_REQUEST = _("Client from request #%(id)s")
REQUEST_LINKED_NOTE = _("Request #%(id)s linked: %(text)s")
ASSIGNED_TO_CLIENT_MANAGER = _("the client's manager")
NO_ELIGIBLE_MANAGER = _(
    "nobody free: no rule matched or every manager was absent, off shift or full"
)
REASSIGNED_BY = _("reassigned by %(name)s")

# --- distribution setup -----------------------------------------------------------------
ONLY_HEAD_CONFIGURES = _("Only the head of sales or the owner sets up distribution.")
RULE_NEEDS_NAME = _("Name the rule.")
RULE_NAME_TOO_LONG = _("The rule's name is too long: at most 100 characters.")
UNKNOWN_METHOD = _("Choose how the rule hands out requests: in turn or weighted.")
UNKNOWN_CHANNEL = _("There is no such channel.")
SEGMENT_TOO_LONG = _("The segment is too long: at most 64 characters.")
UNKNOWN_DIRECTION = _("A rule moves up or down only.")
CHOOSE_MANAGER = _("Choose the manager.")
NO_SUCH_RULE = _("No such distribution rule.")
ALREADY_MEMBER = _("%(name)s is already in this rule.")
BAD_WEIGHT = _("The weight is a whole number from 1 to %(max)s.")
BAD_TIME = _("Enter the time as HH:MM, for example 09:00.")
SHIFT_ORDER = _("The shift must end after it starts.")
BAD_WEEKDAYS = _("Weekdays are numbers from 0 (Monday) to 6 (Sunday).")
BAD_CAP = _("The cap is a whole number of requests from 1 to %(max)s.")

# --- next step and snooze ---------------------------------------------------------------
NEXT_STEP_NEEDS_DATE = _("Give the date of the next step.")
NEXT_STEP_IN_PAST = _("The next step cannot be in the past.")
NEXT_STEP_NEEDS_TITLE = _("Say what the next step is.")
NEXT_STEP_DEFAULT_TITLE = _("Next step")
SNOOZE_NEEDS_REASON = _("Say why the deal waits.")
SNOOZE_NEEDS_DATE = _("Give the date to come back to the deal.")
SNOOZE_DATE_NOT_FUTURE = _("The date to come back must be after today.")
SNOOZE_TOO_FAR = _("A deal can wait at most %(days)s days.")
SNOOZE_NOT_OPEN = _("Only an open deal can be snoozed.")
SNOOZE_RESUME_TASK = _("Come back to the deal: %(reason)s")
NO_SUCH_DEAL = _("No such deal.")
NO_SUCH_TASK = _("No such task.")
FORBIDDEN = _("You may not do this.")

# --- stalled reasons (shown beside a deal) ----------------------------------------------
REASON_TEXTS = {
    "no_next_step": _("no next step"),
    "next_step_overdue": _("next step overdue"),
    "no_activity": _("no activity longer than the stage norm"),
    "stage_too_long": _("in the stage longer than its norm"),
}

# --- nudges -----------------------------------------------------------------------------
NUDGE_STALLED_MANAGER = ngettext_lazy(
    "You have %(count)s stalled deal. Give it a next step with a date, or snooze it with a reason:",
    "You have %(count)s stalled deals. Give each a next step with a date, or snooze it "
    "with a reason:",
    "count",
)
NUDGE_STALLED_HEAD = ngettext_lazy(
    "%(manager)s has %(count)s deal stalled for more than %(hours)s working hours. "
    "Call them and agree the next step today:",
    "%(manager)s has %(count)s deals stalled for more than %(hours)s working hours. "
    "Call them and agree the next steps today:",
    "count",
)
NUDGE_STALLED_OWNER = ngettext_lazy(
    "%(count)s deal of %(manager)s has been stalled for more than %(hours)s working "
    "hours and the head has not fixed it. Ask the head for the plan:",
    "%(count)s deals of %(manager)s have been stalled for more than %(hours)s working "
    "hours and the head has not fixed them. Ask the head for the plan:",
    "count",
)
NUDGE_FIRST_CONTACT = ngettext_lazy(
    "%(count)s new deal waits for the first contact longer than %(minutes)s working "
    "minutes. Call now:",
    "%(count)s new deals wait for the first contact longer than %(minutes)s working "
    "minutes. Call now:",
    "count",
)
NUDGE_QUOTE = ngettext_lazy(
    "%(count)s deal waits for a quote longer than %(minutes)s working minutes. Send it:",
    "%(count)s deals wait for a quote longer than %(minutes)s working minutes. Send them:",
    "count",
)
NUDGE_REQUEST_MANAGER = ngettext_lazy(
    "%(count)s request waits in your inbox longer than %(minutes)s working minutes. "
    "Accept, link or decline it:",
    "%(count)s requests wait in your inbox longer than %(minutes)s working minutes. "
    "Accept, link or decline them:",
    "count",
)
NUDGE_REQUEST_HEAD = ngettext_lazy(
    "%(count)s request of %(manager)s waits unprocessed. Reassign it or call the manager:",
    "%(count)s requests of %(manager)s wait unprocessed. Reassign them or call the manager:",
    "count",
)
NUDGE_REQUEST_UNASSIGNED = ngettext_lazy(
    "%(count)s request waits without a manager. Assign it:",
    "%(count)s requests wait without a manager. Assign them:",
    "count",
)
NUDGE_MORE = _("…and %(count)s more.")
NOBODY = _("nobody")

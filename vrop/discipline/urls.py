from django.urls import path

from vrop.discipline import views

urlpatterns = [
    path("today/", views.today, name="today"),
    path("today/tasks/<int:task_id>/done/", views.task_done, name="today-task-done"),
    path(
        "today/tasks/<int:task_id>/reschedule/",
        views.task_reschedule,
        name="today-task-reschedule",
    ),
    path("deals/<int:deal_id>/next-step/", views.deal_next_step, name="deal-next-step"),
    path("deals/<int:deal_id>/snooze/", views.deal_snooze, name="deal-snooze"),
    path("board/", views.board, name="board"),
    path("board/<int:manager_id>/<slug:kind>/", views.board_deals, name="board-deals"),
    path("inbox/", views.inbox_page, name="inbox"),
    path("inbox/new/", views.inbox_register, name="inbox-register"),
    path("inbox/<int:request_id>/accept/", views.inbox_accept, name="inbox-accept"),
    path("inbox/<int:request_id>/link/", views.inbox_link, name="inbox-link"),
    path("inbox/<int:request_id>/decline/", views.inbox_decline, name="inbox-decline"),
    path("inbox/<int:request_id>/reassign/", views.inbox_reassign, name="inbox-reassign"),
    path("inbox/<int:request_id>/assign/", views.inbox_assign, name="inbox-assign"),
    path("distribution/", views.distribution_page, name="distribution"),
    path("distribution/cap/", views.distribution_cap, name="distribution-cap"),
    path(
        "distribution/absence/<int:user_id>/",
        views.distribution_absence,
        name="distribution-absence",
    ),
    path(
        "distribution/rules/new/",
        views.distribution_rule_create,
        name="distribution-rule-create",
    ),
    path(
        "distribution/rules/<int:rule_id>/",
        views.distribution_rule_page,
        name="distribution-rule",
    ),
    path(
        "distribution/rules/<int:rule_id>/edit/",
        views.distribution_rule_edit,
        name="distribution-rule-edit",
    ),
    path(
        "distribution/rules/<int:rule_id>/activate/",
        views.distribution_rule_activate,
        name="distribution-rule-activate",
    ),
    path(
        "distribution/rules/<int:rule_id>/move/",
        views.distribution_rule_move,
        name="distribution-rule-move",
    ),
    path(
        "distribution/rules/<int:rule_id>/members/new/",
        views.distribution_member_add,
        name="distribution-member-add",
    ),
    path(
        "distribution/members/<int:member_id>/edit/",
        views.distribution_member_edit,
        name="distribution-member-edit",
    ),
    path(
        "distribution/members/<int:member_id>/remove/",
        views.distribution_member_remove,
        name="distribution-member-remove",
    ),
]

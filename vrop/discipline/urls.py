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
]

from django import template

from vrop.notifications.selectors import notification_unread_count

register = template.Library()


@register.simple_tag
def unread_notifications_count(user) -> int:
    """The number of the user's unread in-app notifications (for the header's bell)."""
    return notification_unread_count(viewer=user)

"""Inserting many rows fast: ``COPY … FROM STDIN`` on PostgreSQL, ``bulk_create`` elsewhere.

Ids come from the table's own sequence first, so the objects know their ids (a bank
statement's payments are referred to by its rows). Field values are prepared exactly as
``save()`` would (``pre_save`` then ``get_db_prep_save``), so defaults, ``auto_now_add``
and JSON behave the same.
"""

from __future__ import annotations

import json

from django.db import connection, models


def insert(model, objects: list) -> list:
    if not objects:
        return objects
    if connection.vendor != "postgresql":
        return model.objects.bulk_create(objects, batch_size=1000)
    meta = model._meta
    fields = list(meta.concrete_fields)
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objects)],
        )
        for obj, (pk,) in zip(objects, cursor.fetchall(), strict=True):
            obj.pk = pk
        columns = ", ".join(quote(field.column) for field in fields)
        getters = [_getter(field) for field in fields]
        with cursor.cursor.copy(f"COPY {quote(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for obj in objects:
                copy.write_row([get(obj) for get in getters])
    for obj in objects:
        obj._state.adding = False
        obj._state.db = connection.alias
    return objects


def _getter(field):
    """How to read a field's database value from an object, the cheapest correct way."""
    if isinstance(field, models.JSONField):
        return lambda obj: json.dumps(getattr(obj, field.attname), cls=field.encoder)
    if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
        return lambda obj: field.pre_save(obj, True)
    if field.is_relation or isinstance(
        field,
        models.DecimalField
        | models.CharField
        | models.DateField
        | models.IntegerField
        | models.BooleanField,
    ):
        return lambda obj: getattr(obj, field.attname)
    return lambda obj: field.get_db_prep_save(field.pre_save(obj, True), connection)

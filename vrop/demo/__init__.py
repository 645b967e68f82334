"""The demo company: a deterministic simulator of a metal-trading sales department.

``vrop.demo.generator.generate_demo`` writes twelve months of history up to today with
bulk inserts; see ``docs/demo.md`` for the company, its people and their behaviours.
"""

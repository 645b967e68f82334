"""The exchange format: a folder (or .zip) of UTF-8 CSV files that ``vrop import`` loads
and ``vrop export`` writes. See docs/exchange-format.md.

- ``spec``: the files, their columns and the id rules;
- ``reader``: folders and zips, encodings (UTF-8 with or without BOM, CP1251), delimiters;
- ``values``: parsing of one cell (dates, money, INN, ...) with the reason of a refusal;
- ``sql``: the two database dialects (staging tables, COPY, UPDATE ... FROM);
- ``importer``: ``import_path`` — validate, stage, merge set-based, in one transaction;
  ``entities`` (files of objects with ids) and ``lists`` (lines and stage history per
  deal) are its parts;
- ``derive``: the denormalised fields the services keep, recomputed in SQL after loading;
- ``staged``: new deals held in a temporary table until they are written, once;
- ``history``: simple-history rows of what an import created or changed, in bulk;
- ``exporter``: ``export_path`` — every file of the format from the database.
"""

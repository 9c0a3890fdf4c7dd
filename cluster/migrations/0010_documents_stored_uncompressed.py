"""On PostgreSQL the object and change-log tables keep a document of up to a page
uncompressed, in the row. By default a row over about 2 kB has its document compressed
(a pod's is about 3 kB): every write paid the compression, and every field a controller
reads through rows.json_fields paid the decompression again, once per field (the
ReplicaSet controller's eight fields of a 300-pod set: 5.1 ms a pass, against 1.2 ms
uncompressed, measured on a throwaway server; writes about a tenth faster). Larger
documents are still compressed and moved out of the row as before. SQLite has no such
setting."""
from django.db import migrations

TABLES = ("cluster_object", "cluster_change")


def uncompressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} SET (toast_tuple_target = 8160)")


def back(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f"ALTER TABLE {table} RESET (toast_tuple_target)")


class Migration(migrations.Migration):

    dependencies = [
        ("cluster", "0009_object_fillfactor"),
    ]

    operations = [migrations.RunPython(uncompressed, back)]

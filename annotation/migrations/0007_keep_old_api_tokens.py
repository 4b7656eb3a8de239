"""API keys made before tokens were named and hashed keep working: each DRF authtoken key becomes an ApiToken,
and the plaintext keys are deleted."""

import hashlib

from django.db import migrations


def hash_old_keys(apps, schema_editor):
    connection = schema_editor.connection
    if "authtoken_token" not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("annotation", "ApiToken")
    with connection.cursor() as cursor:
        cursor.execute("SELECT key, user_id FROM authtoken_token")
        rows = cursor.fetchall()
        cursor.execute("DELETE FROM authtoken_token")  # the plaintext keys go; their hashes stay below
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="API login (before named tokens)",
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            prefix=key[:8],
        )
        for key, user_id in rows
    )


class Migration(migrations.Migration):
    dependencies = [("annotation", "0006_data_browser_indexes")]

    operations = [migrations.RunPython(hash_old_keys, migrations.RunPython.noop)]

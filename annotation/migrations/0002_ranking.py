from django.db import migrations

PAIRWISE_KINDS = ["preference", "model_review"]


def clear_scores_of_ranked_items(apps, schema_editor):
    """Judgments stored on items with three or more responses before they were ranked: their signed score between
    responses 0 and 1 misstated a choice among all of them, so A/B agreement must not read it. Exports read the
    payload's choice instead (annotation.payloads.pair_votes)."""
    Item = apps.get_model("annotation", "Item")
    Annotation = apps.get_model("annotation", "Annotation")
    ranked = [
        item_id
        for item_id, responses in Item.objects.filter(kind__in=PAIRWISE_KINDS).values_list("id", "responses").iterator()
        if len(responses) >= 3
    ]
    for start in range(0, len(ranked), 500):
        Annotation.objects.filter(item_id__in=ranked[start : start + 500]).update(
            preference_score=None, shown_first=None
        )


class Migration(migrations.Migration):
    dependencies = [("annotation", "0001_initial")]

    operations = [migrations.RunPython(clear_scores_of_ranked_items, migrations.RunPython.noop)]

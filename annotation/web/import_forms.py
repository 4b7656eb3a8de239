"""Forms of the import and document pages."""

from django import forms

from annotation.import_jobs import MAX_UPLOAD_BYTES


class ImportUploadForm(forms.Form):
    file = forms.FileField(error_messages={"required": "choose a JSONL file to upload."})

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(f"is over {MAX_UPLOAD_BYTES // 2**20} MiB; split it.")
        return upload


class DocumentSearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200)

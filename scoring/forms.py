"""Forms of the scoring pages."""

from __future__ import annotations

from django import forms
from django.conf import settings


class BatchUploadForm(forms.Form):
    """One CSV file; its content is checked by `scoring.batches`, the size here first so a
    huge upload is refused before it is read into memory."""

    file = forms.FileField(
        label="CSV file of applications",
        help_text="UTF-8 CSV with a header line of Home Credit application column names.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
        error_messages={"required": "Choose a CSV file to upload."},
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        limit = settings.CREDSCOPE_BATCH_MAX_BYTES
        if upload.size > limit:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {limit:,} bytes. "
                "Split it into smaller batches."
            )
        if not upload.name.lower().endswith(".csv"):
            raise forms.ValidationError("Upload a .csv file (comma-separated values).")
        return upload

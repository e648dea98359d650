# One image for web, worker and beat; the compose file picks the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=credscope_site.settings.production

# libgomp1: OpenMP runtime for LightGBM and XGBoost. Pango, HarfBuzz and DejaVu fonts:
# WeasyPrint's system libraries, for the fairness audits' PDF reports.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
RUN useradd --create-home --uid 10001 credscope \
    && mkdir -p /app/var/models /app/var/data /app/var/audit-checkpoints \
    && chown -R credscope /app/var
# collectstatic needs settings but no real secret (nor a key written into the image).
RUN SECRET_KEY=build-only-not-secret AUDIT_CHAIN_KEY=build-only-not-secret-0123456789abcdef \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput
USER credscope

EXPOSE 8000
CMD ["gunicorn", "credscope_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3"]

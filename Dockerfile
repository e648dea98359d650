# One image for web, worker and beat; the compose file picks the command.
#
# Stage 1 (assets): Chart.js from the npm package pinned in package-lock.json, the same files
# `make vendor` copies, so the image never depends on a developer's git-ignored static/vendor/.
FROM node:22-bookworm-slim AS assets
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts
# The source map travels with the script: the manifest storage rewrites the script's
# sourceMappingURL to the map's hashed name, and fails the build if the map is missing.
RUN mkdir -p static/vendor \
    && cp node_modules/chart.js/dist/chart.umd.min.js \
          node_modules/chart.js/dist/chart.umd.min.js.map static/vendor/

# Stage 2 (app): Python, the pinned requirements, the code and the collected static files.
FROM python:3.11-slim-bookworm AS app

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=credscope_site.settings.production

# libgomp1: OpenMP runtime for LightGBM and XGBoost. Pango, HarfBuzz and DejaVu fonts:
# WeasyPrint's system libraries (adverse-action notices, fairness audit reports).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 curl \
       libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

# .dockerignore keeps secrets, local state, .venv and node_modules out of this copy.
COPY . .
COPY --from=assets /build/static/vendor/ /app/static/vendor/
RUN useradd --create-home --uid 10001 credscope \
    && mkdir -p /app/var/models /app/var/data /app/var/audit-checkpoints \
    && chown -R credscope /app/var
# collectstatic needs settings but no real secret, nor a key written into the image: throwaway
# keys of the required length. It fails here, not at the first page view, if a file a page
# needs is missing.
RUN SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(64))')" \
    AUDIT_CHAIN_KEY="$(python -c 'import secrets; print(secrets.token_hex(32))')" \
    ALLOWED_HOSTS=build python manage.py collectstatic --noinput
USER credscope

EXPOSE 8000
CMD ["gunicorn", "credscope_site.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60"]

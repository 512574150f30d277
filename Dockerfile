# One image for every process of the production shape: migrate, web, worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY requirements.lock ./
# The application's dependencies at the locked versions and hashes, then Digest itself.
COPY pyproject.toml README.md alembic.ini ./
COPY digest ./digest
COPY workers ./workers
COPY templates ./templates
RUN pip install --require-hashes -r requirements.lock && pip install --no-deps . \
    && useradd --create-home digest && mkdir -p /app/var && chown digest /app/var
USER digest

EXPOSE 8000
CMD ["digest", "--help"]

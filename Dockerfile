# One image for every chibo process: `chibo run SERVICE`, `chibo relay SOURCE`, `chibo declare`
# (docker-compose.yml sets the command of each).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# psycopg 3 (pure Python, as pinned in requirements.lock) loads the system libpq.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Only what the package needs (no .venv or var/ from the work tree). README.m[d]: copied when present.
COPY pyproject.toml requirements.lock README.m[d] ./
COPY services ./services
COPY shared ./shared
RUN pip install --no-cache-dir -c requirements.lock . \
    && rm -rf build *.egg-info

RUN useradd --create-home --uid 10001 chibo \
    && mkdir -p /app/var /definitions \
    && chown chibo:chibo /app/var /definitions
USER chibo

CMD ["chibo", "--help"]

# The hub's image, for those who run containers (docker-compose.yml); the local default needs none.
# The member portal's static files, built from its lock file (nothing of Node is kept in the hub's image)
FROM node:20-slim AS portal
WORKDIR /portal
COPY portal/package.json portal/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY portal ./
RUN rm -rf dist && npm run build

FROM python:3.11-slim
WORKDIR /app
# the locked dependencies first (each checked against its hash), then the hub itself with nothing fetched
COPY requirements/runtime.lock ./requirements/
RUN pip install --no-cache-dir --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY hub ./hub
COPY graph_schema ./graph_schema
COPY resolvers ./resolvers
COPY auth ./auth
COPY seed ./seed
COPY --from=portal /portal/dist ./portal/dist
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && useradd --create-home hub
USER hub
ENV HUB_HOST=0.0.0.0 HUB_STATE_DIR=/home/hub/state HUB_PORTAL_DIR=/app/portal/dist
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["hub", "serve"]

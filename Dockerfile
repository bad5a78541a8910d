# The hub's image, for those who run containers (docker-compose.yml); the local default needs none.
# The member portal's static files, built from its lock file (nothing of Node is kept in the hub's image)
FROM node:20-slim AS portal
WORKDIR /portal
COPY portal/package.json portal/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY portal ./
RUN rm -rf dist && npm run build

# GS1's EPCIS XSDs as hub/epcis_xsd.py takes them: the jar from Maven Central, checked against the SHA-256 pinned
# there (JAR_SHA256), its XSD files only (the image has no Maven)
FROM python:3.11-slim AS epcis-xsd
RUN python -c "import hashlib, urllib.request, zipfile, io, pathlib; \
url = 'https://repo1.maven.org/maven2/io/openepcis/openepcis-document-validation-service/0.9.2/openepcis-document-validation-service-0.9.2.jar'; \
jar = urllib.request.urlopen(url, timeout=60).read(); \
assert hashlib.sha256(jar).hexdigest() == '2c89b0938e06dbcdb4c9585ce62195aaca7a8cacf549ffdd79890ba685f3b5ca', 'checksum'; \
out = pathlib.Path('/epcis-xsd'); \
names = [n for n in zipfile.ZipFile(io.BytesIO(jar)).namelist() if n.startswith(('xsd/1_2_0/', 'xsd/2_0_0/')) and n.endswith('.xsd') and '..' not in n]; \
[(out / n[4:]).parent.mkdir(parents=True, exist_ok=True) or (out / n[4:]).write_bytes(zipfile.ZipFile(io.BytesIO(jar)).read(n)) for n in names]; \
(out / '.complete').write_text('io.openepcis:openepcis-document-validation-service:0.9.2\\n')"

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
COPY --from=epcis-xsd /epcis-xsd ./epcis-xsd
RUN pip install --no-cache-dir --no-deps --no-build-isolation . && useradd --create-home hub
USER hub
ENV HUB_HOST=0.0.0.0 HUB_STATE_DIR=/home/hub/state HUB_PORTAL_DIR=/app/portal/dist \
    HUB_EPCIS_XSD_DIR=/app/epcis-xsd
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz')" || exit 1
CMD ["hub", "serve"]

# One image for both services and the `kipp` command; docker-compose.yml picks the command.
# Built in stages: the locked dependencies install before any source is copied, so a change to the code
# reinstalls nothing, and the image keeps only the runtime environment (no build tools, no npm).

# The AsyncAPI page's script and styles, from the npm registry, pinned and checked
# (requirements/asyncapi-react.sh says why they are fetched and not kept in git).
FROM node:20-slim AS asyncapi-react
COPY requirements/asyncapi-react.sh /tmp/asyncapi-react.sh
RUN sh /tmp/asyncapi-react.sh /asyncapi-react

# The runtime dependencies exactly as locked (requirements/runtime.txt, with hashes; not the test and lint
# tools), in a virtual environment the last stage copies. The build backend is locked too (build.txt).
FROM python:3.11-slim AS dependencies
RUN python -m venv /opt/kipp
ENV PATH=/opt/kipp/bin:$PATH
COPY requirements/build.txt requirements/runtime.txt /tmp/requirements/
RUN pip install --no-cache-dir --require-hashes -r /tmp/requirements/build.txt -r /tmp/requirements/runtime.txt

# The project itself, installed into that environment without its dependencies (they are there already).
FROM dependencies AS build
WORKDIR /src
COPY pyproject.toml ./
COPY shared ./shared
COPY services ./services
COPY --from=asyncapi-react /asyncapi-react ./shared/asyncapi-react
COPY clients/python ./clients/python
RUN pip install --no-cache-dir --no-deps --no-build-isolation . ./clients/python \
    && pip uninstall --yes setuptools

FROM python:3.11-slim
COPY --from=build /opt/kipp /opt/kipp
ENV PATH=/opt/kipp/bin:$PATH

WORKDIR /app
COPY examples ./examples

# Adds the passwords compose hands over as secrets to the database and broker URLs, then runs the command.
COPY deploy/entrypoint.sh /usr/local/bin/kipp-entrypoint

# The processes run as kipp, not root. The key and checkpoint directories belong to kipp, so the volumes
# compose mounts there start out as kipp's and `kipp migrate` can write the keys, review the checkpoints.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home kipp \
    && mkdir -p /keys/intake /keys/review /keys/public /checkpoints \
    && chown kipp:kipp /keys/intake /keys/review /keys/public /checkpoints \
    && chmod 700 /keys/intake /keys/review \
    && chmod 755 /usr/local/bin/kipp-entrypoint
USER kipp

# Inside a container the services listen on every interface; compose publishes the ports.
ENV KIPP_INTAKE_HOST=0.0.0.0 \
    KIPP_REVIEW_HOST=0.0.0.0
EXPOSE 8001 8002
ENTRYPOINT ["kipp-entrypoint"]
CMD ["kipp", "--help"]

# One image for both services and the `kipp` command; docker-compose.yml picks the command.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY examples ./examples
RUN pip install --no-cache-dir .

# Adds the passwords compose hands over as secrets to the database and broker URLs, then runs the command.
COPY deploy/entrypoint.sh /usr/local/bin/kipp-entrypoint

# The processes run as kipp, not root. The key directories belong to kipp, so the volumes compose mounts
# there start out as kipp's and `kipp migrate` (and review, for the audit key) can write the keys.
RUN useradd --system --user-group --uid 10001 --home-dir /app --no-create-home kipp \
    && mkdir -p /keys/intake /keys/review /keys/public \
    && chown kipp:kipp /keys/intake /keys/review /keys/public \
    && chmod 700 /keys/intake /keys/review \
    && chmod 755 /usr/local/bin/kipp-entrypoint
USER kipp

# Inside a container the services listen on every interface; compose publishes the ports.
ENV KIPP_INTAKE_HOST=0.0.0.0 \
    KIPP_REVIEW_HOST=0.0.0.0
EXPOSE 8001 8002
ENTRYPOINT ["kipp-entrypoint"]
CMD ["kipp", "--help"]

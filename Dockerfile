# One image for both services and the `kipp` command; docker-compose.yml picks the command.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY examples ./examples
RUN pip install --no-cache-dir .

# Inside a container the services listen on every interface; compose publishes the ports.
ENV KIPP_INTAKE_HOST=0.0.0.0 \
    KIPP_REVIEW_HOST=0.0.0.0
EXPOSE 8001 8002
CMD ["kipp", "--help"]

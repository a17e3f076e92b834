"""`make bench`: the product measured against the raw limits of the same PostgreSQL and RabbitMQ."""

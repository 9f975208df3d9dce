-- Dagster's run/event storage lives beside the warehouse, in its own database.
CREATE DATABASE dagster OWNER kapman;

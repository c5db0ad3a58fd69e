"""DynamoDB adapters: clients, the fenced aggregates writer, the rejects writer, the schema check."""

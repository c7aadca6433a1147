"""The Kafka shell: the consumer, partition ownership, and the outbox relayed to Kafka."""

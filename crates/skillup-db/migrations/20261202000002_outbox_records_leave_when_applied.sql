-- An outbox record leaves the table in the transaction that applies it.
--
-- The invalidator used to mark each applied record processed (an UPDATE: a new
-- row version, with new entries in the primary key and in the index of pending
-- records) and delete it an hour later, leaving vacuum both dead versions. Per
-- change a writer made, the worker wrote about as much again, on the same disk
-- and cores as the writers. Now it deletes what it takes, with the same
-- FOR UPDATE SKIP LOCKED as before, so a rollback still puts a record back and
-- replicas still skip each other's records.
--
-- Every row is now pending, so the partial index of pending records goes too: the
-- writer's insert has one index to maintain, the primary key, which claims walk.
-- Records processed before this migration are gone with the column that said so.
DELETE FROM invalidation_outbox WHERE processed_at IS NOT NULL;
DROP INDEX invalidation_outbox_pending_idx;
ALTER TABLE invalidation_outbox DROP COLUMN processed_at;

-- The CHECK constraints on entity and op go as well. Postgres rebuilds a table's
-- CHECK expressions from their stored text for every statement that inserts into
-- it: without them, 16 writers with the trigger gained 16% when CPU-bound
-- (docs/benchmarks.md, "Writers and the NOTIFY lock"). Only this schema's triggers
-- and the API write records, and the invalidator already treats an entity it does
-- not know as "everything that table feeds changed".
ALTER TABLE invalidation_outbox
    DROP CONSTRAINT invalidation_outbox_entity_check,
    DROP CONSTRAINT invalidation_outbox_op_check;

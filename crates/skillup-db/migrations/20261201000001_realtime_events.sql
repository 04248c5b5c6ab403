-- The replayable stream of realtime events.
--
-- The invalidator turns outbox records into events (progress:updated,
-- course:updated, and control messages about who may follow which course) in the
-- transaction that drains them. It numbers them under the row lock of
-- realtime_sequence, so numbers follow commit order and have no holes: a reader
-- that sees event n committed has every event before it. Realtime nodes keep the
-- recent ones in memory and load them from here when they start, so a Redis
-- restart or a node crash loses nothing that committed.

-- What the outbox needs for events: the exact progress answer an API write gave
-- (the invalidator publishes it as is), and the previous owner of a course given
-- to another instructor (who loses the right to see its learners' progress).
ALTER TABLE invalidation_outbox
    ADD COLUMN old_user_id uuid,
    ADD COLUMN payload jsonb;

CREATE TABLE realtime_sequence (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- Names this database's numbering: a recreated database starts another, so a
    -- client's offset from the old one is unknown rather than wrong.
    epoch     text NOT NULL DEFAULT substr(md5(gen_random_uuid()::text), 1, 8)
              CHECK (epoch ~ '^[0-9a-f]{8}$'),
    last_seq  bigint NOT NULL DEFAULT 0 CHECK (last_seq >= 0)
);
INSERT INTO realtime_sequence DEFAULT VALUES;

CREATE TABLE realtime_events (
    seq        bigint PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('progress', 'course', 'access', 'course_removed', 'rights_reset')),
    -- progress: the learner; access: the user whose rights changed
    user_id    uuid,
    -- progress, course, course_removed: the course
    course_id  uuid,
    -- the message as published (offset included, no trace context)
    body       text NOT NULL,
    -- clock_timestamp() under the sequence lock: increases with seq
    created_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX realtime_events_created_idx ON realtime_events (created_at);

-- One more id per record: the user an UPDATE moved a row away from.
CREATE FUNCTION skillup_outbox_record(
    p_entity text, p_op text, p_entity_id uuid, p_course_id uuid, p_old_course_id uuid,
    p_user_id uuid, p_old_user_id uuid
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invalidation_outbox (entity, op, entity_id, course_id, old_course_id, user_id, old_user_id)
    VALUES (p_entity, p_op, p_entity_id, p_course_id, NULLIF(p_old_course_id, p_course_id),
            p_user_id, NULLIF(p_old_user_id, p_user_id));
    PERFORM pg_notify('skillup_invalidations', '');
END;
$$;

CREATE OR REPLACE FUNCTION skillup_outbox_record(
    p_entity text, p_op text, p_entity_id uuid, p_course_id uuid, p_old_course_id uuid, p_user_id uuid
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM skillup_outbox_record(p_entity, p_op, p_entity_id, p_course_id, p_old_course_id, p_user_id, NULL);
END;
$$;

-- A course record now names its instructor (user_id) and, when it changed, the
-- previous one (old_user_id).
CREATE OR REPLACE FUNCTION skillup_outbox_courses() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM skillup_outbox_record('course', TG_OP, OLD.id, OLD.id, NULL, OLD.instructor_id, NULL);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM skillup_outbox_record('course', TG_OP, NEW.id, NEW.id, OLD.id, NEW.instructor_id, OLD.instructor_id);
    ELSE
        PERFORM skillup_outbox_record('course', TG_OP, NEW.id, NEW.id, NULL, NEW.instructor_id, NULL);
    END IF;
    RETURN NULL;
END;
$$;

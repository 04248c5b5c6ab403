-- Writers wake the invalidator only while it sleeps.
--
-- A transaction that has issued NOTIFY takes a database-wide lock while it
-- commits, so every commit that notifies runs one at a time: with a NOTIFY per
-- change, 16 concurrent writers of lesson_progress reached a fifth of the
-- throughput they have without the outbox (scripts/bench-writes.sh). A busy
-- invalidator needs no wake-up: it polls every few milliseconds while records keep
-- coming. It says when it goes to sleep (armed = true) and when it wakes; triggers
-- notify only while it is armed. The table is the truth and NOTIFY a hint, as
-- before: a wake-up lost in the moment of arming is bounded by the invalidator's
-- short polls after arming and, beyond them, its poll interval.

CREATE TABLE invalidator_wakeup (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    -- true: an invalidator sleeps until notified (also the state with none running,
    -- so writers behave as before this migration until one runs)
    armed     boolean NOT NULL DEFAULT true
);
INSERT INTO invalidator_wakeup DEFAULT VALUES;

CREATE OR REPLACE FUNCTION skillup_outbox_record(
    p_entity text, p_op text, p_entity_id uuid, p_course_id uuid, p_old_course_id uuid,
    p_user_id uuid, p_old_user_id uuid
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invalidation_outbox (entity, op, entity_id, course_id, old_course_id, user_id, old_user_id)
    VALUES (p_entity, p_op, p_entity_id, p_course_id, NULLIF(p_old_course_id, p_course_id),
            p_user_id, NULLIF(p_old_user_id, p_user_id));
    IF (SELECT armed FROM invalidator_wakeup) THEN
        PERFORM pg_notify('skillup_invalidations', '');
    END IF;
END;
$$;

-- The hottest table, written by every learner: one insert, no lookup. The course
-- of the lesson is read by the invalidator when it drains the record (a lesson
-- deleted meanwhile has no event to announce anyway).
CREATE OR REPLACE FUNCTION skillup_outbox_lesson_progress() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    INSERT INTO invalidation_outbox (entity, op, entity_id, user_id)
    VALUES ('lesson_progress', TG_OP, r.lesson_id, r.user_id);
    IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
        INSERT INTO invalidation_outbox (entity, op, entity_id, user_id)
        VALUES ('lesson_progress', TG_OP, OLD.lesson_id, OLD.user_id);
    END IF;
    IF (SELECT armed FROM invalidator_wakeup) THEN
        PERFORM pg_notify('skillup_invalidations', '');
    END IF;
    RETURN NULL;
END;
$$;

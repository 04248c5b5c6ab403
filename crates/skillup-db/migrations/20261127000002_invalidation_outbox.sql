-- The durable invalidation outbox. A trigger on every table writes one record per
-- changed row in the writer's own transaction and sends NOTIFY skillup_invalidations
-- (a wake-up hint: the table is the truth). Because the record commits or rolls back
-- with the change, a change made by any writer (the API, psql, the Supabase
-- dashboard) reaches the invalidator, even one made while it was down.
--
-- A record names the entity and the ids the invalidator needs to map it to cache
-- keys, captured at write time: after a DELETE (or a cascade) the rows that would
-- let it look them up are gone.

CREATE TABLE invalidation_outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity        text NOT NULL CHECK (entity IN ('profile', 'course', 'module', 'lesson', 'enrollment', 'lesson_progress')),
    op            text NOT NULL CHECK (op IN ('INSERT', 'UPDATE', 'DELETE')),
    -- id of the changed row (null for the composite-key tables)
    entity_id     uuid,
    -- the course whose cached detail or listing this change affects (null if none)
    course_id     uuid,
    -- for an UPDATE that moved a row to another course: the course it left
    old_course_id uuid,
    -- the user whose cached snapshot this change affects (null if none)
    user_id       uuid,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    processed_at  timestamptz
);
-- The invalidator claims pending records in id order.
CREATE INDEX invalidation_outbox_pending_idx ON invalidation_outbox (id) WHERE processed_at IS NULL;

CREATE FUNCTION skillup_outbox_record(
    p_entity text, p_op text, p_entity_id uuid, p_course_id uuid, p_old_course_id uuid, p_user_id uuid
) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO invalidation_outbox (entity, op, entity_id, course_id, old_course_id, user_id)
    VALUES (p_entity, p_op, p_entity_id, p_course_id, NULLIF(p_old_course_id, p_course_id), p_user_id);
    -- Identical notifications in one transaction are folded into one by Postgres,
    -- so a bulk change sends a single wake-up.
    PERFORM pg_notify('skillup_invalidations', '');
END;
$$;

CREATE FUNCTION skillup_outbox_profiles() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    PERFORM skillup_outbox_record('profile', TG_OP, r.id, NULL, NULL, r.id);
    RETURN NULL;
END;
$$;

CREATE FUNCTION skillup_outbox_courses() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    PERFORM skillup_outbox_record('course', TG_OP, r.id, r.id, NULL, NULL);
    RETURN NULL;
END;
$$;

CREATE FUNCTION skillup_outbox_modules() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM skillup_outbox_record('module', TG_OP, OLD.id, OLD.course_id, NULL, NULL);
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM skillup_outbox_record('module', TG_OP, NEW.id, NEW.course_id, OLD.course_id, NULL);
    ELSE
        PERFORM skillup_outbox_record('module', TG_OP, NEW.id, NEW.course_id, NULL, NULL);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION skillup_outbox_lessons() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE new_course uuid; old_course uuid;
BEGIN
    IF TG_OP <> 'DELETE' THEN
        SELECT course_id INTO new_course FROM modules WHERE id = NEW.module_id;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        -- Null when the module itself is being deleted; its own record covers the course.
        SELECT course_id INTO old_course FROM modules WHERE id = OLD.module_id;
    END IF;
    IF TG_OP = 'DELETE' THEN
        PERFORM skillup_outbox_record('lesson', TG_OP, OLD.id, old_course, NULL, NULL);
    ELSE
        PERFORM skillup_outbox_record('lesson', TG_OP, NEW.id, new_course, old_course, NULL);
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION skillup_outbox_enrollments() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM skillup_outbox_record('enrollment', TG_OP, NULL, OLD.course_id, NULL, OLD.user_id);
    ELSE
        PERFORM skillup_outbox_record('enrollment', TG_OP, NULL, NEW.course_id,
            CASE WHEN TG_OP = 'UPDATE' THEN OLD.course_id END, NEW.user_id);
        IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
            PERFORM skillup_outbox_record('enrollment', TG_OP, NULL, OLD.course_id, NULL, OLD.user_id);
        END IF;
    END IF;
    RETURN NULL;
END;
$$;

CREATE FUNCTION skillup_outbox_lesson_progress() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE r record; course uuid;
BEGIN
    IF TG_OP = 'DELETE' THEN r := OLD; ELSE r := NEW; END IF;
    SELECT m.course_id INTO course FROM lessons l JOIN modules m ON m.id = l.module_id WHERE l.id = r.lesson_id;
    PERFORM skillup_outbox_record('lesson_progress', TG_OP, r.lesson_id, course, NULL, r.user_id);
    IF TG_OP = 'UPDATE' AND OLD.user_id <> NEW.user_id THEN
        PERFORM skillup_outbox_record('lesson_progress', TG_OP, OLD.lesson_id, course, NULL, OLD.user_id);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER profiles_outbox AFTER INSERT OR UPDATE OR DELETE ON profiles
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_profiles();
CREATE TRIGGER courses_outbox AFTER INSERT OR UPDATE OR DELETE ON courses
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_courses();
CREATE TRIGGER modules_outbox AFTER INSERT OR UPDATE OR DELETE ON modules
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_modules();
CREATE TRIGGER lessons_outbox AFTER INSERT OR UPDATE OR DELETE ON lessons
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_lessons();
CREATE TRIGGER enrollments_outbox AFTER INSERT OR UPDATE OR DELETE ON enrollments
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_enrollments();
CREATE TRIGGER lesson_progress_outbox AFTER INSERT OR UPDATE OR DELETE ON lesson_progress
    FOR EACH ROW EXECUTE FUNCTION skillup_outbox_lesson_progress();

-- TRUNCATE skips row triggers; a statement trigger still leaves a record so the
-- invalidator can drop everything the table fed.
CREATE FUNCTION skillup_outbox_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM skillup_outbox_record(TG_ARGV[0], 'DELETE', NULL, NULL, NULL, NULL);
    RETURN NULL;
END;
$$;
CREATE TRIGGER profiles_outbox_truncate AFTER TRUNCATE ON profiles FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('profile');
CREATE TRIGGER courses_outbox_truncate AFTER TRUNCATE ON courses FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('course');
CREATE TRIGGER modules_outbox_truncate AFTER TRUNCATE ON modules FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('module');
CREATE TRIGGER lessons_outbox_truncate AFTER TRUNCATE ON lessons FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('lesson');
CREATE TRIGGER enrollments_outbox_truncate AFTER TRUNCATE ON enrollments FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('enrollment');
CREATE TRIGGER lesson_progress_outbox_truncate AFTER TRUNCATE ON lesson_progress FOR EACH STATEMENT EXECUTE FUNCTION skillup_outbox_truncate('lesson_progress');

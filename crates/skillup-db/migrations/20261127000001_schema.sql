-- The SkillUp tables as the spec names them. Every column beyond the spec's has a
-- default, so a row holding only the spec's columns can be inserted by hand.

CREATE TABLE profiles (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email        text,
    display_name text NOT NULL DEFAULT '',
    role         text NOT NULL DEFAULT 'student' CHECK (role IN ('student', 'instructor', 'admin')),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE courses (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    slug          text NOT NULL CONSTRAINT courses_slug_key UNIQUE,
    title         text NOT NULL,
    description   text NOT NULL DEFAULT '',
    instructor_id uuid NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,
    published     boolean NOT NULL DEFAULT false,
    price_cents   integer NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- GET /api/courses: published, newest first, paged.
CREATE INDEX courses_published_listing_idx ON courses (created_at DESC, id DESC) WHERE published;
-- profile changes invalidate the courses a profile teaches; owner checks.
CREATE INDEX courses_instructor_idx ON courses (instructor_id);

CREATE TABLE modules (
    id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    course_id uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    position  integer NOT NULL,
    title     text NOT NULL
);
CREATE INDEX modules_course_idx ON modules (course_id, position);

CREATE TABLE lessons (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    module_id        uuid NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
    position         integer NOT NULL,
    title            text NOT NULL,
    duration_seconds integer NOT NULL DEFAULT 0 CHECK (duration_seconds >= 0)
);
CREATE INDEX lessons_module_idx ON lessons (module_id, position);

CREATE TABLE enrollments (
    user_id     uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    course_id   uuid NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, course_id)
);
-- enrollment_count and "who is enrolled in this course".
CREATE INDEX enrollments_course_idx ON enrollments (course_id);

CREATE TABLE lesson_progress (
    user_id      uuid NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,
    lesson_id    uuid NOT NULL REFERENCES lessons (id) ON DELETE CASCADE,
    completed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, lesson_id)
);
CREATE INDEX lesson_progress_lesson_idx ON lesson_progress (lesson_id);

-- updated_at follows every change to a course, whoever makes it.
CREATE FUNCTION skillup_touch_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
CREATE TRIGGER courses_touch_updated_at BEFORE UPDATE ON courses
    FOR EACH ROW EXECUTE FUNCTION skillup_touch_updated_at();

-- Catalogue search and filters (GET /api/courses?q=&instructor_id=&min_price_cents=
-- &max_price_cents=&sort=).
--
-- `search` is the course's text as a stored tsvector with English stemming
-- ("fermentation" matches "Fermentations"): the title weighted A, the description B,
-- so ts_rank_cd ranks a title match above a description match. Postgres keeps it
-- in step with every write, whoever the writer; the GIN index makes a search read
-- only the matching rows. Adding a stored generated column rewrites the table once.
ALTER TABLE courses ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('english', title), 'A') ||
    setweight(to_tsvector('english', description), 'B')
) STORED;
-- fastupdate off: course writes are rare and searches frequent, so each write
-- updates the index at once instead of queueing in GIN's pending list, which every
-- search scans linearly until a vacuum merges it (after a bulk load of 11,111
-- courses that made a search's count 3x slower and the planner pick a full scan;
-- docs/benchmarks.md, "Catalogue search").
CREATE INDEX courses_search_idx ON courses USING gin (search) WITH (fastupdate = off);

-- sort=price_asc / price_desc among published courses (a range filter on price
-- uses it too); sort=title.
CREATE INDEX courses_published_price_idx ON courses (price_cents, created_at DESC, id DESC) WHERE published;
CREATE INDEX courses_published_title_idx ON courses (title, id) WHERE published;

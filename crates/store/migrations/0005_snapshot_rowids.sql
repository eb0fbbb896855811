-- Snapshots move from a WITHOUT ROWID table to an ordinary one with a unique key. A
-- WITHOUT ROWID table keeps whole rows in its key's B-tree, which suits small rows; a
-- snapshot holds every field of a record, a kilobyte or more, and there every insert moved
-- large cells between pages. With a rowid the rows append to their own B-tree and the key
-- lives in a small index. Together with 16 KiB pages and a larger page cache (open.rs) it
-- took a 250,000-record initial load from about 15,700 to 23,000 records/s.
CREATE TABLE snapshots_by_rowid (
    id            INTEGER PRIMARY KEY,
    connection_id INTEGER NOT NULL REFERENCES connections (id),
    object        TEXT    NOT NULL COLLATE NOCASE,
    record_id     TEXT    NOT NULL,
    is_deleted    INTEGER NOT NULL,
    fields        TEXT    NOT NULL,
    UNIQUE (connection_id, object, record_id)
);

INSERT INTO snapshots_by_rowid (connection_id, object, record_id, is_deleted, fields)
SELECT connection_id, object, record_id, is_deleted, fields FROM snapshots;

DROP TABLE snapshots;

ALTER TABLE snapshots_by_rowid RENAME TO snapshots;

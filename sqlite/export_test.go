package sqlite

import "database/sql"

// SetSchemaVersionForTest records a migration of the given version, as a
// newer Herald would have.
func SetSchemaVersionForTest(path string, version int64) error {
	db, err := sql.Open("sqlite", dsn(path, nil, ""))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (?, 1)`, version)
	return err
}

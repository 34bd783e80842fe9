package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkWritable says plainly when the data directory, or the database in
// it, cannot be written, before SQLite says "unable to open database file
// (14)" or "attempt to write a readonly database (8)", which name neither
// the file nor the cause. database is empty when the data is elsewhere.
func checkWritable(dir, database string) error {
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("the data directory %s cannot be written (%w): Herald keeps its database and uploaded content there; give it a writable directory (--data)", dir, err)
	}
	f.Close()
	os.Remove(f.Name())
	if database == "" {
		return nil
	}
	db, err := os.OpenFile(database, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("the database %s cannot be written (%w): Herald writes to it on every start; make it writable, or start on another data directory (--data)", filepath.Clean(database), err)
	}
	return db.Close()
}

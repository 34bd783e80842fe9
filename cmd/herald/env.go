package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx", to look before migrating
	"github.com/spf13/cobra"
)

// envProblem is an environment value a flag's default comes from that does
// not parse: the command whose flag it is fails with it, unless the flag
// was given (it then wins over the environment).
type envProblem struct {
	flag string
	err  error
}

// envProblems are the problems of each command's flags.
var envProblems = map[*cobra.Command][]envProblem{}

func badEnv(cmd *cobra.Command, flag, name, value, want string) {
	envProblems[cmd] = append(envProblems[cmd], envProblem{flag,
		fmt.Errorf("the environment variable %s=%q is not %s; fix it or unset it (or give --%s)", name, value, want, flag)})
}

// checkEnv returns the first problem of the flags of cmd and its parents
// that the command line did not override.
func checkEnv(cmd *cobra.Command) error {
	for c := cmd; c != nil; c = c.Parent() {
		for _, p := range envProblems[c] {
			if f := cmd.Flags().Lookup(p.flag); f == nil || !f.Changed {
				return p.err
			}
		}
	}
	return nil
}

// envDuration, envInt, envFloat and envBool read a flag's default from the
// environment, recording a value that does not parse.
func envDuration(cmd *cobra.Command, flag, name string, def time.Duration) time.Duration {
	v := env(name, "")
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		badEnv(cmd, flag, name, v, "a duration such as 30s, 5m or 720h")
		return def
	}
	return d
}

func envInt(cmd *cobra.Command, flag, name string, def int) int {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		badEnv(cmd, flag, name, v, "a whole number")
		return def
	}
	return n
}

func envFloat(cmd *cobra.Command, flag, name string, def float64) float64 {
	v := env(name, "")
	if v == "" {
		return def
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil {
		badEnv(cmd, flag, name, v, "a number")
		return def
	}
	return n
}

func envBool(cmd *cobra.Command, flag, name string) bool {
	v := env(name, "")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		badEnv(cmd, flag, name, v, "true or false")
		return false
	}
	return b
}

// checkServerURL accepts the root URL of a Herald server.
func checkServerURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		return fmt.Errorf("--server (env HERALD_SERVER): %q is not the root URL of a Herald server, such as http://127.0.0.1:8080", v)
	}
	return nil
}

// checkExists refuses data that is not there, so that a mistyped --data or
// --db, or a command run in another directory, says so rather than create
// an empty database and answer from it.
func (c *config) checkExists(ctx context.Context) error {
	if c.db == "" {
		database := filepath.Join(c.data, "herald.db")
		if _, err := os.Stat(database); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("no Herald database at %s (--data, env HERALD_DATA): give the data directory of your installation, "+
				"or create one with herald migrate --data %s (herald serve creates it too)", database, c.data)
		} else if err != nil {
			return err
		}
		return nil
	}
	if !isPostgresURL(c.db) {
		return nil // openStore says what is wrong with it
	}
	db, err := sql.Open("pgx", c.db)
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	defer db.Close()
	var migrated bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL`).Scan(&migrated); err != nil {
		return fmt.Errorf("opening the database of --db (env HERALD_DB): %w", err)
	}
	if !migrated {
		return fmt.Errorf("the database of --db (env HERALD_DB) has no Herald schema: give the database of your installation, " +
			"or create the schema with herald migrate --db URL (herald serve creates it too)")
	}
	return nil
}

// schemaVersion is the version of the database's schema: 0 when there is
// no database or no schema yet. It reads without creating anything.
func (c *config) schemaVersion(ctx context.Context) (int64, error) {
	driver, source := "pgx", c.db
	if c.db == "" {
		source = filepath.Join(c.data, "herald.db")
		if _, err := os.Stat(source); errors.Is(err, fs.ErrNotExist) {
			return 0, nil
		}
		driver, source = "sqlite", "file:"+source+"?mode=ro"
	} else if !isPostgresURL(c.db) {
		return 0, nil // openStore says what is wrong with it
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var version int64
	err = db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version_id), 0) FROM goose_db_version WHERE is_applied`).Scan(&version)
	if err != nil && strings.Contains(err.Error(), "goose_db_version") {
		return 0, nil // no schema yet
	}
	return version, err
}

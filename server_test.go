package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Help never reads a setting nor touches the database: it prints on standard output and
// exits 0. A command line nothing understands prints the usage on standard error and
// exits 2, also before anything is opened.
func TestCommandLine(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "never.db")
	// Were a command run, it would create this file, or fail on the bad setting.
	t.Setenv("DATABASE_URL", "sqlite://"+db)
	t.Setenv("LOG_LEVEL", "not-a-level")
	for _, tc := range []struct {
		args     []string
		code     int
		stdout   string // a line the output must contain ("" for none)
		stderr   string
		noStdout bool
	}{
		{args: []string{"--help"}, code: 0, stdout: "Usage: xiadan [command]"},
		{args: []string{"-h"}, code: 0, stdout: "Usage: xiadan [command]"},
		{args: []string{"-help"}, code: 0, stdout: "Usage: xiadan [command]"},
		{args: []string{"help"}, code: 0, stdout: "Usage: xiadan [command]"},
		{args: []string{"help", "seed"}, code: 0, stdout: "Usage: xiadan seed"},
		{args: []string{"serve", "--help"}, code: 0, stdout: "Usage: xiadan serve"},
		{args: []string{"serve", "-h"}, code: 0, stdout: "Usage: xiadan serve"},
		{args: []string{"migrate", "--help"}, code: 0, stdout: "Usage: xiadan migrate"},
		{args: []string{"seed", "--help"}, code: 0, stdout: "--if-empty"},
		{args: []string{"seed", "--scale", "10", "-h"}, code: 0, stdout: "Usage: xiadan seed"},
		{args: []string{"admin", "--help"}, code: 0, stdout: "Usage: xiadan admin create"},
		{args: []string{"admin", "create", "--help"}, code: 0, stdout: "--password-stdin"},
		{args: []string{"search", "--help"}, code: 0, stdout: "Usage: xiadan search reindex"},
		{args: []string{"search"}, code: 2, stderr: "search reindex", noStdout: true},
		{args: []string{"search", "rebuild"}, code: 2, stderr: "search reindex", noStdout: true},
		{args: []string{"--verbose"}, code: 2, stderr: `unknown flag "--verbose"`, noStdout: true},
		{args: []string{"srve"}, code: 2, stderr: `unknown command "srve"`, noStdout: true},
		{args: []string{"help", "srve"}, code: 2, stderr: `unknown command "srve"`, noStdout: true},
		{args: []string{"migrate", "now"}, code: 2, stderr: `migrate takes no arguments`, noStdout: true},
		{args: []string{"serve", "--port", "9090"}, code: 2, stderr: "Usage: xiadan serve", noStdout: true},
		{args: []string{"seed", "--scale", "many"}, code: 2, stderr: "Usage: xiadan seed", noStdout: true},
		{args: []string{"seed", "--sclae", "3"}, code: 2, stderr: "flag provided but not defined: -sclae", noStdout: true},
		{args: []string{"seed", "extra"}, code: 2, stderr: `unexpected argument "extra"`, noStdout: true},
		{args: []string{"admin"}, code: 2, stderr: "admin create", noStdout: true},
		{args: []string{"admin", "create", "--email", "a@example.com"}, code: 2, stderr: "--password-stdin", noStdout: true},
		{args: []string{"backup", "--help"}, code: 0, stdout: "Usage: xiadan backup FILE"},
		{args: []string{"backup"}, code: 2, stderr: "backup needs one argument", noStdout: true},
		{args: []string{"restore", "a.sql", "b.sql"}, code: 2, stderr: "restore needs one argument", noStdout: true},
		{args: []string{"summary", "now"}, code: 2, stderr: "summary takes no arguments", noStdout: true},
		// A runnable command reads the settings: the bad one is reported, exit status 1.
		{args: []string{"migrate"}, code: 1, stderr: "LOG_LEVEL", noStdout: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := cli(tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit status %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, &stdout, &stderr)
			}
			if !strings.Contains(stdout.String(), tc.stdout) || !strings.Contains(stderr.String(), tc.stderr) {
				t.Fatalf("stdout: %s\nstderr: %s", &stdout, &stderr)
			}
			if tc.code == 0 && stderr.Len() > 0 || tc.noStdout && stdout.Len() > 0 {
				t.Fatalf("wrong stream:\nstdout: %s\nstderr: %s", &stdout, &stderr)
			}
		})
	}
	if _, err := os.Stat(db); !os.IsNotExist(err) {
		t.Fatalf("a help or usage error touched the database: %v", err)
	}
}

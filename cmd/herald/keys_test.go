package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeysCommands(t *testing.T) {
	flags := []string{"--data", t.TempDir()}
	var app struct {
		AppID string `json:"app_id"`
	}
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "apps", "create", "--json", "shop")...)), &app); err != nil {
		t.Fatal(err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	file := filepath.Join(t.TempDir(), "provider.pub")
	if err := os.WriteFile(file, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	type keyOut struct {
		ID         string `json:"id"`
		ProviderID string `json:"provider_id"`
		PublicKey  string `json:"public_key"`
	}
	var added keyOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "keys", "add", app.AppID, file)...)), &added); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(added.ID, "layer:///keys/") || !strings.HasPrefix(added.ProviderID, "layer:///providers/") ||
		!strings.Contains(added.PublicKey, "BEGIN PUBLIC KEY") {
		t.Fatalf("keys add printed %+v", added)
	}
	var listed []keyOut
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "keys", "list", app.AppID)...)), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || listed[0] != added {
		t.Fatalf("keys list printed %+v, want the added key", listed)
	}
	if out := heraldFails(t, append(flags, "keys", "add", app.AppID, os.Args[0])...); !strings.Contains(out, "PEM") {
		t.Fatalf("keys add with a file that is no key said %q", out)
	}
	runHerald(t, append(flags, "keys", "delete", app.AppID, added.ID)...)
	if err := json.Unmarshal([]byte(runHerald(t, append(flags, "keys", "list", app.AppID)...)), &listed); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 0 {
		t.Fatalf("keys list after delete printed %+v", listed)
	}
	if out := heraldFails(t, append(flags, "keys", "delete", app.AppID, added.ID)...); !strings.Contains(out, "not_found") && !strings.Contains(out, "No identity_key") {
		t.Fatalf("deleting again said %q", out)
	}
}

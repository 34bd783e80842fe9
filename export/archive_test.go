package export_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/export"
)

func newKey(t *testing.T, bits int) (*rsa.PrivateKey, string) {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return priv, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

func TestParsePublicKey(t *testing.T) {
	priv, canonical := newKey(t, 2048)
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&priv.PublicKey)}))
	oneLine := strings.ReplaceAll(canonical, "\n", "")
	body := strings.TrimSuffix(strings.TrimPrefix(oneLine, "-----BEGIN PUBLIC KEY-----"), "-----END PUBLIC KEY-----")
	for name, text := range map[string]string{
		"PKIX PEM":                   canonical,
		"PKCS #1 PEM":                pkcs1,
		"PEM without line breaks":    oneLine,
		"bare base64, as Layer's UI": body,
		"PEM with spaces around":     "\n  " + canonical + "  \n",
	} {
		pub, got, err := export.ParsePublicKey(text)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if got != canonical || !pub.Equal(&priv.PublicKey) {
			t.Errorf("%s: parsed as\n%s", name, got)
		}
	}

	_, small := newKey(t, 1024)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{
		"empty":            " ",
		"not base64":       "-----BEGIN PUBLIC KEY-----not a key-----END PUBLIC KEY-----",
		"a private key":    string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})),
		"a 1024-bit key":   small,
		"random base64":    base64.StdEncoding.EncodeToString([]byte("hello, world")),
		"an EC key":        string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER})),
		"a cut-off armour": "-----BEGIN PUBLIC KEY-----" + body,
	} {
		if _, _, err := export.ParsePublicKey(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestArchiveOpensWithLayersCommands builds an archive and opens it with
// the commands of Layer's docs ("Decrypting Export Archives"), which
// GetStream/layer-migration's readme repeats: openssl rsautl for the key,
// openssl enc -aes-256-cbc for the archive, tar for export.json.
func TestArchiveOpensWithLayersCommands(t *testing.T) {
	for _, tool := range []string{"openssl", "tar", "base64", "hexdump", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	priv, pub := newKey(t, 2048)
	keyPath := filepath.Join(dir, "layer-export-key.pem")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}), 0o600); err != nil {
		t.Fatal(err)
	}
	key, _, err := export.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	// Sizes on both sides of the AES block and of tar's 512-byte records.
	for _, size := range []int{0, 1, 15, 16, 17, 511, 512, 513, 100_000} {
		content := make([]byte, size)
		for i := range content {
			content[i] = "[{}]\n\"abc"[i%9]
		}
		a, err := export.Build(dir, key, time.Now(), func(w io.Writer) error {
			_, err := w.Write(content)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if info, err := a.File.Stat(); err != nil || info.Size() != a.Size || a.Size%16 != 0 {
			t.Fatalf("archive of %d bytes: file %v, %v; Size %d", size, info, err, a.Size)
		}
		enc := filepath.Join(dir, "download.tar.gz.enc")
		f, err := os.Create(enc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(f, a.File); err != nil {
			t.Fatal(err)
		}
		f.Close()
		a.Close()
		if _, err := os.Stat(a.File.Name()); !os.IsNotExist(err) {
			t.Fatalf("Close left the archive's file: %v", err)
		}
		out := filepath.Join(dir, "out")
		os.RemoveAll(out)
		os.Mkdir(out, 0o755)
		script := `set -e
openssl enc -in "$ENCRYPTED_TARBALL" -out "$OUTPUT_TAR" -d -aes-256-cbc -K ` +
			"`echo $ENCRYPTED_AES_KEY | base64 --decode | openssl rsautl -decrypt -inkey $PRIVATE_KEY_PATH | hexdump -ve '1/1 \"%.2x\"'`" +
			` -iv ` + "`echo $AES_IV | base64 --decode | hexdump -ve '1/1 \"%.2x\"'`" + `
cd "$OUT" && tar -xzf "$OUTPUT_TAR"`
		cmd := exec.Command("sh", "-c", script)
		cmd.Env = append(os.Environ(), "ENCRYPTED_TARBALL="+enc, "OUTPUT_TAR="+filepath.Join(dir, "export.tar.gz"),
			"PRIVATE_KEY_PATH="+keyPath, "ENCRYPTED_AES_KEY="+a.EncryptedAESKey, "AES_IV="+a.AESIV, "OUT="+out)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("archive of %d bytes: Layer's commands failed: %v\n%s", size, err, msg)
		}
		entries, _ := os.ReadDir(out)
		if len(entries) != 1 || entries[0].Name() != export.FileName {
			t.Fatalf("archive of %d bytes holds %v, want export.json alone", size, entries)
		}
		got, err := os.ReadFile(filepath.Join(out, export.FileName))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(content) {
			t.Fatalf("archive of %d bytes: export.json has %d bytes, not those written", size, len(got))
		}
	}
}

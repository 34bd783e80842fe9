// Package export writes Herald's data exports in the form Layer gave its
// own (platform/data/export.md, "Decrypting Export Archives"; docs.layer.com
// server_api data.out): a gzipped tarball holding one file, export.json,
// encrypted with AES-256 in CBC mode under a random key and IV. The key is
// encrypted with the app's RSA public key; the export object carries it as
// encrypted_aes_key, and the IV as aes_iv, both base64. The archive opens
// with the very commands of Layer's docs, which GetStream/layer-migration
// repeats in its readme:
//
//	openssl enc -in ARCHIVE -out export.tar.gz -d -aes-256-cbc \
//	  -K `echo $ENCRYPTED_AES_KEY | base64 --decode | openssl rsautl -decrypt -inkey KEY.pem | hexdump -ve '1/1 "%.2x"'` \
//	  -iv `echo $AES_IV | base64 --decode | hexdump -ve '1/1 "%.2x"'`
//	tar -xzf export.tar.gz   # export.json
//
// So the key is wrapped with RSA PKCS #1 v1.5 (rsautl's default padding),
// and the archive padded as PKCS #7 (enc's default).
package export

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// FileName is the one file of an archive.
const FileName = "export.json"

// MinKeyBits is the smallest RSA key Layer accepted: "All export archives
// must be secured with RSA encryption using a key size of at least 2048
// bits."
const MinKeyBits = 2048

// ParsePublicKey reads an RSA public key of at least MinKeyBits and returns
// it with its canonical PEM ("PUBLIC KEY", PKIX). It takes a PEM block of
// either PKIX or PKCS #1 form, as `openssl rsa -pubout` and `openssl rsa
// -RSAPublicKey_out` write them, and, as Layer's own examples show them,
// the same with its line breaks lost ("-----BEGIN PUBLIC KEY-----MII...")
// or the bare base64 of the key without its armour.
func ParsePublicKey(text string) (*rsa.PublicKey, string, error) {
	der, err := keyDER(text)
	if err != nil {
		return nil, "", err
	}
	var pub *rsa.PublicKey
	if k, err := x509.ParsePKIXPublicKey(der); err == nil {
		rk, ok := k.(*rsa.PublicKey)
		if !ok {
			return nil, "", fmt.Errorf("the key is a %T, not an RSA key", k)
		}
		pub = rk
	} else if rk, err := x509.ParsePKCS1PublicKey(der); err == nil {
		pub = rk
	} else {
		return nil, "", errors.New("the key is neither a PKIX nor a PKCS #1 RSA public key")
	}
	if bits := pub.N.BitLen(); bits < MinKeyBits {
		return nil, "", fmt.Errorf("the key has %d bits; at least %d are required", bits, MinKeyBits)
	}
	der, err = x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, "", err
	}
	return pub, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), nil
}

// keyDER returns the DER bytes of a key's text, armoured or not.
func keyDER(text string) ([]byte, error) {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil, errors.New("the key is empty")
	}
	if strings.HasPrefix(text, "-----BEGIN ") {
		if block, _ := pem.Decode([]byte(text)); block != nil {
			if block.Type != "PUBLIC KEY" && block.Type != "RSA PUBLIC KEY" {
				return nil, fmt.Errorf("the PEM block is a %q, not a public key", block.Type)
			}
			return block.Bytes, nil
		}
		// Armour whose line breaks were lost: strip it, keep the base64.
		var ok bool
		for _, typ := range []string{"PUBLIC KEY", "RSA PUBLIC KEY"} {
			begin, end := "-----BEGIN "+typ+"-----", "-----END "+typ+"-----"
			if inner, found := strings.CutPrefix(text, begin); found {
				if text, ok = strings.CutSuffix(inner, end); ok {
					break
				}
			}
		}
		if !ok {
			return nil, errors.New("the PEM armour is not that of a public key")
		}
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(text), ""))
	if err != nil {
		return nil, errors.New("the key is not PEM, nor base64")
	}
	return der, nil
}

// Archive is an encrypted archive, written to a temporary file.
type Archive struct {
	// File holds the encrypted archive, positioned at its start.
	File *os.File
	Size int64
	// EncryptedAESKey and AESIV are the base64 of the AES key, encrypted
	// with the public key, and of the IV.
	EncryptedAESKey string
	AESIV           string
}

// Close removes the archive's file.
func (a *Archive) Close() error {
	a.File.Close()
	return os.Remove(a.File.Name())
}

// Build writes an archive in dir ("": the system's temporary directory):
// body writes export.json, which is kept in a temporary file of its own
// while being written, because a tar header gives a file's size before its
// bytes; neither file is ever held in memory. modTime is export.json's time
// in the tarball.
func Build(dir string, pub *rsa.PublicKey, modTime time.Time, body func(w io.Writer) error) (_ *Archive, err error) {
	plain, err := os.CreateTemp(dir, "export-*.json")
	if err != nil {
		return nil, err
	}
	defer os.Remove(plain.Name())
	defer plain.Close()
	buf := bufio.NewWriterSize(plain, 64<<10)
	if err := body(buf); err != nil {
		return nil, err
	}
	if err := buf.Flush(); err != nil {
		return nil, err
	}
	size, err := plain.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, err
	}
	if _, err := plain.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}

	key, iv := make([]byte, 32), make([]byte, aes.BlockSize)
	rand.Read(key)
	rand.Read(iv)
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, pub, key)
	if err != nil {
		return nil, fmt.Errorf("export: encrypting the AES key: %w", err)
	}
	out, err := os.CreateTemp(dir, "export-*.tar.gz.enc")
	if err != nil {
		return nil, err
	}
	a := &Archive{File: out, EncryptedAESKey: base64.StdEncoding.EncodeToString(wrapped),
		AESIV: base64.StdEncoding.EncodeToString(iv)}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	block, _ := aes.NewCipher(key)
	enc := &cbcWriter{w: bufio.NewWriterSize(out, 64<<10), mode: cipher.NewCBCEncrypter(block, iv)}
	zw := gzip.NewWriter(enc)
	tw := tar.NewWriter(zw)
	hdr := &tar.Header{Name: FileName, Mode: 0o644, Size: size, ModTime: modTime.UTC().Truncate(time.Second),
		Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := io.Copy(tw, plain); err != nil {
		return nil, err
	}
	for _, c := range []io.Closer{tw, zw, enc} {
		if err := c.Close(); err != nil {
			return nil, err
		}
	}
	if err := out.Sync(); err != nil {
		return nil, err
	}
	if a.Size, err = out.Seek(0, io.SeekCurrent); err != nil {
		return nil, err
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return a, nil
}

// cbcWriter encrypts what it is given in CBC mode, holding back the bytes of
// an incomplete block, and pads the last block as PKCS #7 on Close.
type cbcWriter struct {
	w       *bufio.Writer
	mode    cipher.BlockMode
	pending []byte
	chunk   []byte
}

func (c *cbcWriter) Write(p []byte) (int, error) {
	n := len(p)
	c.pending = append(c.pending, p...)
	whole := len(c.pending) - len(c.pending)%aes.BlockSize
	if whole == 0 {
		return n, nil
	}
	if cap(c.chunk) < whole {
		c.chunk = make([]byte, whole)
	}
	out := c.chunk[:whole]
	c.mode.CryptBlocks(out, c.pending[:whole])
	if _, err := c.w.Write(out); err != nil {
		return 0, err
	}
	c.pending = append(c.pending[:0], c.pending[whole:]...)
	return n, nil
}

func (c *cbcWriter) Close() error {
	pad := aes.BlockSize - len(c.pending)
	for range pad {
		c.pending = append(c.pending, byte(pad))
	}
	last := make([]byte, aes.BlockSize)
	c.mode.CryptBlocks(last, c.pending)
	c.pending = c.pending[:0]
	if _, err := c.w.Write(last); err != nil {
		return err
	}
	return c.w.Flush()
}
